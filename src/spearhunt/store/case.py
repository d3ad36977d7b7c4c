"""Open a case, and the writes of a run: runs, sources, events, detections, rules, warnings.

:func:`open_case` is the one way to open a case file; the read and write modules of each area
(``store.events``, ``store.detections``, ``store.mail``, ``store.network``, ``store.results``)
take the :class:`Case` it returns. :class:`CaseStore` is a case opened for one run of a
command (``hunt --store``, ``investigate`` ...): it records the run and appends to the tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from spearhunt.model import Detection, IngestWarning, RuleInfo
from spearhunt.model.callbacks import OnWarning
from spearhunt.store import runs
from spearhunt.store.casefile import Case, open_case, private
from spearhunt.store.db import arrow_views, insert_rows, one

__all__ = ["Case", "CaseStore", "open_case", "private"]


def _drop_events(case: Case, seen: runs.Seen) -> bool:
    # a Parquet dataset's events name the original files, not the dataset: what an earlier
    # copy gave cannot be told apart from the rest of its run
    from spearhunt.ingest.sources import Kind, sniff

    if sniff(seen.path).kind is Kind.PARQUET:
        return False
    return runs.drop_input(case, seen)


class CaseStore:
    """A case file opened for one run of a command: the run is recorded as started when it
    opens and as finished by :meth:`finish`."""

    def __init__(self, path: Path, command: str = "") -> None:
        self.path = path
        self.case = open_case(path, write=True)
        self.con = self.case.con
        # bulk appends need no order (the engine sorts what it writes)
        self.con.execute("SET preserve_insertion_order = false")
        self.run_id = runs.begin(self.case, command)
        self._inputs: list[str] = []

    def admit(
        self, files: Sequence[Path], replace: bool, on_warning: OnWarning | None = None
    ) -> list[Path]:
        """The event-log files this run reads: those the case holds already (same content,
        from a finished run) are skipped with a warning, or with ``replace`` read again in
        place of the earlier copy."""
        admission = runs.admit(self.case, self.run_id, "events", files, replace, _drop_events)
        if on_warning:
            for where, message in admission.messages():
                on_warning(IngestWarning(where, message))
        self._inputs = sorted((str(f) for f in admission.read), key=len, reverse=True)
        return list(admission.read)

    def _input_of(self, source: str) -> str | None:
        for f in self._inputs:  # longest first: an archive member names its archive
            if source == f or source.startswith((f + "/", f + os.sep)):
                return f
        return None

    def next_ids(self) -> tuple[int, int]:
        """(first free event id - 1, first free source id) for appending a run. Keys only grow:
        events this run replaced leave their keys unused (a saved story still names them), and
        a run killed before it wrote its sources left events whose source ids are not reused."""
        row = one(
            self.con,
            "SELECT greatest((SELECT coalesce(max(eid), 0) FROM events), "
            "(SELECT coalesce(max(first_eid) - 1, 0) FROM runs WHERE run_id = ?)), "
            "greatest((SELECT coalesce(max(src) + 1, 0) FROM sources WHERE src < 1000000), "
            "(SELECT coalesce(max(src) + 1, 0) FROM events))",
            [self.run_id],
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def source_ids(self) -> dict[str, int]:
        """Path -> source id of every source in the case."""
        return {p: int(s) for p, s in self.con.execute("SELECT path, src FROM sources").fetchall()}

    def add_sources(self, first: int, paths: list[tuple[str, str]]) -> None:
        """Record the run's input files with case-wide ids starting at ``first``."""
        insert_rows(
            self.con,
            "sources",
            [(first + i, p, k, self.run_id, self._input_of(p)) for i, (p, k) in enumerate(paths)],
        )

    def add_events(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Append events given as (eid, ts, computer, channel, provider, event_id, record_id,
        src, pos, fields) that the case does not have yet; returns how many were new."""
        if not rows:
            return 0
        have = {
            r[0]
            for r in self.con.execute(
                "SELECT eid FROM events WHERE eid IN (SELECT unnest(?))", [[r[0] for r in rows]]
            ).fetchall()
        }
        new = [r for r in rows if r[0] not in have]
        if new:
            self.con.executemany(
                "INSERT INTO events (eid, ts, computer, channel, provider, event_id, record_id, "
                "src, pos, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                new,
            )
        return len(new)

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
                "output": pa.array([r.output for r in rules], pa.bool_()),
            }
        )
        with arrow_views(self.con, _rule_meta=meta):
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE _matched AS SELECT * FROM (" + select + ")"
            )
            row = one(
                self.con,
                "INSERT INTO detections SELECT $1, r.rule_id, r.title, r.level, r.tags, "
                "r.tactics, r.techniques, m.eid, m.ts, m.computer, m.channel, m.event_id, "
                "m.record_id, m.path FROM _matched m JOIN _rule_meta r USING (rule) "
                "ORDER BY m.ts NULLS LAST, m.eid, m.rule",
                [self.run_id],
            )
            self.con.execute(
                "INSERT INTO rules SELECT rule_id, any_value(title), any_value(level), "
                "any_value(tags), any_value(source), any_value(description), bool_or(output) "
                "FROM _rule_meta "
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
        """Record the run as finished, with its counts, and write the file."""
        runs.finish(self.case, self.run_id, events, detections)
        self.case.checkpoint()

    def close(self) -> None:
        """Close the database file."""
        self.case.close()
