"""Matching in the DuckDB engine: slices of events meet only their rules, folded for them.

When input ends, each slice (channel, provider, event id) becomes one narrow SELECT of the
lowercased fields its rules read, and meets only the rules routed to it, folded for it
(``plan.specialize``), in a single query per batch of rules, so each rule is bound once per
run whatever the input size; slices too small to be worth a query are matched in Python
(``pyeval``) over the very same columns, alongside the SQL. Big slices are de-duplicated
first: rules run once per distinct combination of the fields they read.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from spearhunt.detect.engine.chunks import ChunkQueue
from spearhunt.detect.engine.plan import Router, Target, needed_fields, specialize
from spearhunt.detect.engine.pyeval import compile_tree
from spearhunt.detect.engine.slices import column_name, json_path, slot
from spearhunt.detect.engine.sql import DUCKDB, Renderer
from spearhunt.detect.sigma import ir
from spearhunt.model.callbacks import Progress
from spearhunt.normalize.windows import SYSTEM_FIELD_COLUMNS
from spearhunt.store.db import arrow_views

RULES_PER_QUERY = 64
# Below this many (row x rule) evaluations a slice is matched in Python: binding a rule in
# DuckDB costs ~1 ms, evaluating one in Python ~1-2 µs (measured on the shared EVTX corpus).
PYTHON_WORK_MAX = 400_000
PYTHON_ROWS_MAX = 600
DEDUP_MIN = 1_000
RENDERER = "fast"  # or "sqlglot" (see render())


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
    repeated_keys: int = 0  # records read again with the last value of a repeated key
    phase: dict[str, float] = field(default_factory=dict)


@dataclass
class Slice:
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


class SliceMatcher:
    """The matching half of ``DuckEngine``: slices built from what ingestion tallied
    (``slice_groups``, ``slice_keys``), rules run over them into ``hits``."""

    con: duckdb.DuckDBPyConnection
    router: Router
    stats: EngineStats
    _chunks: ChunkQueue
    _slices: dict[tuple[str | None, str | None, int | None], Slice]
    _first_eid: int
    _stats_lock: threading.Lock

    def flush(self, wait: bool = True) -> None:
        """Finish the input (``DuckEngine.flush``)."""
        raise NotImplementedError

    def _lap(self, phase: str, since: float) -> float:
        """Add the time since ``since`` to a phase; returns now."""
        now = time.perf_counter()
        with self._stats_lock:
            self.stats.phase[phase] = self.stats.phase.get(phase, 0) + now - since
        return now

    def _build_slices(self) -> None:
        """One narrow table per (channel, provider, event id) of this run's events."""
        t0 = time.perf_counter()
        groups = self.con.execute(
            "WITH g AS (SELECT slice, channel, provider, event_id, sum(n) AS n, "
            "  bool_or(evtx) AS evtx FROM slice_groups GROUP BY ALL), "
            "k AS (SELECT slice, list(DISTINCT key ORDER BY key) AS keys FROM slice_keys "
            "  GROUP BY slice) "
            "SELECT g.slice, channel, provider, event_id, n, keys, evtx FROM g "
            "LEFT JOIN k USING (slice) WHERE n > 0 ORDER BY ALL"
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
        s = Slice(
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
                    paths.append(json_path(k))
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
        small: list[tuple[Slice, list[tuple[Target, ir.Node]]]] = []
        big: list[tuple[Slice, list[tuple[Target, ir.Node]]]] = []
        for s in slices:
            work = self._work(s)
            if work:
                (small if _python_sized(s.rows, len(work)) else big).append((s, work))
        pending = self._chunks.submit(self._run_big, big)
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

    def _work(self, s: Slice) -> list[tuple[Target, ir.Node]]:
        """The slice's rules, each folded for it; rules that cannot match it are left out."""
        work: list[tuple[Target, ir.Node]] = []
        for t in s.targets:
            tree = specialize(t, s.channel, s.provider, s.event_id, s.present)
            if tree != ir.FALSE:
                work.append((t, tree))
        self._count(slices=1 if work else 0, rule_slices=len(work))
        return work

    def _run_big(self, big: list[tuple[Slice, list[tuple[Target, ir.Node]]]]) -> None:
        for s, work in big:
            self._run_table_slice(s, work)

    def _run_table_slice(self, s: Slice, work: list[tuple[Target, ir.Node]]) -> None:
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
