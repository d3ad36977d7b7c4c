"""What compiling a rule file produces: rules ready for an engine, and the problems found.

Plain data, no pySigma: the rule cache rebuilds these without importing the compiler's
front end, and engines import them without paying for it either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spearhunt.detect.sigma import ir
from spearhunt.model import RuleInfo


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A Sigma rule ready for an engine: its metadata and one tree per logsource variant."""

    info: RuleInfo
    variants: tuple[tuple[str, ir.Node], ...]
    logsource: tuple[str | None, str | None, str | None] = (
        None,
        None,
        None,
    )  # product, category, service

    @property
    def logsource_name(self) -> str:
        """``product/category/service`` as the rule states it, for messages."""
        return "/".join(x for x in self.logsource if x) or "(none)"


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """A rule (or rule file) that cannot run, and why."""

    source: str
    reason: str
    rule_id: str = ""
    title: str = ""
    kind: str = "error"  # error: broken rule; unsupported: valid Sigma we cannot run; skipped


@dataclass
class FileResult:
    """What one rule file compiled to."""

    rules: list[CompiledRule] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    correlations: list[dict[str, Any]] = field(default_factory=list)  # raw correlation docs
