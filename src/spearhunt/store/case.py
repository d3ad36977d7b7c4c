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
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from spearhunt import __version__
from spearhunt.errors import StoreError
from spearhunt.model import Detection, IngestWarning, RuleInfo
from spearhunt.normalize.windows import EVENT_COLUMNS
from spearhunt.store.db import arrow_views, connect, insert_rows

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS runs (run_id INTEGER, started TIMESTAMP, version VARCHAR, "
    "command VARCHAR, events BIGINT, detections BIGINT)",
    "CREATE TABLE IF NOT EXISTS sources (src INTEGER, path VARCHAR, kind VARCHAR, run_id INTEGER)",
    "CREATE TABLE IF NOT EXISTS events (" + ", ".join(f"{n} {t}" for n, t in EVENT_COLUMNS) + ")",
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
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, 0, 0)",
            [self.run_id, dt.datetime.now(dt.UTC).replace(tzinfo=None), __version__, command],
        )

    def next_ids(self) -> tuple[int, int]:
        """(first free event id - 1, first free source id) for appending a run."""
        row = self.con.execute(
            "SELECT (SELECT coalesce(max(eid), 0) FROM events), "
            "(SELECT coalesce(max(src) + 1, 0) FROM sources)"
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def add_sources(self, first: int, paths: list[tuple[str, str]]) -> None:
        """Record the run's input files with case-wide ids starting at ``first``."""
        insert_rows(
            self.con, "sources", [(first + i, p, k, self.run_id) for i, (p, k) in enumerate(paths)]
        )

    def add_detections(self, detections: Iterable[Detection]) -> int:
        """Append detections (and the metadata of their rules)."""
        ds = list(detections)
        infos = list({id(d.rule): d.rule for d in ds}.values())
        index = {id(r): i for i, r in enumerate(infos)}
        if ds:
            with arrow_views(
                self.con,
                _new_detections=pa.table(
                    {
                        "rule": pa.array([index[id(d.rule)] for d in ds], pa.int32()),
                        "eid": pa.array([d.event_key for d in ds], pa.int64()),
                        "ts": pa.array([d.timestamp for d in ds], pa.timestamp("us")),
                        "computer": pa.array([d.computer for d in ds], pa.string()),
                        "channel": pa.array([d.channel for d in ds], pa.string()),
                        "event_id": pa.array([d.event_id for d in ds], pa.int32()),
                        "record_id": pa.array([d.record_id for d in ds], pa.int64()),
                        "source": pa.array([d.source for d in ds], pa.string()),
                    }
                ),
            ):
                self._insert(infos, "SELECT h.*, h.source AS path FROM _new_detections h")
        return len(ds)

    def add_matches(self, rules: Sequence[RuleInfo], hits: str) -> int:
        """Append the detections an engine left in this store's connection: ``hits`` is SQL
        giving its (rule, eid) pairs, ``rule`` indexing ``rules``; the events and sources are
        in the store already. (One statement: a row at a time took minutes for 100k.)"""
        return self._insert(
            rules,
            "SELECT h.rule, e.eid, e.ts, e.computer, e.channel, "
            f"e.event_id, e.record_id, s.path FROM ({hits}) h "
            "JOIN events e USING (eid) JOIN sources s ON s.src = e.src",
        )

    def _insert(self, rules: Sequence[RuleInfo], select: str) -> int:
        """Append ``select``'s rows (rule index, eid, ts, computer, channel, event id, record
        id, path) as detections, in time order, and the metadata of their rules; returns how
        many detections."""
        meta = pa.table(
            {
                "rule": pa.array(range(len(rules)), pa.int32()),
                "rule_id": [r.rule_id for r in rules],
                "title": [r.title for r in rules],
                "level": [r.level for r in rules],
                "tags": pa.array([list(r.tags) for r in rules], pa.list_(pa.string())),
                "tactics": pa.array([list(r.tactics) for r in rules], pa.list_(pa.string())),
                "techniques": pa.array([list(r.techniques) for r in rules], pa.list_(pa.string())),
                "source": [r.source for r in rules],
                "description": [r.description for r in rules],
            }
        )
        with arrow_views(self.con, _rule_meta=meta):
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE _matched AS SELECT * FROM (" + select + ")"
            )
            row = self.con.execute(
                "INSERT INTO detections SELECT $1, r.rule_id, r.title, r.level, r.tags, "
                "r.tactics, r.techniques, m.eid, m.ts, m.computer, m.channel, m.event_id, "
                "m.record_id, m.path FROM _matched m JOIN _rule_meta r USING (rule) "
                "ORDER BY m.ts NULLS LAST, m.eid, m.rule",
                [self.run_id],
            ).fetchone()
            self.con.execute(
                "INSERT INTO rules SELECT rule_id, any_value(title), any_value(level), "
                "any_value(tags), any_value(source), any_value(description) FROM _rule_meta "
                "WHERE rule IN (SELECT rule FROM _matched) AND rule_id NOT IN "
                "(SELECT rule_id FROM rules) GROUP BY rule_id"
            )
            self.con.execute("DROP TABLE _matched")
        return int(row[0]) if row else 0

    def add_warnings(self, warnings: Iterable[IngestWarning]) -> None:
        """Record skipped records and files."""
        insert_rows(
            self.con,
            "warnings",
            [(self.run_id, w.source, w.message, w.line, w.record, w.offset) for w in warnings],
        )

    def finish(self, events: int, detections: int) -> None:
        """Close the run's row and the file."""
        self.con.execute(
            "UPDATE runs SET events = ?, detections = ? WHERE run_id = ?",
            [events, detections, self.run_id],
        )
        self.con.execute("CHECKPOINT")

    def close(self) -> None:
        """Close the database file."""
        self.con.close()
