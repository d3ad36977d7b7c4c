"""Normalized events as partitioned Parquet: the schema, the writer, and DuckDB's reader.

``spearhunt ingest --to-parquet`` runs the DuckDB engine's own normalization (the same
chunking, the same ``normalize_sql``, the same event keys) and writes what it would have
stored, so Spark and DuckDB read the very events a DuckDB hunt matches. Layout::

    DIR/p_computer=<host>/p_channel=<channel>/day=<YYYY-MM-DD>/events_<uuid>.parquet

Partition values are lowercased, with every run of characters outside ``[a-z0-9._-]``
replaced by ``_`` (``Microsoft-Windows-Sysmon/Operational`` ->
``microsoft-windows-sysmon_operational``); ``_unknown`` when the value is missing; a value
longer than 200 characters keeps its first 180 and ``--`` with 16 hex digits of its MD5 (a
folder name holds 255 bytes at most). The
original values stay in the ``computer`` and ``channel`` columns. Columns of each file are
``PARQUET_COLUMNS``.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.engine.memory import parse_memory
from spearhunt.errors import IngestError
from spearhunt.model import IngestWarning
from spearhunt.model.callbacks import Progress
from spearhunt.normalize.windows import EVTX_SYSTEM_FIELDS
from spearhunt.store.db import connect

# The columns of every Parquet file (the partition columns live in the folder names).
PARQUET_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("eid", "BIGINT", "event key, unique in the dataset; detections refer to it"),
    ("ts", "TIMESTAMP", "event time, UTC (no zone)"),
    ("computer", "VARCHAR", "host name as logged"),
    (
        "channel",
        "VARCHAR",
        "event log channel (Security, Microsoft-Windows-Sysmon/Operational ...)",
    ),
    ("provider", "VARCHAR", "provider (source) name"),
    ("event_id", "INTEGER", "Windows event id"),
    ("record_id", "BIGINT", "EventRecordID"),
    ("source", "VARCHAR", "input file the event came from"),
    ("pos", "BIGINT", "line (JSON) or record number (EVTX) in that file"),
    ("fields", "VARCHAR", "the event's own fields with Sigma names: a flat JSON object"),
    *(
        (f"sys_{name.lower()}", "VARCHAR", f"EVTX System/{name} (NULL for other shapes)")
        for name in EVTX_SYSTEM_FIELDS
    ),
)
PARTITION_COLUMNS = ("p_computer", "p_channel", "day")
SYSTEM_COLUMNS = tuple(f"sys_{name.lower()}" for name in EVTX_SYSTEM_FIELDS)


# A folder name holds at most 255 bytes: longer values (a legal FQDN is up to 253 characters,
# a channel has no bound) keep their head and a hash of the whole, so they stay distinct.
PARTITION_MAX = 200
PARTITION_HEAD = 180


def partition_value(expr: str) -> str:
    """DuckDB SQL for the folder-safe partition value of ``expr`` (``partition_of`` in Python)."""
    v = f"coalesce(nullif(regexp_replace(lower({expr}), '[^a-z0-9._-]+', '_', 'g'), ''), '_unknown')"
    # The repeated expression is computed once (DuckDB eliminates common subexpressions).
    return (
        f"CASE WHEN length({v}) > {PARTITION_MAX} "
        f"THEN left({v}, {PARTITION_HEAD}) || '--' || left(md5({v}), 16) ELSE {v} END"
    )


def partition_of(value: str | None) -> str:
    """The partition value of a column value, as the writer computes it."""
    v = re.sub(r"[^a-z0-9._-]+", "_", (value or "").lower()) or "_unknown"
    if len(v) > PARTITION_MAX:
        v = f"{v[:PARTITION_HEAD]}--{hashlib.md5(v.encode()).hexdigest()[:16]}"
    return v


def schema_doc() -> str:
    """The Parquet schema as text (for ``--help`` and the README)."""
    lines = [f"  {n:<18} {t:<9} {d}" for n, t, d in PARQUET_COLUMNS]
    lines.append("  partitions: p_computer=<host>/p_channel=<channel>/day=<YYYY-MM-DD>")
    return "\n".join(lines)


class ParquetWriter(DuckEngine):
    """The DuckDB engine's ingestion with no rules, keeping the normalized events for Parquet."""

    def __init__(
        self,
        out_dir: Path,
        *,
        on_warning: Callable[[IngestWarning], None],
        memory_limit: str = "1GB",
    ) -> None:
        self.out_dir = out_dir
        self._tmp = tempfile.TemporaryDirectory(prefix="spearhunt-ingest-")
        con = connect(
            Path(self._tmp.name) / "ingest.duckdb",
            memory_limit=memory_limit,
            temp_dir=Path(self._tmp.name),
        )
        # No rules: the engine only normalizes into its events table, which write() copies.
        super().__init__([], con=con, on_warning=on_warning, eid_base=existing_max_eid(out_dir))

    def write(self) -> int:
        """Flush and write the events as partitioned Parquet; returns the number written."""
        self.flush()
        self.con.execute("CREATE TEMP TABLE srcs (src INTEGER, path VARCHAR)")
        if self.sources:
            self.con.executemany(
                "INSERT INTO srcs VALUES (?, ?)",
                [(i + self._src_base, p) for i, p in enumerate(self.sources)],
            )
        select = ", ".join(
            "s.path AS source"
            if n == "source"
            else f"e.sys.{n[4:]} AS {n}"
            if n.startswith("sys_")
            else f"e.{n}"
            for n, _, _ in PARQUET_COLUMNS
        )
        parts = (
            f"{partition_value('computer')} AS p_computer, "
            f"{partition_value('channel')} AS p_channel, "
            "coalesce(strftime(ts, '%Y-%m-%d'), '_unknown') AS day"
        )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        out = str(self.out_dir).replace("'", "''")
        self.con.execute(
            f"COPY (SELECT {select}, {parts} FROM events e JOIN srcs s USING (src) "
            f"ORDER BY p_computer, p_channel, day, ts, eid) TO '{out}' "
            "(FORMAT PARQUET, PARTITION_BY (p_computer, p_channel, day), APPEND, "
            "FILENAME_PATTERN 'events_{uuid}', COMPRESSION ZSTD)"
        )
        return self.stats.events

    def close(self) -> None:
        """Drop the scratch database."""
        self.con.close()
        self._tmp.cleanup()


