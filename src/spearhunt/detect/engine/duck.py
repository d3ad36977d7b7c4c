"""The embedded engine: DuckDB normalizes events and runs every rule.

Input streams through in chunks. On the engine thread, each chunk is normalized by one SQL
statement (no record is parsed in Python) and appended to the ``events`` table; its *slices*
(channel, provider, event id) and their field names are tallied and the product-wide rules run
over it, while the caller reads the next chunk. When input ends, each slice becomes one narrow
SELECT of the lowercased fields its rules read, and meets only the rules routed to it, folded
for it (``plan.specialize``), in a single query per batch of rules, so each rule is bound once
per run whatever the input size; slices too small to be worth a query are matched in Python
(``pyeval``) over the very same columns, alongside the SQL. Detections are joined back to
their events in time order.

Memory stays bounded: chunks are dropped once appended, and the database spills to disk past
``memory_limit`` (a file-backed case store, or DuckDB's temp directory).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from spearhunt.detect.engine.plan import Router, Target, needed_fields, specialize
from spearhunt.detect.engine.pyeval import compile_tree
from spearhunt.detect.engine.sql import DUCKDB, Renderer
from spearhunt.detect.sigma import ir
from spearhunt.detect.sigma.compiler import CompiledRule
from spearhunt.errors import EngineError
from spearhunt.ingest.events import RawBatch
from spearhunt.ingest.sources import Kind
from spearhunt.model import Detection, IngestWarning
from spearhunt.model.callbacks import Progress
from spearhunt.normalize.windows import (
    EVENT_COLUMNS,
    SHAPE_EVTX,
    SYSTEM_FIELD_COLUMNS,
    event_fields,
    normalize_sql,
)
from spearhunt.store import schema as case_schema
from spearhunt.store.db import arrow_views, connect

log = logging.getLogger(__name__)

RULES_PER_QUERY = 64
CHUNK_EVENTS = 100_000
CHUNK_BYTES = 96 * 1024 * 1024
SCAN_BATCH = 16_384
# Below this many (row x rule) evaluations a slice is matched in Python: binding a rule in
# DuckDB costs ~1 ms, evaluating one in Python ~1-2 µs (measured on the shared EVTX corpus).
PYTHON_WORK_MAX = 400_000
PYTHON_ROWS_MAX = 600
DEDUP_MIN = 1_000
RENDERER = "fast"  # or "sqlglot" (see render())


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column_name(field: str, cased: bool) -> str:
    """Slice-table column of a field: lowercased values, or original case for ``cased``."""
    return _q(slot(field, cased))


def slot(field: str, cased: bool) -> str:
    """Unquoted slice-table column name of a field."""
    return ("o:" if cased else "c:") + ir.field_key(field)


def _json_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class EngineStats:
    """Counters of one run."""

    events: int = 0
    chunks: int = 0
    slices: int = 0
    queries: int = 0
    python_slices: int = 0
    distinct_rows: int = 0  # rows the rules actually ran on, after de-duplication
    rule_slices: int = 0  # (rule variant, slice) pairs evaluated
    invalid_records: int = 0
    seconds_normalize: float = 0.0
    seconds_rules: float = 0.0
    failed_rules: dict[int, str] = field(default_factory=dict)
    not_events: int = 0  # JSON records with no event id, channel or computer
    phase: dict[str, float] = field(default_factory=dict)


@dataclass
class _Slice:
    table: str
    channel: str | None
    provider: str | None
    event_id: int | None
    targets: list[Target]
    needed: set[str]
    cased: set[str]
    keyword: bool
    present: set[str] = field(default_factory=set)
    rows: int = 0
    select: str = ""  # the slice's rows: its narrow columns over the events table
    params: list[Any] = field(default_factory=list)


class DuckEngine:
    """Runs compiled rules over event batches: ``add`` per batch, then ``detections``."""

    HITS = "SELECT DISTINCT rule, eid FROM hits"  # (rule index, event key) of every match

    def __init__(
        self,
        rules: Sequence[CompiledRule],
        *,
        con: duckdb.DuckDBPyConnection | None = None,
        on_warning: Callable[[IngestWarning], None],
        time_from: str | None = None,
        time_to: str | None = None,
        eid_base: int = 0,
        src_base: int = 0,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.rules = list(rules)
        self.chunk_bytes = chunk_bytes
        self.router = Router(self.rules)
        self.on_warning = on_warning
        self.time_from, self.time_to = time_from, time_to
        self.con = con or connect()
        self.stats = EngineStats()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="spearhunt-engine")
        self._pending: Future[None] | None = None
        self.sources: list[str] = []
        self._src_base = src_base
        self._buf_src: list[int] = []
        self._buf_pos: list[int] = []
        self._buf_text: list[Any] = []
        self._buf_bytes = 0
        self._buf_evtx = True
        self._evtx_index: set[int] = set()  # sources read from EVTX files (index from 0)
        self._next_eid = eid_base + 1
        self._first_eid = eid_base + 1
        self._slices: dict[tuple[str | None, str | None, int | None], _Slice] = {}
        self._not_events: set[int] = set()  # sources said to hold records that are no events
        # the case's events table is also the engine's working table (no copy of the events)
        self.con.execute(case_schema.ddl("events"))
        self.con.execute("CREATE OR REPLACE TEMP TABLE hits (rule INTEGER, eid BIGINT)")
        # What each chunk adds to the slices (counted as it arrives, so the end need not scan).
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE slice_groups (slice UBIGINT, "
            "channel VARCHAR, provider VARCHAR, event_id INTEGER, n BIGINT, "
            "evtx BOOLEAN)"
        )
        self.con.execute("CREATE OR REPLACE TEMP TABLE slice_keys (slice UBIGINT, key VARCHAR)")
        self._anywhere_sql: dict[int, str] | None = None
        self._stats_lock = threading.Lock()

    # ------------------------------------------------------------------ input
    def source(self, path: str) -> int:
        """Register an input file; returns its index for ``add``."""
        self.sources.append(path)
        return self._src_base + len(self.sources) - 1

    def add(self, src_index: int, batch: RawBatch) -> None:
        """Buffer one batch; runs a chunk when the buffer is full."""
        self._buf_src.extend([src_index] * len(batch))
        self._buf_pos.extend(batch.positions)
        self._buf_text.extend(batch.texts)
        self._buf_evtx = self._buf_evtx and batch.kind is Kind.EVTX
        if batch.kind is Kind.EVTX:
            self._evtx_index.add(src_index - self._src_base)
        self._buf_bytes += batch.size_bytes or 1500 * len(batch)
        if len(self._buf_text) >= CHUNK_EVENTS or self._buf_bytes >= self.chunk_bytes:
            self.flush(wait=False)

    def flush(self, wait: bool = True) -> None:
        """Normalize the buffered records and append them to the events and slice tables.

        The chunk is handed to the engine thread, so the caller goes on reading the next one
        (reading is Python, DuckDB releases the GIL): with ``wait`` it also waits for it.
        """
        if self._buf_text:
            table = pa.table(
                {
                    "i": pa.array(range(1, len(self._buf_text) + 1), pa.int64()),
                    "src": pa.array(self._buf_src, pa.int32()),
                    "pos": pa.array(self._buf_pos, pa.int64()),
                    "j": _text_array(self._buf_text),
                }
            )
            # DuckDB scans an Arrow table on several threads only batch by batch.
            table = pa.Table.from_batches(table.to_batches(max_chunksize=SCAN_BATCH))
            shape = SHAPE_EVTX if self._buf_evtx else None
            self._buf_text, self._buf_src, self._buf_pos, self._buf_bytes = [], [], [], 0
            self._buf_evtx = True
            self._wait()  # one chunk in flight at most: memory stays bounded
            self._pending = self._worker.submit(self._timed_ingest, table, shape)
        if wait:
            self._wait()

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()  # re-raises what failed in the engine thread

    def _timed_ingest(self, table: pa.Table, shape: int | None) -> None:
        t0 = time.perf_counter()
        try:
            self._ingest_chunk(table, shape)
        except duckdb.OutOfMemoryException:
            raise  # the caller names the options that fix it
        except duckdb.Error as exc:
            raise EngineError(f"normalizing events failed: {exc}") from exc
        self.stats.seconds_normalize += time.perf_counter() - t0

    def close(self) -> None:
        """Stop the engine thread (the connection belongs to the caller)."""
        self._worker.shutdown(wait=True)

    def _ingest_chunk(self, raw: pa.Table, shape: int | None = None) -> None:
        con = self.con
        t0 = time.perf_counter()
        first = self._next_eid
        sql = normalize_sql("raw_chunk", first - 1, self.time_from, self.time_to, shape)
        with arrow_views(con, raw_chunk=raw):
            # Grouped by slice, each slice later reads few vectors of the fields (without
            # this order, building the slices took twice as long at 1M events).
            con.execute(f"INSERT INTO events SELECT * FROM ({sql}) ORDER BY slice")
        self._next_eid += raw.num_rows
        t0 = self._lap("normalize", t0)
        bad = con.execute(
            "SELECT src, pos FROM events WHERE eid >= $1 AND fields IS NULL ORDER BY src, pos",
            [first],
        ).fetchall()
        for src, pos in bad:
            self.on_warning(
                IngestWarning(
                    self.sources[src - self._src_base], "invalid JSON record skipped", line=pos
                )
            )
        if bad:
            con.execute("DELETE FROM events WHERE eid >= $1 AND fields IS NULL", [first])
            self.stats.invalid_records += len(bad)
        # JSON objects with no event id, channel or computer are no Windows events (a Zeek or
        # other log the sniffer took for events): counted and said once per file, not hunted.
        alien = con.execute(
            "SELECT src, count(*), min(pos) FROM events WHERE eid >= $1 AND event_id IS NULL "
            "AND channel IS NULL AND computer IS NULL GROUP BY src",
            [first],
        ).fetchall()
        for src, n, pos in alien:
            self.stats.not_events += n
            if src not in self._not_events:
                self._not_events.add(src)
                self.on_warning(
                    IngestWarning(
                        self.sources[src - self._src_base],
                        "JSON records with no event id, channel or computer skipped "
                        f"(not Windows events; {n:,} in the first chunk)",
                        line=pos,
                    )
                )
        if alien:
            con.execute(
                "DELETE FROM events WHERE eid >= $1 AND event_id IS NULL AND channel IS NULL "
                "AND computer IS NULL",
                [first],
            )
        skipped = len(bad) + sum(n for _, n, _ in alien)
        self.stats.events += raw.num_rows - skipped  # minus what the time window dropped below
        self.stats.chunks += 1
        self._lap("invalid", t0)
        self._index_chunk(first)

    def _lap(self, phase: str, since: float) -> float:
        """Add the time since ``since`` to a phase; returns now."""
        now = time.perf_counter()
        with self._stats_lock:
            self.stats.phase[phase] = self.stats.phase.get(phase, 0) + now - since
        return now

    def _index_chunk(self, first: int) -> None:
        """Events from ``first`` on were just appended: see ``_index_rows``."""
        self._index_rows("(SELECT * FROM events WHERE eid >= $1)", [first])

    def _index_rows(self, rows: str, params: list[Any]) -> None:
        """Events just appended (``rows``, a relation over them): tally their slices and field
        names, and run the product-wide rules over them. On the engine thread, this overlaps
        reading the next chunk; at the end of the run it would be a pass over every event."""
        t0 = time.perf_counter()
        self.con.execute(
            "INSERT INTO slice_groups SELECT slice, channel, provider, event_id, "
            f"count(*), bool_or(sys IS NOT NULL) FROM {rows} GROUP BY ALL",
            params,
        )
        self.con.execute(
            f"INSERT INTO slice_keys SELECT DISTINCT slice, unnest(json_keys(fields)) FROM {rows}",
            params,
        )
        t0 = self._lap("keys", t0)
        if self.router.anywhere:
            self._match_anywhere(rows, params)
            self._lap("anywhere", t0)

    @property
    def next_eid(self) -> int:
        """The event key the next event will get."""
        return self._next_eid

    def add_normalized(self, select: str) -> None:
        """Append events that are normalized already: ``select`` gives the columns of
        ``EVENT_COLUMNS`` (e.g. over the Parquet that ``spearhunt ingest --to-parquet`` writes).

        Their event keys are theirs (a dataset's ``eid``), in any order: they are staged, so
        exactly these rows are indexed, whatever keys came before them.
        """
        self.flush()
        t0 = time.perf_counter()
        cols = ", ".join(n for n, _ in EVENT_COLUMNS)
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE new_events AS SELECT {cols} FROM ({select})"
        )
        try:
            added, top = self.con.execute(  # type: ignore[misc]
                "SELECT count(*), max(eid) FROM new_events"
            ).fetchone()
            self.con.execute("INSERT INTO events SELECT * FROM new_events ORDER BY slice")
            self._next_eid = max(self._next_eid, (top or 0) + 1)
            self.stats.events += added
            self.stats.chunks += 1
            self._index_rows("new_events", [])
        finally:
            self.con.execute("DROP TABLE IF EXISTS new_events")
        self._lap("normalize", t0)

    def _build_slices(self) -> None:
        """One narrow table per (channel, provider, event id) of this run's events."""
        t0 = time.perf_counter()
        groups = self.con.execute(
            "WITH g AS (SELECT slice, channel, provider, event_id, sum(n) AS n, "
            "  bool_or(evtx) AS evtx FROM slice_groups GROUP BY ALL), "
            "k AS (SELECT slice, list(DISTINCT key ORDER BY key) AS keys FROM slice_keys "
            "  GROUP BY slice) "
            "SELECT g.slice, channel, provider, event_id, n, keys, evtx FROM g "
            "LEFT JOIN k USING (slice) ORDER BY ALL"
        ).fetchall()
        self.stats.events = sum(g[4] for g in groups)
        t1 = self._lap("keys", t0)
        for key, channel, provider, event_id, count, keys, evtx_shape in groups:
            keys = list(keys or [])
            if evtx_shape:
                known = {ir.field_key(x) for x in keys}
                keys += [k for k in SYSTEM_FIELD_COLUMNS if k not in known]
            self._make_slice(key, channel, provider, event_id, count, keys)
        self._lap("slices", t1)

    def _make_slice(
        self,
        key: int,
        channel: str | None,
        provider: str | None,
        event_id: int | None,
        count: int,
        keys: list[str],
    ) -> None:
        targets = self.router.candidates(channel, provider, event_id)
        if not targets:
            return
        needed, cased = needed_fields(t.tree for t in targets)
        keyword = "*" in needed
        needed.discard("*")
        by_key: dict[str, list[str]] = {}
        for k in keys:
            by_key.setdefault(ir.field_key(k), []).append(k)
        present = set(by_key) | {"computer"}
        s = _Slice(
            f"slice_{len(self._slices)}",
            channel,
            provider,
            event_id,
            targets,
            needed,
            cased,
            keyword,
            present=present,
            rows=count,
        )
        self._slices[(channel, provider, event_id)] = s
        names, exprs, paths = ["eid"], ["eid"], []
        for f in sorted(needed & present):
            if f == "computer" and f not in by_key:
                value = "computer"
            elif f in SYSTEM_FIELD_COLUMNS and by_key[f] == [f]:
                value = SYSTEM_FIELD_COLUMNS[f]
            else:
                idx = []
                for k in by_key[f]:
                    paths.append(_json_path(k))
                    idx.append(len(paths))
                value = (
                    f"coalesce({', '.join(f'v[{i}]' for i in idx)})"
                    if len(idx) > 1
                    else f"v[{idx[0]}]"
                )
            names.append(column_name(f, False))
            exprs.append(f"lower({value})")
            if f in cased:
                names.append(column_name(f, True))
                exprs.append(value)
        if keyword:
            names += ["_kw", "_kw_cs"]
            exprs += [
                "lower(array_to_string(json_extract_string(fields, '$.*'), chr(10)))",
                "array_to_string(json_extract_string(fields, '$.*'), chr(10))",
            ]
        plist = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
        extract = f", json_extract_string(fields, {plist}) AS v" if paths else ""
        cols = ", ".join(f"{e} AS {n}" for n, e in zip(names, exprs, strict=True))
        # Not run here: a slice whose rules all fold away is never read, a small one is
        # read straight into Python, a big one becomes a table (see _run_slice).
        s.select = (
            f"SELECT {cols} FROM "
            f"(SELECT eid, fields, computer, sys{extract} FROM events WHERE slice = $2 "
            f"AND eid >= $1 AND channel IS NOT DISTINCT FROM $3 AND provider IS NOT "
            f"DISTINCT FROM $4 AND event_id IS NOT DISTINCT FROM $5)"
        )  # hash, then exact
        s.params = [self._first_eid, key, channel, provider, event_id]

    def _match_anywhere(self, rows: str, params: list[Any]) -> None:
        """Product-wide rules (keyword searches over every Windows log) over the events just
        appended (``rows``), in one pass; a rule DuckDB refuses is reported, the others still run."""
        if self._anywhere_sql is None:
            renderer = Renderer(DUCKDB, _chunk_column, keyword_json="CAST(fields AS VARCHAR)")
            self._anywhere_sql = {t.index: renderer.render(t.tree) for t in self.router.anywhere}
        rules = [
            (i, sql) for i, sql in self._anywhere_sql.items() if i not in self.stats.failed_rules
        ]
        try:
            self._anywhere_query(rows, params, rules)
        except duckdb.OutOfMemoryException:
            raise
        except duckdb.Error:
            for one in rules:
                try:
                    self._anywhere_query(rows, params, [one])
                except duckdb.OutOfMemoryException:
                    raise
                except duckdb.Error as exc:
                    self.stats.failed_rules[one[0]] = str(exc).splitlines()[0]

    def _anywhere_query(self, rows: str, params: list[Any], rules: list[tuple[int, str]]) -> None:
        if not rules:
            return
        parts = [f"CASE WHEN {sql} THEN {i} END" for i, sql in rules]
        self.con.execute(
            f"INSERT INTO hits SELECT rule, eid FROM (SELECT eid, unnest([{', '.join(parts)}]) "
            f"AS rule FROM {rows}) WHERE rule IS NOT NULL",
            params,
        )

    # ------------------------------------------------------------------ rules
    def run_rules(self, on_progress: Progress | None = None) -> None:
        """Flush input, then match every slice against its rules (once per run).

        Small slices are read through a second connection and matched in Python on this
        thread while the engine thread builds the big slices and binds their SQL: DuckDB
        works without the GIL, so the two overlap on two cores.
        """
        self.flush()
        self._build_slices()
        t0 = time.perf_counter()
        slices = [s for s in self._slices.values() if s.rows]
        slices.sort(key=lambda s: (-s.rows, str(s.channel), str(s.provider), s.event_id or 0))
        small: list[tuple[_Slice, list[tuple[Target, ir.Node]]]] = []
        big: list[tuple[_Slice, list[tuple[Target, ir.Node]]]] = []
        for s in slices:
            work = self._work(s)
            if work:
                (small if _python_sized(s.rows, len(work)) else big).append((s, work))
        pending = self._worker.submit(self._run_big, big)
        hits: list[tuple[int, int]] = []
        reader = self.con.cursor()
        try:
            for n, (s, work) in enumerate(small, 1):
                t1 = time.perf_counter()
                cur = reader.execute(s.select, s.params)
                names = [c[0] for c in cur.description]
                rows = cur.fetchall()
                self._count(distinct_rows=len(rows), python_slices=1)
                t1 = self._lap("slices", t1)
                hits.extend(_match_python(names, rows, work))
                self._lap("python rules", t1)
                if on_progress:
                    on_progress(n, len(small) + len(big), "slices")
        finally:
            reader.close()
            pending.result()  # re-raises what failed on the engine thread
        if hits:
            self._insert_hits(hits)
        if self.stats.failed_rules:  # a rule refused on a later chunk has no partial results
            self.con.execute(
                "DELETE FROM hits WHERE list_contains($1, rule)", [sorted(self.stats.failed_rules)]
            )
        self.stats.seconds_rules += time.perf_counter() - t0

    def _count(self, **counters: int) -> None:
        """Add to the run's counters (both threads of ``run_rules`` count, hence the lock)."""
        with self._stats_lock:
            for name, n in counters.items():
                setattr(self.stats, name, getattr(self.stats, name) + n)

    def _work(self, s: _Slice) -> list[tuple[Target, ir.Node]]:
        """The slice's rules, each folded for it; rules that cannot match it are left out."""
        work: list[tuple[Target, ir.Node]] = []
        for t in s.targets:
            tree = specialize(t, s.channel, s.provider, s.event_id, s.present)
            if tree != ir.FALSE:
                work.append((t, tree))
        self._count(slices=1 if work else 0, rule_slices=len(work))
        return work

    def _run_big(self, big: list[tuple[_Slice, list[tuple[Target, ir.Node]]]]) -> None:
        for s, work in big:
            self._run_table_slice(s, work)

    def _run_table_slice(self, s: _Slice, work: list[tuple[Target, ir.Node]]) -> None:
        """A big slice as a table, de-duplicated first; matched in SQL (or Python when few
        distinct rows remain)."""
        t0 = time.perf_counter()
        if s.rows >= DEDUP_MIN:
            # Logs repeat themselves (the same service, task or script runs thousands of
            # times): rules run once per distinct combination of the fields they read.
            table = f"{s.table}_u"
            rows = self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * EXCLUDE (eid), "
                f"list(eid) AS eids FROM ({s.select}) GROUP BY ALL",
                s.params,
            ).fetchone()[0]  # type: ignore[index]
        else:
            table = s.table
            rows = self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS {s.select}", s.params
            ).fetchone()[0]  # type: ignore[index]
        self._count(distinct_rows=rows)
        t0 = self._lap("slices", t0)
        try:
            if _python_sized(rows, len(work)):
                cur = self.con.execute(f"SELECT * FROM {table}")
                names = [c[0] for c in cur.description]
                hits = _match_python(names, cur.fetchall(), work)
                if hits:
                    self._insert_hits(hits)
                self._count(python_slices=1)
                self._lap("python rules", t0)
            else:
                self._run_sql(table, work)
        finally:
            self.con.execute(f"DROP TABLE {table}")

    def _insert_hits(self, hits: list[tuple[int, int]]) -> None:
        tbl = pa.table(
            {
                "rule": pa.array([h[0] for h in hits], pa.int32()),
                "eid": pa.array([h[1] for h in hits], pa.int64()),
            }
        )
        with arrow_views(self.con, new_hits=tbl):
            self.con.execute("INSERT INTO hits SELECT * FROM new_hits")

    def _run_sql(self, table: str, work: list[tuple[Target, ir.Node]]) -> None:
        t0 = time.perf_counter()
        # Planning dominates rule queries; the rewrites the optimizer would make (LIKE ->
        # contains, constant folding, pushdown) are already done by the compiler.
        self.con.execute("PRAGMA disable_optimizer")
        try:
            self._run_sql_batches(table, work)
        finally:
            self.con.execute("PRAGMA enable_optimizer")
            self._lap("sql rules", t0)

    def _run_sql_batches(self, table: str, work: list[tuple[Target, ir.Node]]) -> None:
        batch: list[tuple[Target, str]] = [(t, render(tree)) for t, tree in work]
        for start in range(0, len(batch), RULES_PER_QUERY):
            part = batch[start : start + RULES_PER_QUERY]
            try:
                self._query(table, part)
            except duckdb.OutOfMemoryException:
                raise
            except duckdb.Error:
                for one in part:  # find the rule the engine refuses; the others still run
                    try:
                        self._query(table, [one])
                    except duckdb.OutOfMemoryException:
                        raise
                    except duckdb.Error as exc:
                        self.stats.failed_rules[one[0].index] = str(exc).splitlines()[0]

    def _query(self, table: str, part: list[tuple[Target, str]]) -> None:
        cases = ", ".join(f"CASE WHEN {sql} THEN {t.index} END" for t, sql in part)
        ids = "eids" if table.endswith("_u") else "[eid]"
        self.con.execute(
            f"INSERT INTO hits SELECT rule, unnest(ids) FROM (SELECT {ids} AS ids, "
            f"unnest([{cases}]) AS rule FROM {table}) WHERE rule IS NOT NULL"
        )
        self.stats.queries += 1

    # ------------------------------------------------------------------ output
    def detections(
        self, batch: int = 10_000, only: Sequence[int] | None = None
    ) -> Iterator[Detection]:
        """Every (rule, event) match, in time order (then event, then rule): deterministic;
        with ``only``, those of these rules (indexes in the rule list)."""
        where = "WHERE list_contains($1, h.rule) " if only is not None else ""
        cur = self.con.execute(
            "SELECT h.rule, e.eid, e.ts, e.computer, e.channel, e.event_id, e.record_id, e.src, "
            f"e.fields FROM ({self.HITS}) h JOIN events e USING (eid) {where}"
            "ORDER BY e.ts NULLS LAST, e.eid, h.rule",
            [list(only)] if only is not None else [],
        )
        infos = [r.info for r in self.rules]  # this loop runs once per detection: no lookups
        sources, base = self.sources, self._src_base
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                return
            for rule, eid, ts, computer, channel, event_id, record_id, src, fields in rows:
                yield Detection(
                    infos[rule],
                    ts,
                    computer,
                    channel,
                    event_id,
                    record_id,
                    sources[src - base],
                    event_fields(fields),
                    eid,
                )

    def hit_rows(
        self,
        select: str,
        params: list[Any],
        by_rule: dict[str, list[Any]],
        by_source: dict[str, list[Any]],
        batch: int = 10_000,
    ) -> Iterator[pa.RecordBatch]:
        """The hits of output rules (``RuleInfo.output``) in the order of ``detections``, as
        Arrow batches of ``select``, a query over ``hit``: each hit's rule, eid, ts, computer,
        channel, event_id, record_id, src, fields and evtx (its fields are an EVTX record's),
        with the columns of ``by_rule`` joined on ``rule`` and ``by_source`` on ``src``
        (integer keys, text columns). The engine runs it; what it builds is the caller's
        (``model.detection.json_runs``: the JSON output contract)."""
        base = self._src_base
        self._temp_table("out_rules", _lookup(by_rule, "rule"))
        evtx = [src - base in self._evtx_index for src in by_source.get("src", [])]
        self._temp_table("out_sources", _lookup({**by_source, "evtx": evtx}, "src"))
        # Sorted first, built after: the sort carries the fields, not the longer texts. The
        # rows are then built by a SELECT over the sorted ones: it must keep their order,
        # which this connection is otherwise free to drop outside a top-level ORDER BY.
        self.con.execute("SET preserve_insertion_order = true")
        hit = (
            "SELECT h.rule, e.eid, e.ts, e.computer, e.channel, e.event_id, e.record_id, e.src, "
            "e.fields, r.* EXCLUDE (rule), s.* EXCLUDE (src) "
            f"FROM ({self.HITS}) h JOIN events e USING (eid) JOIN out_rules r USING (rule) "
            "JOIN out_sources s ON s.src = e.src ORDER BY e.ts NULLS LAST, e.eid, h.rule"
        )
        reader = self.con.sql(f"WITH hit AS ({hit}) {select}", params=params).to_arrow_reader(batch)
        yield from reader

    def hit_detection(self, row: dict[str, Any]) -> Detection:
        """The ``Detection`` of a hit row of ``hit_rows`` (its rule, eid, ts, computer,
        channel, event_id, record_id, src and fields)."""
        return Detection(
            self.rules[row["rule"]].info,
            row["ts"],
            row["computer"],
            row["channel"],
            row["event_id"],
            row["record_id"],
            self.sources[row["src"] - self._src_base],
            event_fields(row["fields"]),
            row["eid"],
        )

    def _temp_table(self, name: str, table: pa.Table) -> None:
        """A small temporary table of ``table``'s rows (a registered view could not be dropped
        while a result that reads it is being fetched)."""
        with arrow_views(self.con, _arrow_in=table):
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _arrow_in")

    def output_counts(self) -> list[tuple[int, str | None, int]]:
        """(rule, computer, detections) of what ``output`` gives."""
        ids = [i for i, r in enumerate(self.rules) if r.info.output]
        return self.con.execute(
            f"SELECT h.rule, e.computer, count(*) FROM ({self.HITS}) h "
            "JOIN events e USING (eid) WHERE list_contains($1, h.rule) GROUP BY ALL",
            [ids],
        ).fetchall()


