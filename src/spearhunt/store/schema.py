"""Every table of a case file, in one place, and the schema version a case was written with.

A case is one DuckDB file. Each table is declared here once; the code that reads or writes it
lives in the store module of its area (``case`` for runs, sources, events, detections, rules
and warnings; ``mail``; ``network``; ``results`` ...). Renaming a column means changing this
module and that one.

Versions: 1 is every case written before the version was recorded (no ``case_meta`` table);
2 records each run's state (``runs.status`` running/finished/dropped, ``runs.finished``, the
first event key it took ``runs.first_eid``), the input files each run read (``inputs``: path,
size, SHA-256) so that a file is not ingested twice, the input a source came from
(``sources.input``) and the run of each mail and network row (``run_id``), so that a run
can be dropped whole; 3 adds ``rules.output`` (false for the helper rules of Sigma
correlation rules, whose detections feed the correlations but are not alerts; NULL, in an
older case, counts as true). An older case is migrated in place when it is opened for writing;
read-only, it is read as it is. A case of a newer version is refused.
"""

from __future__ import annotations

import duckdb

from spearhunt.errors import StoreError
from spearhunt.ingest.zeek import SCHEMAS as ZEEK_SCHEMAS
from spearhunt.normalize.windows import EVENT_COLUMNS
from spearhunt.store.db import one

SCHEMA_VERSION = 3

_ZEEK_SQL = {"ts": "TIMESTAMP", "str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE"}
_ZEEK_SQL["list"] = "VARCHAR[]"


def zeek_column(name: str) -> str:
    """Store column of a Zeek field (``id.orig_h`` -> ``orig_h``)."""
    return name.removeprefix("id.")


def _zeek_table(log: str) -> str:
    cols = ", ".join(f"{zeek_column(c)} {_ZEEK_SQL[k]}" for c, k in ZEEK_SCHEMAS[log])
    return f"{cols}, src INTEGER, run_id INTEGER"


# table -> its columns (the body of CREATE TABLE)
TABLES: dict[str, str] = {
    "case_meta": "key VARCHAR, value VARCHAR",
    # status: running (started, not finished: killed or still going), finished
    "runs": "run_id INTEGER, started TIMESTAMP, version VARCHAR, command VARCHAR, "
    "events BIGINT, detections BIGINT, finished TIMESTAMP, status VARCHAR, first_eid BIGINT",
    # every input file a run read (an archive is one input), identified by content
    "inputs": "run_id INTEGER, stage VARCHAR, path VARCHAR, size BIGINT, sha256 VARCHAR",
    # a source is what an event names as its file: an input, or a member of an input archive
    "sources": "src INTEGER, path VARCHAR, kind VARCHAR, run_id INTEGER, input VARCHAR",
    "events": ", ".join(f"{n} {t}" for n, t in EVENT_COLUMNS),
    "detections": "run_id INTEGER, rule_id VARCHAR, rule_title VARCHAR, level VARCHAR, "
    "tags VARCHAR[], tactics VARCHAR[], techniques VARCHAR[], eid BIGINT, ts TIMESTAMP, "
    "computer VARCHAR, channel VARCHAR, event_id INTEGER, record_id BIGINT, source VARCHAR",
    "rules": "rule_id VARCHAR, title VARCHAR, level VARCHAR, tags VARCHAR[], source VARCHAR, "
    "description VARCHAR, output BOOLEAN",
    "warnings": "run_id INTEGER, source VARCHAR, message VARCHAR, line BIGINT, record BIGINT, "
    "byte_offset BIGINT",
    "mail_messages": "file VARCHAR, message_id VARCHAR, subject VARCHAR, sender VARCHAR, "
    "recipients VARCHAR[], date VARCHAR, verdict VARCHAR, score INTEGER, doc JSON, "
    "run_id INTEGER",
    "mail_attachments": "message_id VARCHAR, file VARCHAR, name VARCHAR, sha256 VARCHAR, "
    "md5 VARCHAR, sha1 VARCHAR, size BIGINT, type VARCHAR, depth INTEGER, parent VARCHAR, "
    "run_id INTEGER",
    "mail_iocs": "message_id VARCHAR, file VARCHAR, kind VARCHAR, value VARCHAR, run_id INTEGER",
    **{f"net_{log}": _zeek_table(log) for log in ZEEK_SCHEMAS},
    "correlation_results": "created TIMESTAMP, version VARCHAR, stories INTEGER, doc JSON",
    # spearhunt posture: each run's frozen result document (model.posture.PostureResult)
    "posture_results": "created TIMESTAMP, version VARCHAR, doc JSON",
}

# Columns added after version 1: (table, column, type). A version-1 table lacks them.
_ADDED_IN_2 = (
    ("runs", "finished", "TIMESTAMP"),
    ("runs", "status", "VARCHAR"),
    ("runs", "first_eid", "BIGINT"),
    ("sources", "input", "VARCHAR"),
    ("mail_messages", "run_id", "INTEGER"),
    ("mail_attachments", "run_id", "INTEGER"),
    ("mail_iocs", "run_id", "INTEGER"),
    *((f"net_{log}", "run_id", "INTEGER") for log in ZEEK_SCHEMAS),
)
_ADDED_IN_3 = (("rules", "output", "BOOLEAN"),)


def ddl(table: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` statement of a case table."""
    return f"CREATE TABLE IF NOT EXISTS {table} ({TABLES[table]})"


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the tables (of the main schema) present in an open case."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()
    return {r[0] for r in rows}


def version_of(con: duckdb.DuckDBPyConnection, tables: set[str] | None = None) -> int:
    """Schema version of an open case: 0 for an empty file, 1 before versions were recorded."""
    tables = existing_tables(con) if tables is None else tables
    if "case_meta" not in tables:
        return 1 if tables else 0
    row = one(con, "SELECT value FROM case_meta WHERE key = 'schema_version'")
    try:
        return int(row[0]) if row else 1
    except ValueError:
        return SCHEMA_VERSION + 1  # unreadable: treat as newer, never write over it


def check_readable(version: int, where: str) -> None:
    """Refuse a case written by a newer spearhunt (its tables may mean other things)."""
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the case was written by a newer spearhunt (case schema {version}, this version "
            f"reads up to {SCHEMA_VERSION}): upgrade spearhunt to use it, or start a new case",
            where=where,
        )


def ensure(con: duckdb.DuckDBPyConnection, where: str) -> int:
    """Create every missing table and migrate an older case to ``SCHEMA_VERSION``; returns
    the version the case had before (0 for a new file)."""
    tables = existing_tables(con)
    before = version_of(con, tables)
    check_readable(before, where)
    if before == SCHEMA_VERSION and tables >= set(TABLES):
        return before
    con.execute("BEGIN")
    try:
        for table in TABLES:
            con.execute(ddl(table))
        if 0 < before < 2:
            for table, column, kind in _ADDED_IN_2:
                if table in tables:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
            # runs of a version-1 case had no status: they count as finished (nothing recorded
            # whether they were; flagging every old case as interrupted would be noise)
            con.execute("UPDATE runs SET status = 'finished' WHERE status IS NULL")
        if 0 < before < 3:
            for table, column, kind in _ADDED_IN_3:
                if table in tables:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
        con.execute("DELETE FROM case_meta WHERE key = 'schema_version'")
        con.execute("INSERT INTO case_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise StoreError(f"cannot set up the case tables: {exc}", where=where) from exc
    return before