def parquet_files(path: Path) -> list[str]:
    """The Parquet files of a dataset folder (or the file itself)."""
    if path.is_file():
        return [str(path)]
    return sorted(str(f) for f in path.rglob("*.parquet"))


def existing_max_eid(out_dir: Path) -> int:
    """Largest event key already in a dataset folder, so appended runs get fresh keys."""
    files = parquet_files(out_dir) if out_dir.exists() else []
    if not files:
        return 0
    rows = duckdb.execute(
        f"SELECT max(eid) FROM read_parquet({_list(files)}, hive_partitioning = false)"
    ).fetchall()
    return int(rows[0][0] or 0) if rows else 0


def duck_select(files: list[str], sources: dict[str, int], eid_base: int = 0) -> str:
    """A DuckDB query over Parquet files giving the engine's event schema (``EVENT_COLUMNS``,
    for ``add_normalized``); ``sources`` maps each ``source`` value to the engine's source index."""
    cols = []
    for n, _, _ in PARQUET_COLUMNS:
        if n == "source":
            cols.append("s.src AS src")
        elif n == "eid":
            cols.append(f"eid + {int(eid_base)} AS eid")
        elif not n.startswith("sys_"):
            cols.append(n)
    cols.append("hash(channel, provider, event_id) AS slice")
    # EVTX-shaped events carry their System values; other shapes have none (sys NULL).
    cols.append(
        "CASE WHEN sys_provider_name IS NOT NULL THEN {"
        + ", ".join(f"'{n[4:]}': {n}" for n in SYSTEM_COLUMNS)
        + "} END AS sys"
    )
    values = ", ".join(f"({_lit(k)}, {int(v)})" for k, v in sources.items())
    return (
        f"SELECT {', '.join(cols)} FROM read_parquet({_list(files)}, hive_partitioning = false) "
        f"p JOIN (VALUES {values}) s(source, src) ON p.source IS NOT DISTINCT FROM s.source"
    )


