"""Network records in the case: the Zeek tables net_conn, net_dns, net_http and net_ssl
(columns as ``ingest.zeek.SCHEMAS`` declares them plus the source id), and the reads network
analytics makes over them and over Sysmon network and DNS events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from spearhunt.errors import StoreError
from spearhunt.ingest.zeek import SCHEMAS, NetRecord
from spearhunt.store.case import Case
from spearhunt.store.db import arrow_views, insert_rows, one
from spearhunt.store.schema import zeek_column as column

_ARROW = {
    "ts": pa.timestamp("us"),
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "list": pa.list_(pa.string()),
}
BATCH = 100_000
FIRST_SRC = 1_000_000  # Zeek source ids start here, apart from the event sources


@dataclass(frozen=True, slots=True)
class FlowRow:
    """Connections from one source (a Zeek address, or a computer for Sysmon) to one
    destination address: totals, and each connection's start time (epoch seconds) and bytes
    sent (``None`` from Sysmon, which has no sizes), in time order."""

    source: str
    dest: str | None
    bytes_out: int
    bytes_in: int
    conns: int
    first_seen: datetime
    last_seen: datetime
    times: tuple[float, ...]
    sizes: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class QueryRow:
    """A DNS query from a source (a Zeek address, or a computer for Sysmon 22)."""

    source: str
    query: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class SessionRow:
    """Zeek connections from one address to another on one remote-access port: the first
    one's time and how many."""

    first_seen: datetime
    src_ip: str
    dst_ip: str
    port: int
    count: int


REMOTE_PORTS = (22, 135, 139, 445, 3389, 5985, 5986)


def write(case: Case, records: Iterable[NetRecord], src: int, run_id: int | None = None) -> int:
    """Append records of one source file (read by run ``run_id``); returns how many were
    written."""
    con = case.con
    buffers: dict[str, list[tuple[object, ...]]] = {log: [] for log in SCHEMAS}
    total = 0

    def flush(log: str) -> None:
        rows = buffers[log]
        if not rows:
            return
        schema = SCHEMAS[log]
        arrays = [pa.array([r[i] for r in rows], type=_ARROW[k]) for i, (_, k) in enumerate(schema)]
        arrays.append(pa.array([src] * len(rows), type=pa.int32()))
        arrays.append(pa.array([run_id] * len(rows), type=pa.int32()))
        table = pa.Table.from_arrays(
            arrays, names=[column(c) for c, _ in schema] + ["src", "run_id"]
        )
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


def add_source(case: Case, src: int, name: str, run_id: int, input_path: str) -> None:
    """Record a Zeek file (before its records: a run killed while writing them can still be
    dropped)."""
    insert_rows(case.con, "sources", [(src, name, "zeek", run_id, input_path)])


def next_source(case: Case) -> int:
    """First free source id for Zeek files (event sources stay below ``FIRST_SRC``)."""
    row = one(
        case.con,
        f"SELECT greatest((SELECT coalesce(max(src) + 1, {FIRST_SRC}) FROM net_conn), "
        f"(SELECT coalesce(max(src) + 1, {FIRST_SRC}) FROM sources WHERE src >= {FIRST_SRC}))",
    )
    return int(row[0]) if row else FIRST_SRC


def has_zeek(case: Case) -> bool:
    """Whether the case holds Zeek connections."""
    if not case.has("net_conn"):
        return False
    row = one(case.con, "SELECT count(*) > 0 FROM net_conn")
    return bool(row and row[0])


