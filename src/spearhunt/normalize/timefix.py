"""Event times that are not UTC although they say so, measured and corrected per source.

Real exports label local time as UTC (HELK writes the lab's local ``TimeCreated`` with a
``Z``), or carry only local time (NXLog's ``EventTime``) beside a collector's receive time.
Many records also hold a UTC time of their own: Sysmon writes ``UtcTime`` into each event.
For each (source file, computer), the offset between such a field and the event time is
measured; when it is consistent (most records agree, to the quarter hour that time zones
come in) and not zero, the source's event times are corrected by it, and records that carry
the UTC field take it as their time. ``--time-offset GLOB=+HH:MM`` settles the cases no field
can. Each correction is said as a warning, with the offset.
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from spearhunt.errors import UsageError

QUANTUM = 900  # seconds: time zones are whole quarter hours
MIN_SAMPLES = 5
MIN_SHARE = 0.8  # share of the samples that must agree on the offset
SAME_EVENT = 120  # seconds: a UTC field this close to the corrected time is the event's own
WINDOW = 16_384  # events per query (see _windows)
# UTC fields a record may carry, best first: Sysmon's own time, then a collector's receive
# time (seconds after the event, so only the quarter-hour offset is taken from it).
UTC_FIELDS = ("UtcTime", "@timestamp")


@dataclass(frozen=True, slots=True)
class TimeFix:
    """A correction applied to one source's (and computer's) event times."""

    src: int
    computer: str | None
    offset: int  # seconds added to the written time
    why: str


def parse_offsets(specs: Sequence[str]) -> tuple[tuple[str, int], ...]:
    """``GLOB=+HH:MM`` (or ``-HH:MM``) -> (glob, seconds)."""
    out = []
    for spec in specs:
        glob, sep, value = spec.rpartition("=")
        m = re.fullmatch(r"([+-])(\d{1,2}):?(\d{2})", value.strip())
        if not sep or not glob or not m:
            raise UsageError(f"--time-offset wants SOURCE_GLOB=+HH:MM, got {spec!r}")
        secs = int(m.group(2)) * 3600 + int(m.group(3)) * 60
        out.append((glob, secs if m.group(1) == "+" else -secs))
    return tuple(out)


def _given(path: str, offsets: Sequence[tuple[str, int]]) -> int | None:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    for glob, secs in offsets:
        if fnmatch.fnmatch(path, glob) or fnmatch.fnmatch(name, glob):
            return secs
    return None


def _hhmm(secs: int) -> str:
    sign = "+" if secs >= 0 else "-"
    secs = abs(secs)
    return f"{sign}{secs // 3600:02d}:{secs % 3600 // 60:02d}"


def _windows(lo: int, hi: int) -> list[tuple[int, int]]:
    """[lo, hi) cut into event-id windows.

    Each query of this module runs once per window, so that what it holds (the JSON of the
    records it reads, the rows it updates) stays within a small ``--memory-limit``: one
    query over all the events ran out of memory at 256MB on the OTRF host logs."""
    return [(a, min(a + WINDOW, hi)) for a in range(lo, hi, WINDOW)]


def _spans(con: duckdb.DuckDBPyConnection, first_eid: int) -> dict[int, tuple[int, int]]:
    """src -> [lo, hi) of its event ids from ``first_eid`` on (a source's events are
    appended together, so an update of one source visits its windows only)."""
    rows = con.execute(
        "SELECT src, min(eid), max(eid) + 1 FROM events WHERE eid >= $1 GROUP BY src",
        [first_eid],
    ).fetchall()
    return {src: (lo, hi) for src, lo, hi in rows}


def _utc(field: str) -> str:
    """SQL for the time a record's ``field`` holds (a TIMESTAMPTZ, NULL if none or no time)."""
    return f"TRY_CAST(json_extract_string(fields, '$.\"{field}\"') AS TIMESTAMPTZ)"


