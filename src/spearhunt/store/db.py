"""Opening DuckDB the way every spearhunt stage wants it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa


def connect(
    database: Path | None = None,
    *,
    read_only: bool = False,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_dir: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up for spearhunt (UTC, bounded memory, no extension loading)."""
    con = duckdb.connect(
        str(database) if database else ":memory:",
        read_only=read_only and database is not None,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if temp_dir:
        con.execute(f"SET temp_directory = '{temp_dir}'")
    return con


@contextmanager
def arrow_views(con: duckdb.DuckDBPyConnection, **tables: pa.Table) -> Iterator[None]:
    """Arrow ``tables`` readable by their names in ``con`` for the statements run inside."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        yield
    finally:
        for name in tables:
            con.unregister(name)


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Sequence[Any]]) -> None:
    """Append ``rows`` (every column of ``table``, in order) in one statement. DuckDB's
    ``executemany`` binds a row at a time, ~1 ms each: minutes for the sources of a big run."""
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    with arrow_views(
        con, _rows_in=pa.table({f"c{i}": pa.array(list(c)) for i, c in enumerate(columns)})
    ):
        con.execute(f"INSERT INTO {table} SELECT * FROM _rows_in")


def one(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()
) -> tuple[Any, ...] | None:
    """The first row of ``sql``, the result read to its end: DuckDB refuses to register a
    table on a connection with a result left half-read (``fetchone``)."""
    rows = con.execute(sql, list(params)).fetchall()
    return rows[0] if rows else None