def ip_names(case: Case) -> dict[str, str]:
    """External address -> the name most often given it (TLS SNI and HTTP Host weigh 3, a DNS
    answer 2, a Sysmon destination name or query result 1)."""
    if not case.has("events"):
        return {}
    parts = []
    if case.has("net_ssl"):
        parts.append(
            "SELECT resp_h AS ip, server_name AS name, 3 AS w FROM net_ssl WHERE server_name IS NOT NULL"
        )
    if case.has("net_http"):
        parts.append("SELECT resp_h, host, 3 FROM net_http WHERE host IS NOT NULL")
    if case.has("net_dns"):
        parts.append(
            "SELECT unnest(answers), query, 2 FROM net_dns WHERE query IS NOT NULL AND answers IS NOT NULL"
        )
    parts.append("""SELECT json_extract_string(fields, '$.DestinationIp') AS ip,
        json_extract_string(fields, '$.DestinationHostname') AS name, 1 AS w FROM events
        WHERE event_id = 3 AND json_extract_string(fields, '$.DestinationHostname') <> ''""")
    parts.append("""SELECT replace(unnest(string_split(json_extract_string(fields, '$.QueryResults'), ';')), '::ffff:', ''),
        json_extract_string(fields, '$.QueryName'), 1 FROM events WHERE event_id = 22""")
    sql = " UNION ALL ".join(parts)
    rows = case.con.execute(f"""
        SELECT ip, name FROM (
          SELECT ip, lower(name) AS name, sum(w) AS s,
                 row_number() OVER (PARTITION BY ip ORDER BY sum(w) DESC, lower(name)) AS r
          FROM ({sql}) WHERE ip IS NOT NULL AND name IS NOT NULL AND name <> '' GROUP BY ip, lower(name))
        WHERE r = 1""").fetchall()
    return {ip.strip(): name for ip, name in rows if ip and ip.strip()}


def remote_sessions(case: Case) -> list[SessionRow]:
    """Zeek connections on remote-access ports (SSH, RPC, SMB, RDP, WinRM) per (originator,
    responder, port), first ones first."""
    if not case.has("net_conn"):
        return []
    rows = case.con.execute(f"""
        SELECT min(ts), orig_h, resp_h, resp_p, count(*) FROM net_conn
        WHERE resp_p IN {REMOTE_PORTS} AND orig_h IS NOT NULL AND resp_h IS NOT NULL
          AND ts IS NOT NULL
        GROUP BY ALL ORDER BY 1, 2, 3, 4""").fetchall()
    return [SessionRow(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]


def zeek_flows(case: Case) -> list[FlowRow]:
    """Zeek connections per (originator, responder) address."""
    rows = case.con.execute("""
        SELECT orig_h, resp_h, sum(coalesce(orig_bytes, 0)), sum(coalesce(resp_bytes, 0)), count(*),
               min(ts), max(ts), list(epoch(ts) ORDER BY ts), list(coalesce(orig_bytes, 0) ORDER BY ts)
        FROM net_conn WHERE orig_h IS NOT NULL AND resp_h IS NOT NULL GROUP BY 1, 2""").fetchall()
    return [_flow(r) for r in rows]


def sysmon_flows(case: Case) -> list[FlowRow]:
    """Outgoing Sysmon connections per (computer, destination address)."""
    if not case.has("events"):
        return []
    rows = case.con.execute("""
        SELECT computer, json_extract_string(fields, '$.DestinationIp') AS d, 0, 0, count(*), min(ts), max(ts),
               list(epoch(ts) ORDER BY ts), NULL
        FROM events WHERE event_id = 3 AND lower(coalesce(json_extract_string(fields, '$.Initiated'), 'true')) = 'true'
          AND ts IS NOT NULL GROUP BY 1, 2""").fetchall()
    return [_flow(r) for r in rows]


def _flow(r: tuple[Any, ...]) -> FlowRow:
    return FlowRow(
        r[0],
        r[1],
        int(r[2]),
        int(r[3]),
        int(r[4]),
        r[5],
        r[6],
        tuple(r[7]),
        tuple(r[8]) if r[8] is not None else None,
    )


def long_queries(case: Case, zeek: bool) -> list[QueryRow]:
    """DNS queries of more than 40 characters: from Zeek (by address) when ``zeek``, else
    from Sysmon 22 (by computer)."""
    if zeek:
        if not case.has("net_dns"):
            return []
        rows = case.con.execute("""
            SELECT orig_h, query, ts FROM net_dns
            WHERE query IS NOT NULL AND length(query) > 40 AND orig_h IS NOT NULL""").fetchall()
    elif case.has("events"):
        rows = case.con.execute("""
            SELECT computer, json_extract_string(fields, '$.QueryName') AS q, ts FROM events
            WHERE event_id = 22 AND length(json_extract_string(fields, '$.QueryName')) > 40""").fetchall()
    else:
        rows = []
    return [QueryRow(*r) for r in rows]
