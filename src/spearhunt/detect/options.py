"""What a hunt is asked (``HuntOptions``) and what it answers (``HuntSummary``), whichever
engine runs it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from spearhunt.detect.sigma.compiler import RuleProblem
from spearhunt.model import Detection, IngestWarning
from spearhunt.model.detection import LEVEL_RANK, RuleInfo


@dataclass
class HuntOptions:
    """What the user asked for."""

    paths: Sequence[str]
    rules: Sequence[Path] = ()
    with_pack: bool = True
    min_level: str = "informational"
    time_from: datetime | None = None
    time_to: datetime | None = None
    store: Path | None = None
    replace: bool = False  # re-read inputs the store holds already, in place of the earlier copy
    placeholders: Path | None = None
    use_cache: bool = True
    memory_limit: str = "auto"
    threads: int | None = None
    command: str = "hunt"
    engine: str = "duckdb"  # or "spark" (detect.hunt_spark)
    spark_master: str | None = None
    spark_conf: Sequence[tuple[str, str]] = ()
    # Rule ids whose detections (output or not) the summary keeps, for the caller to evaluate
    # the Sigma correlation rules that reference them (``HuntSummary.kept``).
    keep: frozenset[str] = frozenset()
    # The event fields those rules read (None: whole events): a kept detection holds only
    # these, so a base rule that matches half the input does not hold half of it in Python.
    keep_fields: frozenset[str] | None = None
    time_offsets: Sequence[tuple[str, int]] = ()  # (source glob, seconds): --time-offset


class JsonSink(Protocol):
    """Takes detections as JSON texts (``DetectionWriter`` for json and jsonl)."""

    @property
    def json_frame(self) -> tuple[str, str]:
        """What goes before and after each text."""
        ...

    def write_json(self, data: bytes, count: int) -> None:
        """``count`` framed texts, back to back, in UTF-8."""
        ...


@dataclass
class HuntSummary:
    """What a hunt did and found, for the end-of-run summary and the JSON output."""

    files: int = 0
    files_failed: int = 0
    events: int = 0
    detections: int = 0
    rules_loaded: int = 0
    rules_cached: int = 0
    rules_not_run: list[RuleProblem] = field(default_factory=list)
    rules_failed: dict[str, str] = field(default_factory=dict)
    warnings: list[IngestWarning] = field(default_factory=list)
    by_host: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    seconds_rules_compile: float = 0.0
    engine: dict[str, Any] = field(default_factory=dict)
    store: str | None = None
    kept: list[Detection] = field(default_factory=list, repr=False)  # of ``HuntOptions.keep``
    # Sigma correlation rules evaluated over the run's detections, and their hits (JSON form),
    # filled by the caller that evaluates them (correlate/ runs after detect/).
    correlation_rules: int = 0
    correlations: list[dict[str, Any]] = field(default_factory=list)
    # id(rule) -> [rule, detections]; the tallies by level, tactic and rule are derived from it.
    _per_rule: dict[int, list[Any]] = field(default_factory=dict, repr=False)

    def count(self, d: Detection) -> None:
        """Add one detection to the tallies."""
        self.add(d.rule, d.computer, 1)

    def add(self, rule: RuleInfo, computer: str | None, n: int) -> None:
        """Add ``n`` detections of one rule on one host to the tallies."""
        self.detections += n
        self._per_rule.setdefault(id(rule), [rule, 0])[1] += n
        self.by_host[computer or "?"] += n

    @property
    def by_level(self) -> Counter[str]:
        """Detections by rule level."""
        out: Counter[str] = Counter()
        for rule, n in self._per_rule.values():
            out[rule.level] += n
        return out

    @property
    def by_tactic(self) -> Counter[str]:
        """Detections by ATT&CK tactic (a detection counts for each tactic of its rule)."""
        out: Counter[str] = Counter()
        for rule, n in self._per_rule.values():
            for t in rule.tactics:
                out[t] += n
        return out

    @property
    def by_rule(self) -> Counter[tuple[str, str, str]]:
        """Detections by (rule id, title, level)."""
        out: Counter[tuple[str, str, str]] = Counter()
        for rule, n in self._per_rule.values():
            out[(rule.rule_id, rule.title, rule.level)] += n
        return out

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        """The JSON form of the summary."""
        return {
            "files": self.files,
            "files_failed": self.files_failed,
            "events": self.events,
            "detections": self.detections,
            "events_per_second": round(self.events / self.seconds) if self.seconds else None,
            "seconds": round(self.seconds, 3),
            "rules": {
                "loaded": self.rules_loaded,
                "from_cache": self.rules_cached,
                "not_run": len(self.rules_not_run),
                "failed_at_run_time": len(self.rules_failed),
            },
            "by_level": dict(
                sorted(self.by_level.items(), key=lambda kv: -LEVEL_RANK.get(kv[0], 0))
            ),
            "by_tactic": dict(ranked(self.by_tactic)),
            "top_rules": [
                {"rule_id": r[0], "title": r[1], "level": r[2], "count": n}
                for r, n in ranked(self.by_rule)[:top]
            ],
            "top_hosts": [{"computer": h, "count": n} for h, n in ranked(self.by_host)[:top]],
            "warnings": len(self.warnings),
            "store": self.store,
            "correlations": {"rules": self.correlation_rules, "hits": self.correlations},
            "engine": self.engine,
        }


def ranked(counts: Counter[Any]) -> list[tuple[Any, int]]:
    """Most common first; ties by key, so the summary is the same run to run."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
