"""The embedded engine: DuckDB normalizes events and runs every rule.

Input streams through in chunks (``chunks``). On the engine thread, each chunk is normalized
by one SQL statement (no record is parsed in Python) and appended to the ``events`` table;
its *slices* (channel, provider, event id) and their field names are tallied and the
product-wide rules run over it, while the caller reads the next chunk. When input ends, the
slices meet their rules (``matching``). Hits are read back in time order, as ``Detection``
or as rows of a caller's projection (``hit_rows``: the output contract is
``model.detection``'s, not the engine's).

Memory stays bounded: chunks are dropped once appended, and the database spills to disk past
``memory_limit`` (a file-backed case store, or DuckDB's temp directory; ``memory``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from spearhunt.detect.engine.chunks import CHUNK_BYTES, CHUNK_EVENTS, ChunkQueue
from spearhunt.detect.engine.matching import EngineStats, Slice, SliceMatcher
from spearhunt.detect.engine.plan import Router
from spearhunt.detect.engine.slices import json_path
from spearhunt.detect.engine.sql import DUCKDB, Renderer
from spearhunt.detect.sigma import ir
from spearhunt.detect.sigma.compiler import CompiledRule
from spearhunt.errors import EngineError
from spearhunt.ingest.events import RawBatch
from spearhunt.ingest.sources import Kind
from spearhunt.model import Detection, IngestWarning
from spearhunt.normalize.windows import (
    EVENT_COLUMNS,
    event_fields,
    last_values,
    normalize_sql,
)
from spearhunt.store import schema as case_schema
from spearhunt.store.db import arrow_views, connect

log = logging.getLogger(__name__)
STAGE_CHUNKS = 2  # chunks' worth of record texts the stage holds at most


class DuckEngine(SliceMatcher):
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
        self.router = Router(self.rules)
        self.on_warning = on_warning
        self.time_from, self.time_to = time_from, time_to
        self.con = con or connect()
        self.stats = EngineStats()
        self._chunks = ChunkQueue(self._timed_ingest, chunk_bytes)
        self.sources: list[str] = []
        self._src_base = src_base
        self._evtx_index: set[int] = set()  # sources read from EVTX files (index from 0)
        self._next_eid = eid_base + 1
        self._first_eid = eid_base + 1
        self._slices: dict[tuple[str | None, str | None, int | None], Slice] = {}
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
        # Chunks that can hold a whole unit of work go straight into events; smaller ones
        # (a small memory budget) are staged until they make one (``_drain``).
        self._direct = chunk_bytes >= CHUNK_BYTES
        self._staged = 0  # events normalized into the stage, not yet appended to events
        self._staged_bytes = 0  # their record texts' size
        # The stage lives in DuckDB's share of the limit: at most two chunks' texts (a
        # sixteenth of the limit), so a small limit drains it before it crowds the events
        # out (four chunks held ~80 MB more at peak at 768MB for no measurable speed).
        self._stage_bytes = STAGE_CHUNKS * chunk_bytes
        self._new_stage()
        self._anywhere_sql: dict[int, str] | None = None
        self._stats_lock = threading.Lock()

    # ------------------------------------------------------------------ input
    def source(self, path: str) -> int:
        """Register an input file; returns its index for ``add``."""
        self.sources.append(path)
        return self._src_base + len(self.sources) - 1

    def add(self, src_index: int, batch: RawBatch) -> None:
        """Buffer one batch; a full chunk is normalized on the engine thread."""
        if batch.kind is Kind.EVTX:
            self._evtx_index.add(src_index - self._src_base)
        self._chunks.add(src_index, batch)

    def flush(self, wait: bool = True) -> None:
        """Normalize the buffered records and append them to the events and slice tables.

        The chunk is handed to the engine thread, so the caller goes on reading the next one
        (reading is Python, DuckDB releases the GIL): with ``wait`` it also waits for it and
        for the staged events to be appended and indexed.
        """
        self._chunks.flush(wait)
        if wait:
            self._chunks.submit(self._timed, self._drain).result()

    def _timed_ingest(self, table: pa.Table, shape: int | None) -> None:
        self._timed(self._ingest_chunk, table, shape)

    def _timed(self, step: Callable[..., None], *args: Any) -> None:
        t0 = time.perf_counter()
        try:
            step(*args)
        except duckdb.OutOfMemoryException:
            raise  # the caller names the options that fix it
        except duckdb.Error as exc:
            raise EngineError(f"normalizing events failed: {exc}") from exc
        self.stats.seconds_normalize += time.perf_counter() - t0

    def _new_stage(self) -> None:
        """An empty stage: the events of the chunks since the last ``_drain`` (none when
        chunks go straight in), and their field names (``stage_keys``). Replaced, not
        emptied, so its memory goes back."""
        if not self._direct:
            self.con.execute("CREATE OR REPLACE TEMP TABLE stage AS SELECT * FROM events LIMIT 0")
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE stage_keys (eid BIGINT, slice UBIGINT, k VARCHAR[])"
        )

    def close(self) -> None:
        """Stop the engine thread (the connection belongs to the caller)."""
        self._chunks.close()

    def _ingest_chunk(self, raw: pa.Table, shape: int | None = None) -> None:
        con = self.con
        t0 = time.perf_counter()
        first = self._next_eid
        sql = normalize_sql("raw_chunk", first - 1, self.time_from, self.time_to, shape)
        # Grouped by slice, each slice later reads few vectors of the fields (without this
        # order, building the slices took twice as long at 1M events).
        into, order = ("events", " ORDER BY slice") if self._direct else ("stage", "")
        with arrow_views(con, raw_chunk=raw):
            con.execute(f"INSERT INTO {into} SELECT * FROM ({sql}){order}")
        self._next_eid += raw.num_rows
        t0 = self._lap("normalize", t0)
        bad = con.execute(
            f"SELECT src, pos FROM {into} WHERE eid >= $1 AND fields IS NULL ORDER BY src, pos",
            [first],
        ).fetchall()
        for src, pos in bad:
            self.on_warning(
                IngestWarning(
                    self.sources[src - self._src_base], "invalid JSON record skipped", line=pos
                )
            )
        if bad:
            con.execute(f"DELETE FROM {into} WHERE eid >= $1 AND fields IS NULL", [first])
            self.stats.invalid_records += len(bad)
        # JSON objects with no event id, channel or computer are no Windows events (a Zeek or
        # other log the sniffer took for events): counted and said once per file, not hunted.
        alien = con.execute(
            f"SELECT src, count(*), min(pos) FROM {into} WHERE eid >= $1 AND event_id IS NULL "
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
                f"DELETE FROM {into} WHERE eid >= $1 AND event_id IS NULL AND channel IS NULL "
                "AND computer IS NULL",
                [first],
            )
        skipped = len(bad) + sum(n for _, n, _ in alien)
        self.stats.events += raw.num_rows - skipped  # minus what the time window dropped below
        self.stats.chunks += 1
        self._lap("invalid", t0)
        self._check_keys(raw, first, into)
        if self._direct:
            self._index_rows("(SELECT * FROM events WHERE eid >= $1)", [first], "stage_keys")
            self._new_stage()
        else:
            self._staged += raw.num_rows - skipped
            self._staged_bytes += raw.column("j").nbytes
            if self._staged >= CHUNK_EVENTS or self._staged_bytes >= self._stage_bytes:
                self._drain()

    def _check_keys(self, raw: pa.Table, first: int, into: str) -> None:
        """Events from ``first`` on were just added from ``raw`` to ``into`` (``events`` or
        ``stage``): their field names are listed (``stage_keys``, which the slices tally
        later, so the check costs no second parse of the fields) and records whose fields
        repeat a key are read again with the last value of each (``_last_values``)."""
        t0 = time.perf_counter()
        self.con.execute(
            f"INSERT INTO stage_keys SELECT eid, slice, json_keys(fields) FROM {into} "
            "WHERE eid >= $1",
            [first],
        )
        repeated = self.con.execute(
            "SELECT eid FROM stage_keys WHERE eid >= $1 AND len(k) > len(list_distinct(k)) "
            "ORDER BY eid",
            [first],
        ).fetchall()
        if repeated:
            self._last_values(raw, first, [e for (e,) in repeated], into)
        self._lap("keys", t0)

    def _drain(self) -> None:
        """Append the staged events to ``events`` and index them (``_index_rows``).

        The stage decouples the unit of this work from the input chunk: a chunk is as small
        as the memory budget wants (a few MB of record texts at small limits), while the
        steps here cost per call as much as per event. Run on up to 100k events at a time
        (fewer when two chunks' texts come first: the stage is in DuckDB's pool), each
        slice's rows lie in few runs of the events table (they are appended grouped by
        slice), and field names and product-wide rules run in few large passes: at 768MB,
        1M events took ~15% more time when each ~12k-event chunk went in by itself."""
        if not self._staged:
            return
        t0 = time.perf_counter()
        self.con.execute("INSERT INTO events SELECT * FROM stage ORDER BY slice")
        self._lap("append", t0)
        self._index_rows("stage", [], "stage_keys")
        self._staged = self._staged_bytes = 0
        self._new_stage()

    def _last_values(self, raw: pa.Table, first: int, eids: list[int], into: str) -> None:
        """Normalize again the records of ``raw`` whose fields repeat a key, each key once with
        its last value: DuckDB's JSON functions read the first, the output (and most JSON
        readers) the last, so a rule could match a value the analyst never sees. Said once
        per file and chunk, with where the first such record is."""
        texts = raw.column("j")
        fixed: dict[str, list[Any]] = {"i": [], "src": [], "pos": [], "j": []}
        for eid in eids:
            row = eid - first  # raw's row i (from 1) became event first - 1 + i
            text = last_values(texts[row].as_py())
            if text is not None:
                fixed["i"].append(row + 1)
                fixed["src"].append(raw.column("src")[row].as_py())
                fixed["pos"].append(raw.column("pos")[row].as_py())
                fixed["j"].append(text)
        if not fixed["i"]:
            return
        again = [first + i - 1 for i in fixed["i"]]
        table = pa.table(
            {
                "i": pa.array(fixed["i"], pa.int64()),
                "src": pa.array(fixed["src"], pa.int32()),
                "pos": pa.array(fixed["pos"], pa.int64()),
                "j": pa.array(fixed["j"], pa.string()),
            }
        )
        sql = normalize_sql("fixed_chunk", first - 1, self.time_from, self.time_to)
        self.con.execute(f"DELETE FROM {into} WHERE list_contains($1, eid)", [again])
        self.con.execute("DELETE FROM stage_keys WHERE list_contains($1, eid)", [again])
        with arrow_views(self.con, fixed_chunk=table):
            self.con.execute(f"INSERT INTO {into} SELECT * FROM ({sql})")
        self.con.execute(
            f"INSERT INTO stage_keys SELECT eid, slice, json_keys(fields) FROM {into} "
            "WHERE list_contains($1, eid)",
            [again],
        )
        by_src: dict[int, list[int]] = {}
        for src, pos in zip(fixed["src"], fixed["pos"], strict=True):
            by_src.setdefault(src, []).append(pos)
        for src, positions in by_src.items():
            index = src - self._src_base
            where = (
                {"record": positions[0]} if index in self._evtx_index else {"line": positions[0]}
            )
            n = len(positions)
            self.on_warning(
                IngestWarning(
                    self.sources[index],
                    f"{n:,} JSON record{'s' if n > 1 else ''} with a key given twice: "
                    "the last value of each key is kept (the first such record here)",
                    **where,
                )
            )
        self.stats.repeated_keys += len(again)

    def _index_rows(self, rows: str, params: list[Any], keys: str | None = None) -> None:
        """Events just appended (``rows``, a relation over them): tally their slices and field
        names (``keys``: a table of their slices' key lists, else read from ``rows``), and run
        the product-wide rules over them. On the engine thread, this overlaps reading the next
        chunk; at the end of the run it would be a pass over every event."""
        t0 = time.perf_counter()
        self.con.execute(
            "INSERT INTO slice_groups SELECT slice, channel, provider, event_id, "
            f"count(*), bool_or(sys IS NOT NULL) FROM {rows} GROUP BY ALL",
            params,
        )
        if keys:
            self.con.execute(f"INSERT INTO slice_keys SELECT DISTINCT slice, unnest(k) FROM {keys}")
        else:
            self.con.execute(
                "INSERT INTO slice_keys SELECT DISTINCT slice, unnest(json_keys(fields)) "
                f"FROM {rows}",
                params,
            )
        t0 = self._lap("keys", t0)
        if self.router.anywhere:
            self._match_anywhere(rows, params)
            self._lap("anywhere", t0)

    def drop_outside(self, first_eid: int, time_from: str | None, time_to: str | None) -> int:
        """Drop the events from ``first_eid`` on whose time is not within [``time_from``,
        ``time_to``] (either may be None), with their hits and their share of the slice
        counts; returns how many. For a window applied after the times are corrected: the
        chunks were normalized with a wider one (``DuckRun``)."""
        where = (
            "eid >= $1 AND (ts IS NULL OR ts < coalesce($2::TIMESTAMP, ts) "
            "OR ts > coalesce($3::TIMESTAMP, ts))"
        )
        params = [first_eid, time_from, time_to]
        [(n,)] = self.con.execute(f"SELECT count(*) FROM events WHERE {where}", params).fetchall()
        if not n:
            return 0
        self.con.execute(
            "INSERT INTO slice_groups SELECT slice, channel, provider, event_id, -count(*), "
            f"false FROM events WHERE {where} GROUP BY ALL",
            params,
        )
        self.con.execute(
            f"DELETE FROM hits WHERE eid IN (SELECT eid FROM events WHERE {where})", params
        )
        self.con.execute(f"DELETE FROM events WHERE {where}", params)
        return int(n)

    def slices_with(self, keys: Sequence[str]) -> list[int]:
        """The slices (so far) whose events' fields have one of ``keys`` at the top level."""
        rows = self.con.execute(
            "SELECT DISTINCT slice FROM slice_keys WHERE list_contains($1, key) ORDER BY slice",
            [list(keys)],
        ).fetchall()
        return [s for (s,) in rows]

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
        "json_extract_string(fields, " + "'" + json_path(field).replace("'", "''") + "')"
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