def _python_sized(rows: int, rules: int) -> bool:
    """Whether matching ``rules`` over ``rows`` is cheaper in Python than binding SQL."""
    return rows <= PYTHON_ROWS_MAX and rows * rules <= PYTHON_WORK_MAX


def _match_python(
    names: list[str], rows: list[tuple[Any, ...]], work: list[tuple[Target, ir.Node]]
) -> list[tuple[int, int]]:
    """(rule, event key) of every match of a slice's rows (``names`` are the columns)."""
    pos = {n: i for i, n in enumerate(names)}
    grouped = "eids" in pos
    key = pos["eids"] if grouped else pos["eid"]

    def index(field: str, cased: bool) -> int:
        return pos[slot(field, cased)]

    def kw_index(cased: bool) -> int:
        return pos["_kw_cs" if cased else "_kw"]

    hits: list[tuple[int, int]] = []
    for t, tree in work:
        pred = compile_tree(tree, index, kw_index)
        if grouped:
            hits.extend((t.index, e) for r in rows if pred(r) for e in r[key])
        else:
            hits.extend((t.index, r[key]) for r in rows if pred(r))
    return hits


def render(tree: ir.Node) -> str:
    """DuckDB SQL of a tree over slice columns: the fast renderer, or sqlglot's (the
    dialect-neutral reference, used by tests to prove both give the same detections)."""
    if RENDERER == "sqlglot":
        from sqlglot import exp

        from spearhunt.detect.engine.sql import to_sqlglot

        return to_sqlglot(tree, lambda f, c: exp.column(slot(f, c), quoted=True)).sql("duckdb")
    return Renderer(DUCKDB, column_name).render(tree)


