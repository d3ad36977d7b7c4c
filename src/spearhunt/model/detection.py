"""Rules as the engine knows them, and what a rule found."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from spearhunt.model.attack import TACTIC_BY_KEY, current_technique, legacy_defense_evasion
from spearhunt.model.times import iso_utc

if TYPE_CHECKING:
    import pyarrow as pa

LEVELS = ("informational", "low", "medium", "high", "critical")
LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}

_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)


@lru_cache(maxsize=8192)
def attack_techniques(tags: tuple[str, ...]) -> tuple[str, ...]:
    """ATT&CK technique ids (``T1059.001``) named by Sigma tags, in tag order; an id ATT&CK
    revoked is given as the id that replaced it (``attack.t1562.001`` -> ``T1685``)."""
    out = []
    for tag in tags:
        m = _TECHNIQUE.match(tag)
        if m:
            out.append(current_technique(m.group(1)))
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=8192)
def attack_tactics(tags: tuple[str, ...]) -> tuple[str, ...]:
    """ATT&CK tactic names (``lateral_movement``) named by Sigma tags, in tag order; an older
    rule's ``defense-evasion`` is read as ATT&CK v19 reads it (``legacy_defense_evasion``)."""
    out: list[str] = []
    for tag in tags:
        low = tag.lower()
        if low.startswith("attack."):
            name = low[len("attack.") :].replace("-", "_")
            if name in TACTIC_BY_KEY:
                out.append(name)
            elif name == "defense_evasion":
                out.extend(legacy_defense_evasion(attack_techniques(tags)))
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What the engine knows about one Sigma rule, independent of how it is executed."""

    rule_id: str
    title: str
    level: str
    tags: tuple[str, ...] = ()
    source: str = ""  # file the rule came from
    status: str = ""
    description: str = ""
    author: str = ""
    falsepositives: tuple[str, ...] = ()
    # False for base rules of a correlation with 'generate: false': their matches feed the
    # correlation (and the case store) but are not alerts of their own.
    output: bool = True

    @property
    def techniques(self) -> tuple[str, ...]:
        """ATT&CK technique ids from the tags."""
        return attack_techniques(self.tags)

    @property
    def tactics(self) -> tuple[str, ...]:
        """ATT&CK tactic names from the tags."""
        return attack_tactics(self.tags)

    def output_dict(self) -> dict[str, Any]:
        """The rule's part of each of its detections in the JSON output contract."""
        return {
            "rule_id": self.rule_id,
            "rule_title": self.title,
            "level": self.level,
            "tags": list(self.tags),
            "tactics": list(self.tactics),
            "techniques": list(self.techniques),
        }

    def output_head(self) -> bytes:
        """``output_dict`` as JSON left open after a comma: the start of each of its
        detections' JSON text, which the event's part completes."""
        return orjson.dumps(self.output_dict())[:-1] + b","

    @property
    def level_rank(self) -> int:
        """Ordering of the level, informational lowest; unknown levels count as informational."""
        return LEVEL_RANK.get(self.level, 0)


@dataclass(frozen=True, slots=True)
class Detection:
    """One rule matching one event."""

    rule: RuleInfo
    timestamp: datetime | None
    computer: str | None
    channel: str | None
    event_id: int | None
    record_id: int | None
    source: str
    event: dict[str, Any] = field(default_factory=dict)
    event_key: int = 0  # the event's row id in its store, for joins by later stages

    def to_dict(self) -> dict[str, Any]:
        """The JSON output contract of one detection."""
        return {**self.rule.output_dict(), **self.event_dict()}

    def event_dict(self) -> dict[str, Any]:
        """The part of ``to_dict`` that is about the event, not the rule: the keys of
        ``EVENT_JSON_SQL``, in its order (the engine builds the same JSON from that table)."""
        return {
            "timestamp": iso_utc(self.timestamp),
            "computer": self.computer,
            "channel": self.channel,
            "event_id": self.event_id,
            "record_id": self.record_id,
            "source": self.source,
            "event_key": self.event_key,
            "event": self.event,
        }


# ---------------------------------------------------------------- the JSON output contract
# One detection's JSON is its rule's part (``RuleInfo.output_head``) then its event's part,
# whose keys, order and values are given here once, in Python (``Detection.event_dict``) and
# as the DuckDB SQL the engine evaluates over its hit rows (``json_text_sql``): a big hunt's
# texts are built by DuckDB, in Arrow buffers, never as Python objects. Both give the same
# bytes (tests/detect/test_output.py).

SQL_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # model.times.iso_utc of a naive UTC time, in strftime
# (key, SQL of its JSON value over a hit row's columns), in Detection.event_dict's order.
EVENT_JSON_SQL: tuple[tuple[str, str], ...] = (
    ("timestamp", f"coalesce(strftime(ts, '\"{SQL_ISO_FORMAT}\"'), 'null')"),
    ("computer", "coalesce(to_json(computer), 'null')"),
    ("channel", "coalesce(to_json(channel), 'null')"),
    ("event_id", "coalesce(event_id::VARCHAR, 'null')"),
    ("record_id", "coalesce(record_id::VARCHAR, 'null')"),
    ("source", "source_json"),  # source_json_text(path), one per input file
    ("event_key", "eid::VARCHAR"),
    ("event", "fields"),  # the event's fields as strict JSON text (see NOT_STRICT)
)
# What DuckDB's JSON reader takes beyond strict JSON, or what orjson would not read back as
# it is written, anywhere in a text (also inside strings: such an event just goes through
# Python): NaN or an infinity as a value, a comma before a closing bracket, an exponent of
# three digits (1e999), a run of 20 digits (an integer past 64 bits). An event's fields text
# that may hold one is not copied into the output; the event goes the Python way.
NOT_STRICT = r"(?i)[:\[,]\s*[-+]?(?:nan|inf)|,\s*[}\]]|\de[-+]?\d{3}|\d{20}"


