"""Open, create and write the case store (a DuckDB file).

Tables (created on first use, appended to by later runs):
- ``runs``: one row per command run against the case;
- ``sources``: the input files, with a case-wide ``src`` id;
- ``events``: every ingested event (schema: ``normalize.windows.EVENT_COLUMNS``);
- ``detections``: one row per (rule, event) match;
- ``rules``: metadata of every rule that produced a detection;
- ``warnings``: skipped records and files, with where they were.
Other stages add their own tables (``mail_*`` from mail triage, correlation results ...).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import duckdb

from spearhunt import __version__
from spearhunt.errors import StoreError
from spearhunt.model import Detection, IngestWarning, RuleInfo
from spearhunt.normalize.windows import EVENT_COLUMNS
from spearhunt.store.db import connect

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS runs (run_id INTEGER, started TIMESTAMP, version VARCHAR, "
    "command VARCHAR, events BIGINT, detections BIGINT)",
    "CREATE TABLE IF NOT EXISTS sources (src INTEGER, path VARCHAR, kind VARCHAR, run_id INTEGER)",
    "CREATE TABLE IF NOT EXISTS events ("
    + ", ".join(f"{n} {t}" for n, t in EVENT_COLUMNS) + ")",
    "CREATE TABLE IF NOT EXISTS detections (run_id INTEGER, rule_id VARCHAR, rule_title VARCHAR, "
    "level VARCHAR, tags VARCHAR[], tactics VARCHAR[], techniques VARCHAR[], eid BIGINT, "
    "ts TIMESTAMP, computer VARCHAR, channel VARCHAR, event_id INTEGER, record_id BIGINT, "
    "source VARCHAR)",
    "CREATE TABLE IF NOT EXISTS rules (rule_id VARCHAR, title VARCHAR, level VARCHAR, "
    "tags VARCHAR[], source VARCHAR, description VARCHAR)",
    "CREATE TABLE IF NOT EXISTS warnings (run_id INTEGER, source VARCHAR, message VARCHAR, "
    "line BIGINT, record BIGINT, byte_offset BIGINT)",
]


class CaseStore:
    """A case file opened for one run."""

    def __init__(self, path: Path, command: str = "") -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.con = connect(path)
        except (duckdb.Error, OSError) as exc:
            raise StoreError(f"cannot open case store: {exc}", where=str(path)) from exc
        for stmt in SCHEMA:
            self.con.execute(stmt)
        row = self.con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchone()
        self.run_id = int(row[0]) if row else 1
        self.con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, 0, 0)",
                         [self.run_id, dt.datetime.now(dt.UTC).replace(tzinfo=None), __version__, command])

    def next_ids(self) -> tuple[int, int]:
        """(first free event id - 1, first free source id) for appending a run."""
        row = self.con.execute(
            "SELECT (SELECT coalesce(max(eid), 0) FROM events), "
            "(SELECT coalesce(max(src) + 1, 0) FROM sources)").fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def add_sources(self, first: int, paths: list[tuple[str, str]]) -> None:
        """Record the run's input files with case-wide ids starting at ``first``."""
        self.con.executemany("INSERT INTO sources VALUES (?, ?, ?, ?)",
                             [(first + i, p, k, self.run_id) for i, (p, k) in enumerate(paths)])

    def add_detections(self, detections: Iterable[Detection]) -> int:
        """Append detections (and the metadata of their rules)."""
        rows = []
        rules: dict[str, RuleInfo] = {}
        for d in detections:
            r = d.rule
            rules[r.rule_id] = r
            rows.append((self.run_id, r.rule_id, r.title, r.level, list(r.tags), list(r.tactics),
                         list(r.techniques), d.event_key, d.timestamp, d.computer, d.channel,
                         d.event_id, d.record_id, d.source))
        if rows:
            self.con.executemany("INSERT INTO detections VALUES (" + ", ".join("?" * 14) + ")", rows)
        known = {r[0] for r in self.con.execute("SELECT rule_id FROM rules").fetchall()}
        new = [(r.rule_id, r.title, r.level, list(r.tags), r.source, r.description)
               for r in rules.values() if r.rule_id not in known]
        if new:
            self.con.executemany("INSERT INTO rules VALUES (?, ?, ?, ?, ?, ?)", new)
        return len(rows)

    def add_warnings(self, warnings: Iterable[IngestWarning]) -> None:
        """Record skipped records and files."""
        rows = [(self.run_id, w.source, w.message, w.line, w.record, w.offset) for w in warnings]
        if rows:
            self.con.executemany("INSERT INTO warnings VALUES (?, ?, ?, ?, ?, ?)", rows)

    def finish(self, events: int, detections: int) -> None:
        """Close the run's row and the file."""
        self.con.execute("UPDATE runs SET events = ?, detections = ? WHERE run_id = ?",
                         [events, detections, self.run_id])
        self.con.execute("CHECKPOINT")

    def close(self) -> None:
        """Close the database file."""
        self.con.close()
