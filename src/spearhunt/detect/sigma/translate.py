"""Turn the bytes of a Sigma rule file into compiled rules, with PyYAML and pySigma.

This is the only module of the rule compiler that imports pySigma (~0.2 s to import);
``compiler`` imports it when a file is not in the cache, so a warm run never pays for it.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.modifiers import SigmaWideModifier, modifier_mapping
from sigma.rule import SigmaRule

from spearhunt.detect.sigma import ir
from spearhunt.detect.sigma.backend import IRBackend
from spearhunt.detect.sigma.compiled import CompiledRule, FileResult, RuleProblem
from spearhunt.detect.sigma.pipelines import variants_for
from spearhunt.model import RuleInfo

# The Sigma specification names 'utf16le' as a synonym of 'wide'; pySigma 1.5 only knows 'wide'.
modifier_mapping.setdefault("utf16le", SigmaWideModifier)

try:  # libyaml is ~6x faster than the pure-Python loader on 2.4k rules
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

MAX_RULE_BYTES = 4 * 1024 * 1024  # a rule file larger than this is refused, not parsed


def _info(rule: SigmaRule, source: str) -> RuleInfo:
    return RuleInfo(
        rule_id=str(rule.id or rule.name or source),
        title=str(rule.title or ""),
        level=rule.level.name.lower() if rule.level else "informational",
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags),
        source=source,
        status=rule.status.name.lower() if rule.status else "",
        description=str(rule.description or ""),
        author=str(rule.author or ""),
        falsepositives=tuple(str(f) for f in (rule.falsepositives or [])),
    )


def _collection(docs: list[Any], source: str) -> SigmaCollection:
    return SigmaCollection.from_dicts(copy.deepcopy(docs), collect_errors=True)


def compile_documents(
    docs: list[Any], source: str, placeholders: Mapping[str, Sequence[str]]
) -> FileResult:
    """Compile the YAML documents of one rule file."""
    result = FileResult()
    base = _collection(docs, source)
    for problem in base.errors:
        result.problems.append(RuleProblem(source, f"{problem}", kind="error"))
    for index, rule in enumerate(base.rules):
        if isinstance(rule, SigmaCorrelationRule):
            result.correlations.append(docs[index] if index < len(docs) else {})
            continue
        if not isinstance(rule, SigmaRule):
            continue
        if rule.errors:
            result.problems.append(
                RuleProblem(
                    source,
                    "; ".join(str(e) for e in rule.errors),
                    str(rule.id or ""),
                    str(rule.title or ""),
                )
            )
            continue
        info = _info(rule, source)
        if not getattr(rule, "_output", True):
            info = dataclasses.replace(info, output=False)
        ls = rule.logsource
        trees: list[tuple[str, ir.Node]] = []
        reasons: list[str] = []
        for variant in variants_for(ls.category, placeholders):
            fresh = _collection(docs, source).rules[index]
            # A correlation with 'generate: false' disables its base rules' output in pySigma;
            # the engine must still match them, or the correlation has nothing to count.
            # Their own alerts are kept in the case store but left out of hunt's output.
            fresh._output = True
            backend = IRBackend(processing_pipeline=variant.pipeline)
            try:
                converted = backend.convert_rule(fresh)  # type: ignore[arg-type]
            except SigmaError as exc:
                reasons.append(f"{variant.name}: {exc}")
                continue
            except Exception as exc:  # pySigma bug on one rule must not stop the others
                reasons.append(f"{variant.name}: internal error {type(exc).__name__}: {exc}")
                continue
            tree = ir.or_(*converted) if converted else ir.FALSE
            trees.append((variant.name, tree))
        if not trees:
            kind = (
                "unsupported"
                if any("not supported" in r or "placeholder" in r for r in reasons)
                else "error"
            )
            result.problems.append(
                RuleProblem(source, "; ".join(reasons), info.rule_id, info.title, kind)
            )
            continue
        result.rules.append(CompiledRule(info, tuple(trees), (ls.product, ls.category, ls.service)))
    return result


def load_yaml(path: Path) -> list[Any]:
    """The YAML documents of a rule file (bounded in size, safe loader only)."""
    size = path.stat().st_size
    if size > MAX_RULE_BYTES:
        raise ValueError(f"rule file is {size} bytes, more than the {MAX_RULE_BYTES} allowed")
    return [d for d in yaml.load_all(path.read_bytes(), Loader=_Loader) if d is not None]


def compile_bytes(
    data: bytes, source: str, placeholders: Mapping[str, Sequence[str]]
) -> FileResult:
    """Compile the text of one rule file (a bad rule becomes a problem, never an exception)."""
    if len(data) > MAX_RULE_BYTES:
        return FileResult(problems=[RuleProblem(source, "rule file too large")])
    try:
        docs = [d for d in yaml.load_all(data, Loader=_Loader) if d is not None]
    except yaml.YAMLError as exc:
        return FileResult(problems=[RuleProblem(source, f"invalid YAML: {exc}")])
    if not docs or not all(isinstance(d, dict) for d in docs):
        return FileResult(
            problems=[RuleProblem(source, "not a Sigma rule (no YAML mapping)", kind="skipped")]
        )
    try:
        return compile_documents(docs, source, placeholders)
    except SigmaError as exc:
        return FileResult(problems=[RuleProblem(source, str(exc))])
