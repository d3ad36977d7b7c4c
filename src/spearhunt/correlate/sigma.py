"""Sigma correlation rules (specification v2) run over the stored detections.

Types: event_count, value_count, temporal and temporal_ordered, with group-by, timespan,
field aliases and generate. Rules are parsed with pySigma; the rules they reference are the
base rules the hunt ran (matched by rule id, or by the ``name`` of a rule in the same
folders). Windows slide as the specification says: a window of ``timespan`` ends at each
base match, and a match is reported once per run of overlapping windows, so two bursts
separated by a quiet gap are two matches.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import orjson
import yaml
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)
from sigma.exceptions import SigmaError

from spearhunt.correlate.facts import Alert, Facts
from spearhunt.errors import RuleError
from spearhunt.model.detection import Detection, attack_tactics, attack_techniques
from spearhunt.model.hosts import short_host
from spearhunt.model.story import CorrelationHit
from spearhunt.store import detections as det
from spearhunt.store.case import Case

log = logging.getLogger(__name__)
PACK = Path(__file__).resolve().parents[1] / "detect" / "sigma" / "pack"
_OPS = {
    "gte": lambda n, c: n >= c,
    "gt": lambda n, c: n > c,
    "lte": lambda n, c: n <= c,
    "lt": lambda n, c: n < c,
    "eq": lambda n, c: n == c,
    "neq": lambda n, c: n != c,
}


@dataclass(frozen=True, slots=True)
class CorrelationRule:
    """A parsed correlation rule with its references resolved to base-rule ids."""

    rule: SigmaCorrelationRule
    rule_id: str
    title: str
    level: str
    tags: tuple[str, ...]
    refs: tuple[tuple[str, tuple[str, ...]], ...]  # (reference as written, base rule ids)
    source: str


def _docs(path: Path) -> list[dict[str, Any]]:
    try:
        return [
            d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)
        ]
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RuleError(f"cannot read rule file: {exc}", where=str(path)) from exc


def parse_rules(docs: Sequence[tuple[dict[str, Any], str]]) -> list[CorrelationRule]:
    """Correlation rules among ``docs`` (each with its source), references resolved by id or name."""
    names: dict[str, set[str]] = defaultdict(set)
    for d, _ in docs:
        if "correlation" in d:
            continue
        rid = str(d.get("id", ""))
        if rid:
            names[rid].add(rid)
            if d.get("name"):
                names[str(d["name"])].add(rid)
            if d.get("title"):
                names[str(d["title"])].add(rid)
    out = []
    for d, source in docs:
        if "correlation" not in d:
            continue
        try:
            rule = SigmaCorrelationRule.from_dict(d)
        except SigmaError as exc:
            raise RuleError(f"invalid correlation rule: {exc}", where=source) from exc
        refs = []
        for ref in rule.rules or ():
            ids = tuple(sorted(names.get(ref.reference, set()) or {ref.reference}))
            refs.append((ref.reference, ids))
        rid = (
            str(rule.id)
            if rule.id
            else "corr-" + hashlib.sha1(str(d.get("title")).encode()).hexdigest()[:12]
        )
        level = rule.level.name.lower() if rule.level else "medium"
        tags = tuple(str(t) for t in (rule.tags or ()))
        out.append(CorrelationRule(rule, rid, rule.title or rid, level, tags, tuple(refs), source))
    return out


def load_correlation_rules(dirs: Sequence[Path], with_pack: bool = True) -> list[CorrelationRule]:
    """Correlation rules under our pack and the given folders; only files holding a
    correlation document are parsed (and base rules in the same folders for names)."""
    roots = ([PACK] if with_pack else []) + list(dirs)
    docs: list[tuple[dict[str, Any], str]] = []
    for root in roots:
        files = [root] if root.is_file() else sorted([*root.rglob("*.yml"), *root.rglob("*.yaml")])
        for f in files:
            try:
                head = f.read_bytes()
            except OSError:
                continue
            if b"correlation:" in head or b"\nname:" in head:
                docs += [(d, str(f)) for d in _docs(f)]
    return parse_rules(docs)


@dataclass(frozen=True, slots=True)
class _Row:
    eid: int
    rule_id: str
    ts: datetime
    host: str
    values: dict[str, str]


def correlation_fields(rules: Sequence[CorrelationRule]) -> set[str]:
    """The event fields ``rules`` read: group-by, alias targets and counted fields."""
    out: set[str] = set()
    for r in rules:
        out |= set(r.rule.group_by or ())
        for alias in r.rule.aliases:
            out |= set(alias.mapping.values())
        fr = getattr(r.rule.condition, "fieldref", None)
        if isinstance(fr, str):
            out.add(fr)
        elif isinstance(fr, list):
            out |= set(fr)
    return out


def run_correlations(
    case: Case, rules: Sequence[CorrelationRule], facts: Facts
) -> tuple[list[CorrelationHit], set[str]]:
    """Every correlation hit, and the base rules whose own alerts are hidden (generate: false)."""
    if not rules:
        return [], set()
    names = sorted(correlation_fields(rules))
    return correlate_matches(rules, det.base_matches(case, base_rules(rules), names), names)


def correlate_detections(
    rules: Sequence[CorrelationRule], detections: Sequence[Detection]
) -> tuple[list[CorrelationHit], set[str]]:
    """``run_correlations`` over a hunt's own detections of the base rules (no case store):
    what ``spearhunt hunt`` reports, as Hayabusa does in its scan."""
    if not rules:
        return [], set()
    names = sorted(correlation_fields(rules))
    rows: dict[tuple[int, str], det.BaseMatch] = {}
    for d in detections:
        if d.timestamp is not None:
            values = tuple(_event_value(d, n) for n in names)
            rows.setdefault(
                (d.event_key, d.rule.rule_id),
                det.BaseMatch(d.event_key, d.rule.rule_id, d.timestamp, d.computer, values),
            )
    return correlate_matches(rules, [rows[k] for k in sorted(rows)], names)


def _event_value(d: Detection, name: str) -> str | None:
    """A field's text as the case store reads it (``json_extract_string``)."""
    column = det.DETECTION_COLUMNS.get(name.lower())
    value = getattr(d, column) if column else d.event.get(name)
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def base_rules(rules: Sequence[CorrelationRule]) -> list[str]:
    """Ids of the rules the correlation rules reference."""
    return sorted({i for r in rules for _, ids in r.refs for i in ids})


