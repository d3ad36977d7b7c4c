"""Opening DuckDB the way every spearhunt stage wants it."""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(database: Path | None = None, *, threads: int | None = None,
            memory_limit: str | None = None, temp_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up for spearhunt (UTC, bounded memory, no extension loading)."""
    con = duckdb.connect(str(database) if database else ":memory:",
                         config={"autoinstall_known_extensions": False,
                                 "autoload_known_extensions": False})
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if temp_dir:
        con.execute(f"SET temp_directory = '{temp_dir}'")
    return con
