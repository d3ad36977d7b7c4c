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


def _windows(con: duckdb.DuckDBPyConnection, first_eid: int) -> list[tuple[int, int]]:
    """[lo, hi) event-id windows covering the events from ``first_eid`` on.

    Each query of this module runs once per window, so that what it holds (the JSON of the
    records it reads, the rows it updates) stays within a small ``--memory-limit``: one
    query over all the events ran out of memory at 256MB on the OTRF host logs."""
    row = con.execute("SELECT max(eid) FROM events WHERE eid >= $1", [first_eid]).fetchone()
    last = row[0] if row and row[0] is not None else None
    if last is None:
        return []
    return [(lo, min(lo + WINDOW, last + 1)) for lo in range(first_eid, last + 1, WINDOW)]


def _utc(field: str) -> str:
    """SQL for the time a record's ``field`` holds (a TIMESTAMPTZ, NULL if none or no time)."""
    return f"TRY_CAST(json_extract_string(fields, '$.\"{field}\"') AS TIMESTAMPTZ)"


def measure(
    con: duckdb.DuckDBPyConnection, first_eid: int, field: str
) -> dict[tuple[int, str | None], tuple[int, int, int]]:
    """(src, computer) -> (offset in quanta, records agreeing, records measured)."""
    votes: dict[tuple[int, str | None], dict[int, int]] = defaultdict(dict)
    for lo, hi in _windows(con, first_eid):
        rows = con.execute(
            f"""
            SELECT src, computer, off, count(*) FROM (
              SELECT src, computer, round((epoch(u::TIMESTAMP) - epoch(ts)) / {QUANTUM}) AS off
              FROM (SELECT src, computer, ts, {_utc(field)} AS u
                FROM events WHERE eid >= $1 AND eid < $2 AND ts IS NOT NULL)
              WHERE u IS NOT NULL)
            WHERE off IS NOT NULL GROUP BY ALL""",
            [lo, hi],
        ).fetchall()
        for src, computer, off, n in rows:
            v = votes[(src, computer)]
            v[int(off)] = v.get(int(off), 0) + n
    out = {}
    for key, v in votes.items():
        best = max(v, key=lambda k: (v[k], -abs(k)))
        out[key] = (best, v[best], sum(v.values()))
    return out


def correct_times(
    con: duckdb.DuckDBPyConnection,
    sources: Sequence[str],
    src_base: int,
    first_eid: int,
    offsets: Sequence[tuple[str, int]] = (),
) -> list[TimeFix]:
    """Measure and correct the event times of events from ``first_eid`` on; the fixes made."""
    fixes: list[TimeFix] = []
    given = {src_base + i: _given(p, offsets) for i, p in enumerate(sources)}
    windows = _windows(con, first_eid)
    for src, secs in given.items():
        if secs:
            for lo, hi in windows:
                con.execute(
                    "UPDATE events SET ts = ts + to_seconds($1)"
                    " WHERE eid >= $2 AND eid < $3 AND src = $4",
                    [secs, lo, hi, src],
                )
            fixes.append(TimeFix(src, None, secs, f"--time-offset {_hhmm(secs)}"))
    settled: set[tuple[int, str | None]] = set()
    for field in UTC_FIELDS:
        for (src, computer), (off, agree, total) in sorted(
            measure(con, first_eid, field).items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
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
            for lo, hi in windows:
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