def correlate_matches(
    rules: Sequence[CorrelationRule], rows: Sequence[det.BaseMatch], names: Sequence[str]
) -> tuple[list[CorrelationHit], set[str]]:
    """Hits of ``rules`` over their base rules' detections (``rows``, with the values of the
    fields ``names``), and the base rules whose own alerts are hidden (generate: false)."""
    matches = [
        _Row(
            r.eid,
            r.rule_id,
            r.ts,
            short_host(r.computer),
            {n: v for n, v in zip(names, r.values, strict=True) if v is not None},
        )
        for r in rows
    ]
    matches.sort(key=lambda m: (m.ts, m.eid, m.rule_id))
    hits: list[CorrelationHit] = []
    for rule in rules:
        hits += evaluate(rule, matches)
    hidden = {i for r in rules if not r.rule.generate for _, ids in r.refs for i in ids}
    hits.sort(key=lambda h: (h.first_seen or datetime.min, h.rule_id, h.group))
    return hits, hidden


def evaluate(rule: CorrelationRule, matches: Sequence[_Row]) -> list[CorrelationHit]:
    """Hits of one correlation rule over base matches sorted by time."""
    ref_of: dict[str, str] = {}
    for name, ids in rule.refs:
        for i in ids:
            ref_of[i] = name
    group_by = list(rule.rule.group_by or ())
    aliases = {a.alias: {r.reference: f for r, f in a.mapping.items()} for a in rule.rule.aliases}
    groups: dict[tuple[str, ...], list[tuple[_Row, str]]] = defaultdict(list)
    for m in matches:
        ref = ref_of.get(m.rule_id)
        if ref is None:
            continue
        parts: list[str] = []
        for g in group_by:
            field = aliases[g].get(ref, g) if g in aliases else g
            value = m.values.get(field)
            if value is None or value == "":
                break  # an event without the group-by field is in no group
            parts.append(value.lower())
        else:
            groups[tuple(parts)].append((m, ref))
    span = timedelta(seconds=rule.rule.timespan.seconds)
    kind = rule.rule.type
    out = []
    for key, items in sorted(groups.items()):
        for window in _windows(rule, kind, items, span):
            rows = [m for m, _ in window]
            out.append(
                CorrelationHit(
                    rule.rule_id,
                    rule.title,
                    rule.level,
                    kind.name.lower(),
                    tuple(zip(group_by, key, strict=True)),
                    min(m.ts for m in rows),
                    max(m.ts for m in rows),
                    len(rows),
                    tuple(sorted({m.host for m in rows})),
                    tuple(f"{m.eid}:{m.rule_id}" for m in rows),
                    rule.tags,
                )
            )
    return out