_CHUNK_COLUMNS = {
    "eventid": "CAST(event_id AS VARCHAR)",
    "channel": "channel",
    "provider_name": "provider",
    "computer": "computer",
}


def _chunk_column(field: str, cased: bool) -> str:
    """A field as an expression over the chunk table (for product-wide rules)."""
    key = ir.field_key(field)
    expr = _CHUNK_COLUMNS.get(key) or (
        "json_extract_string(fields, " + "'" + _json_path(field).replace("'", "''") + "')"
    )
    return expr if cased else f"lower({expr})"


def _lookup(columns: dict[str, list[Any]], key: str) -> pa.Table:
    """A small lookup table: the integer ``key`` column and text (or flag) columns."""
    return pa.table(
        {
            k: pa.array(v, pa.int32() if k == key else pa.bool_() if k == "evtx" else pa.string())
            for k, v in columns.items()
        }
    )


def _text_array(texts: list[Any]) -> pa.Array:
    """Arrow strings from str or UTF-8 bytes; invalid UTF-8 is replaced, not fatal."""
    if texts and isinstance(texts[0], bytes):
        arr = pa.array(texts, pa.binary())
        try:
            return arr.cast(pa.string())
        except pa.ArrowInvalid:
            return pa.array([t.decode("utf-8", "replace") for t in texts], pa.string())
    return pa.array(texts, pa.string())
