"""Network records (Zeek conn/dns/http/ssl) in the case store: tables net_conn, net_dns,
net_http and net_ssl, columns as ``ingest.zeek.SCHEMAS`` declares them plus the source id."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pyarrow as pa

from spearhunt.errors import StoreError
from spearhunt.ingest.zeek import SCHEMAS, NetRecord
from spearhunt.store.db import arrow_views

_SQL_TYPES = {
    "ts": "TIMESTAMP",
    "str": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "list": "VARCHAR[]",
}
_ARROW = {
    "ts": pa.timestamp("us"),
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "list": pa.list_(pa.string()),
}
BATCH = 100_000


def column(name: str) -> str:
    """Store column of a Zeek field (``id.orig_h`` -> ``orig_h``)."""
    return name.removeprefix("id.")


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the network tables when missing."""
    for log, schema in SCHEMAS.items():
        cols = ", ".join(f"{column(c)} {_SQL_TYPES[k]}" for c, k in schema)
        con.execute(f"CREATE TABLE IF NOT EXISTS net_{log} ({cols}, src INTEGER)")


def write(con: duckdb.DuckDBPyConnection, records: Iterable[NetRecord], src: int) -> int:
    """Append records of one source file; returns how many were written."""
    ensure_tables(con)
    buffers: dict[str, list[tuple[object, ...]]] = {log: [] for log in SCHEMAS}
    total = 0

    def flush(log: str) -> None:
        rows = buffers[log]
        if not rows:
            return
        schema = SCHEMAS[log]
        arrays = [pa.array([r[i] for r in rows], type=_ARROW[k]) for i, (_, k) in enumerate(schema)]
        arrays.append(pa.array([src] * len(rows), type=pa.int32()))
        table = pa.Table.from_arrays(arrays, names=[column(c) for c, _ in schema] + ["src"])
        try:
            with arrow_views(con, _net_batch=table):
                con.execute(f"INSERT INTO net_{log} SELECT * FROM _net_batch")
        except duckdb.Error as exc:
            raise StoreError(f"cannot write network records: {exc}") from exc
        rows.clear()

    for rec in records:
        buf = buffers[rec.log]
        buf.append(rec.values)
        total += 1
        if len(buf) >= BATCH:
            flush(rec.log)
    for log in SCHEMAS:
        flush(log)
    return total