def _windows(
    rule: CorrelationRule,
    kind: SigmaCorrelationType,
    items: list[tuple[_Row, str]],
    span: timedelta,
) -> list[list[tuple[_Row, str]]]:
    """The reported windows of one group: for each item, the items within ``span`` before it
    (after the last reported window) that meet the condition.

    The window's start only moves forward, so the counts of distinct values and of rule
    references are kept as the window slides (one pass): recomputing them per item was
    quadratic, and minutes long for a helper rule that fires on every event of a big hunt.
    """
    times = [m.ts for m, _ in items]
    # Counting kinds always carry a plain condition (extended ones are temporal only).
    cond = cast("SigmaCorrelationCondition", rule.rule.condition)
    out: list[list[tuple[_Row, str]]] = []
    last_end = -1
    refs = [r for r, _ in rule.refs]
    fr = cond.fieldref if kind == SigmaCorrelationType.VALUE_COUNT else None
    fields = fr if isinstance(fr, list) else [fr] if fr is not None else []
    empty = tuple("" for _ in fields)
    values = [tuple(m.values.get(f, "").lower() for f in fields) for m, _ in items]
    counts: Counter[Any] = Counter()  # distinct values (value_count) or references (temporal)
    start = 0  # the window is items[start : i + 1]
    for i in range(len(items)):
        lo = bisect.bisect_left(times, items[i][0].ts - span)
        lo = max(lo, last_end + 1)  # a new match starts after the last one reported
        if lo > i:
            counts.clear()
            start = i + 1
            continue
        while start < lo:  # items that left the window
            key = values[start] if kind == SigmaCorrelationType.VALUE_COUNT else items[start][1]
            counts[key] -= 1
            if counts[key] <= 0:
                del counts[key]
            start += 1
        counts[values[i] if kind == SigmaCorrelationType.VALUE_COUNT else items[i][1]] += 1
        n = i + 1 - lo
        ok = False
        if kind == SigmaCorrelationType.EVENT_COUNT:
            ok = _OPS[cond.op.name.lower()](n, cond.count)
        elif kind == SigmaCorrelationType.VALUE_COUNT:
            distinct = len(counts) - (1 if empty in counts else 0)
            ok = _OPS[cond.op.name.lower()](distinct, cond.count)
        elif kind == SigmaCorrelationType.TEMPORAL:
            ok = set(refs) <= set(counts)
        elif kind == SigmaCorrelationType.TEMPORAL_ORDERED:
            ok = _in_order(items[lo : i + 1], refs)
        if ok and kind in (
            SigmaCorrelationType.TEMPORAL,
            SigmaCorrelationType.TEMPORAL_ORDERED,
            SigmaCorrelationType.EVENT_COUNT,
            SigmaCorrelationType.VALUE_COUNT,
        ):
            out.append(items[lo : i + 1])
            last_end = i
            counts.clear()
            start = i + 1
    return out


def _in_order(window: list[tuple[_Row, str]], refs: list[str]) -> bool:
    """Does the window hold the referenced rules in the order given (each strictly later)?"""
    k = 0
    last: datetime | None = None
    for m, r in window:
        if r == refs[k] and (last is None or m.ts > last or k == 0):
            last = m.ts
            k += 1
            if k == len(refs):
                return True
    return False


def hits_as_alerts(hits: Sequence[CorrelationHit], facts: Facts) -> list[Alert]:
    """Correlation hits as alerts the story builder can attach (one per host involved)."""
    members: dict[str, Alert] = {f"{a.eid}:{a.rule_id}": a for a in facts.alerts}
    out = []
    for n, h in enumerate(hits):
        first = next((members[m] for m in h.detections if m in members), None)
        for host in h.hosts:
            out.append(
                Alert(
                    -(n + 1),
                    h.rule_id,
                    h.title,
                    h.level,
                    attack_tactics(h.tags),
                    attack_techniques(h.tags),
                    h.last_seen,
                    host,
                    first.user if first else "",
                    first.proc if first else "",
                    first.parent if first else "",
                    first.logon_id if first else "",
                    first.image if first else "",
                    " ".join(f"{k}={v}" for k, v in h.group),
                    kind="correlation",
                    members=h.detections,
                )
            )
    return out