def measure(
    con: duckdb.DuckDBPyConnection,
    first_eid: int,
    fields: Sequence[str] = UTC_FIELDS,
    slices: Sequence[int] | None = None,
) -> dict[str, dict[tuple[int, str | None], tuple[int, int, int]]]:
    """field -> (src, computer) -> (offset in quanta, records agreeing, records measured).

    Every field is read in one parse of each record's fields; with ``slices``, only events
    of these slices are read (those whose records carry one of the fields at all)."""
    votes: dict[str, dict[tuple[int, str | None], dict[int, int]]] = {
        f: defaultdict(dict) for f in fields
    }
    spans = _spans(con, first_eid).values()
    if not spans or slices == []:
        return {f: {} for f in fields}
    paths = ", ".join("'$.\"" + f + "\"'" for f in fields)
    offs = ", ".join(
        f"round((epoch(TRY_CAST(u[{i}] AS TIMESTAMPTZ)::TIMESTAMP) - epoch(ts)) / {QUANTUM})"
        for i in range(1, len(fields) + 1)
    )
    only = "AND list_contains($3, slice)" if slices is not None else ""
    for lo, hi in _windows(min(a for a, _ in spans), max(b for _, b in spans)):
        rows = con.execute(
            f"""
            SELECT src, computer, offs, count(*) FROM (
              SELECT src, computer, [{offs}] AS offs
              FROM (SELECT src, computer, ts, json_extract_string(fields, [{paths}]) AS u
                FROM events WHERE eid >= $1 AND eid < $2 AND ts IS NOT NULL {only}))
            WHERE len(list_filter(offs, lambda x: x IS NOT NULL)) > 0 GROUP BY ALL""",
            [lo, hi, list(slices)] if slices is not None else [lo, hi],
        ).fetchall()
        for src, computer, offsets, n in rows:
            for field, off in zip(fields, offsets, strict=True):
                if off is not None:
                    v = votes[field][(src, computer)]
                    v[int(off)] = v.get(int(off), 0) + n
    out: dict[str, dict[tuple[int, str | None], tuple[int, int, int]]] = {}
    for field, by_key in votes.items():
        out[field] = {}
        for key, v in by_key.items():
            best = max(v, key=lambda k: (v[k], -abs(k)))
            out[field][key] = (best, v[best], sum(v.values()))
    return out


def correct_times(
    con: duckdb.DuckDBPyConnection,
    sources: Sequence[str],
    src_base: int,
    first_eid: int,
    offsets: Sequence[tuple[str, int]] = (),
    slices: Sequence[int] | None = None,
) -> list[TimeFix]:
    """Measure and correct the event times of events from ``first_eid`` on; the fixes made.
    ``slices``: the slices whose records carry a UTC field (None: read every event)."""
    fixes: list[TimeFix] = []
    given = {src_base + i: _given(p, offsets) for i, p in enumerate(sources)}
    spans = _spans(con, first_eid)
    for src, secs in given.items():
        if secs and src in spans:
            for lo, hi in _windows(*spans[src]):
                con.execute(
                    "UPDATE events SET ts = ts + to_seconds($1)"
                    " WHERE eid >= $2 AND eid < $3 AND src = $4",
                    [secs, lo, hi, src],
                )
            fixes.append(TimeFix(src, None, secs, f"--time-offset {_hhmm(secs)}"))
    settled: set[tuple[int, str | None]] = set()
    measured = measure(con, first_eid, UTC_FIELDS, slices)
    for field in UTC_FIELDS:
        for (src, computer), (off, agree, total) in sorted(
            measured[field].items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
        ):
            if given.get(src) is not None or (src, computer) in settled:
                continue
            if total < MIN_SAMPLES or agree < MIN_SHARE * total:
                continue
            settled.add((src, computer))
            if off == 0:
                continue
            secs = off * QUANTUM
            # the record's own UTC time, to the millisecond, where it is the event's own
            own = "NULL"
            if field == "UtcTime":
                u = f"{_utc(field)}::TIMESTAMP"
                own = f"CASE WHEN abs(epoch({u}) - epoch(ts + to_seconds($1))) <= {SAME_EVENT}"
                own += f" THEN {u} END"
            for lo, hi in _windows(*spans[src]):
                con.execute(
                    f"""UPDATE events SET ts = coalesce({own}, ts + to_seconds($1))
                    WHERE eid >= $2 AND eid < $3 AND src = $4
                      AND computer IS NOT DISTINCT FROM $5""",
                    [secs, lo, hi, src, computer],
                )
            fixes.append(
                TimeFix(
                    src,
                    computer,
                    secs,
                    f"event times {_hhmm(-secs)} off the {field} of the same records "
                    f"({agree:,} of {total:,} agree): corrected by {_hhmm(secs)}",
                )
            )
    return fixes