def json_text_sql(lead: str = "$1", end: str = "$2") -> str:
    """DuckDB SQL of one detection's JSON text, framed by ``lead`` and ``end`` (SQL
    expressions), over a hit row with the columns ``head`` (``RuleInfo.output_head``),
    ``source_json`` and those ``EVENT_JSON_SQL`` reads: the bytes of ``json_bytes``."""
    parts = [lead, "head"]
    for n, (key, sql) in enumerate(EVENT_JSON_SQL):
        parts += ["'" + ("," if n else "") + f'"{key}":' + "'", sql]
    # One concat() writes each text once (a chain of || copies it at every step).
    return "concat(" + ", ".join([*parts, "'}'", end]) + ")"


# DuckDB writes a control character's escape with upper-case hex (\u001F), orjson with
# lower-case: the Python form follows DuckDB's (a \\ is matched first, so the text "\\u001f"
# - an escaped backslash, then letters - stays as it is).
_ESCAPE = re.compile(rb"\\\\|\\u00[0-9a-f]{2}")


def _duckdb_escapes(text: bytes) -> bytes:
    if b"\\u00" not in text:
        return text
    return _ESCAPE.sub(lambda m: m[0] if len(m[0]) == 2 else m[0][:4] + m[0][4:].upper(), text)


def source_json_text(path: str) -> str:
    """The JSON of a detection's ``source`` (an input file's name)."""
    return _duckdb_escapes(orjson.dumps(path)).decode()


def json_bytes(d: Detection, head: bytes | None = None) -> bytes:
    """``d.to_dict()`` as JSON (UTF-8), byte for byte what ``json_text_sql`` gives; ``head``
    is ``d.rule.output_head()`` when the caller keeps it per rule (a big hunt writes many
    detections of a few rules)."""
    body = _duckdb_escapes(orjson.dumps(d.event_dict(), default=str))
    return (head if head is not None else d.rule.output_head()) + body[1:]


def utf8_run(texts: pa.Array) -> bytes:
    """The UTF-8 texts of an Arrow string array (no nulls) back to back, from its buffer."""
    import pyarrow as pa

    raw = memoryview(texts.buffers()[1])
    offsets = raw.cast("q") if pa.types.is_large_string(texts.type) else raw.cast("i")
    first, last = offsets[texts.offset], offsets[texts.offset + len(texts)]
    data: bytes = texts.buffers()[2][first:last].to_pybytes()
    return data


class HitRows(Protocol):
    """An engine's hits of output rules in time order, as rows of a projection (DuckDB)."""

    def hit_rows(
        self,
        select: str,
        params: list[Any],
        by_rule: dict[str, list[Any]],
        by_source: dict[str, list[Any]],
        batch: int,
    ) -> Iterator[pa.RecordBatch]:
        """Rows of ``select`` over each hit's columns (rule, eid, ts, computer, channel,
        event_id, record_id, src, fields, evtx: fields of an EVTX record), with the columns
        of ``by_rule`` (joined on ``rule``) and ``by_source`` (on ``src``)."""
        ...

    def hit_detection(self, row: dict[str, Any]) -> Detection:
        """The ``Detection`` of a hit row (rule, eid, ts, ..., src, fields)."""
        ...


def json_runs(
    engine: HitRows,
    rules: Sequence[RuleInfo],
    sources: Sequence[str],
    src_base: int,
    lead: str = "",
    end: str = "\n",
    batch: int = 10_000,
) -> Iterator[tuple[bytes, int] | Detection]:
    """The engine's detections of output rules, in time order: runs of their JSON texts,
    each framed by ``lead`` and ``end``, UTF-8, with how many a run holds; or a
    ``Detection`` where the event's fields text may not be strict JSON (``NOT_STRICT``):
    EVTX fields are (the EVTX parser and DuckDB wrote them), JSON input's are its own text.
    """
    out = [i for i, r in enumerate(rules) if r.output]
    py = "CASE WHEN NOT native THEN {c} END AS {c}"
    select = (
        f"SELECT CASE WHEN native THEN {json_text_sql()} END AS line, rule, "
        + ", ".join(
            py.format(c=c) for c in ("ts", "computer", "channel", "event_id", "record_id", "fields")
        )
        + ", src, eid FROM (SELECT *, "
        # (a CASE, not OR: the regex is then never evaluated for EVTX rows)
        "CASE WHEN evtx THEN true ELSE NOT regexp_matches(fields, $3) END AS native FROM hit)"
    )
    by_rule: dict[str, list[Any]] = {
        "rule": out,
        "head": [rules[i].output_head().decode() for i in out],
    }
    by_source: dict[str, list[Any]] = {
        "src": list(range(src_base, src_base + len(sources))),
        "source_json": [source_json_text(p) for p in sources],
    }
    for part in engine.hit_rows(select, [lead, end, NOT_STRICT], by_rule, by_source, batch):
        lines = part.column(0)
        if not len(lines):
            continue
        if lines.null_count == 0:  # the whole batch as it is in Arrow's buffer
            yield utf8_run(lines), len(lines)
            continue
        run: list[bytes] = []
        for row in part.to_pylist():
            if row["line"] is not None:
                run.append(row["line"].encode())
                continue
            if run:
                yield b"".join(run), len(run)
                run = []
            yield engine.hit_detection(row)
        if run:
            yield b"".join(run), len(run)