def _lit(text: str | None) -> str:
    return "NULL" if text is None else "'" + text.replace("'", "''") + "'"


def _list(items: list[str]) -> str:
    return "[" + ", ".join(_lit(x) for x in items) + "]"


def add_parquet(
    engine: DuckEngine,
    path: Path | Sequence[Path],
    eid_base: int = 0,
    chunk_events: int = 200_000,
) -> int:
    """Feed a Parquet dataset (a file, a folder, or a list of its files) to a DuckDB engine,
    a few files at a time; returns the number of events added.

    Event keys are the dataset's ``eid`` plus ``eid_base``.
    """
    paths = [path] if isinstance(path, Path) else list(path)
    files = [f for p in paths for f in parquet_files(p)]
    if not files:
        return 0
    where = str(paths[0]) if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1})"
    before = engine.stats.events
    try:
        # One row per file: parquet_metadata has one per column chunk of each row group.
        rows = dict(
            duckdb.execute(
                f"SELECT file_name, num_rows FROM parquet_file_metadata({_list(files)})"
            ).fetchall()
        )
        names = duckdb.execute(
            f"SELECT DISTINCT source FROM read_parquet({_list(files)}, "
            "hive_partitioning = false) ORDER BY ALL"
        ).fetchall()
        sources = {name: engine.source(name if name is not None else where) for (name,) in names}
        group: list[str] = []
        size = 0
        for f in files:
            group.append(f)
            size += int(rows.get(f, 0))
            if size >= chunk_events or f == files[-1]:
                engine.add_normalized(duck_select(group, sources, eid_base))
                group, size = [], 0
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error as exc:
        raise IngestError(f"not a spearhunt Parquet dataset: {exc}", where=where) from exc
    return engine.stats.events - before


def eid_range(files: Sequence[Path]) -> tuple[int, int, bool]:
    """(smallest eid, largest eid, whether every eid is distinct) over Parquet files."""
    names = [f for p in files for f in parquet_files(p)]
    if not names:
        return 0, 0, True
    try:
        row = duckdb.execute(
            f"SELECT min(eid), max(eid), count(*), count(DISTINCT eid) "
            f"FROM read_parquet({_list(names)}, hive_partitioning = false)"
        ).fetchone()
    except duckdb.Error as exc:
        raise IngestError(f"not a spearhunt Parquet dataset: {exc}", where=str(files[0])) from exc
    low, high, rows, distinct = row if row else (0, 0, 0, 0)
    return int(low or 0), int(high or 0), rows == distinct


def ingest_to_parquet(
    paths: list[str],
    out_dir: Path,
    *,
    on_warning: Callable[[IngestWarning], None],
    on_progress: Progress | None = None,
    memory_limit: str = "auto",
) -> tuple[int, int]:
    """Every event file under ``paths`` -> the Parquet dataset in ``out_dir``.

    Returns (files read, events written). Non-event files are skipped; a file that cannot be
    read is reported through ``on_warning`` and the others go on.
    """
    from spearhunt.ingest.archives import iter_sources
    from spearhunt.ingest.events import read_events
    from spearhunt.ingest.sources import EVENT_KINDS, Kind

    kinds = EVENT_KINDS - {Kind.PARQUET}  # a Parquet dataset is already normalized
    limit = f"{parse_memory(memory_limit)}B"  # a clear error before any work
    writer = ParquetWriter(out_dir, on_warning=on_warning, memory_limit=limit)
    files = 0
    try:
        # Archives are read member by member as they come (a tar is a one-pass stream).
        for s in iter_sources(paths, on_warning):
            if s.kind not in kinds:
                continue
            files += 1
            idx = writer.source(s.name)
            try:
                for batch in read_events(s, on_warning):
                    writer.add(idx, batch)
            except IngestError as exc:
                on_warning(IngestWarning(s.name, exc.message))
            if on_progress:
                on_progress(files, None, s.where.name)
        return files, writer.write()
    finally:
        writer.close()
