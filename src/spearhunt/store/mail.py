"""Write mail verdicts to a case DuckDB: mail_messages, mail_attachments, mail_iocs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson

from spearhunt.errors import StoreError
from spearhunt.model.mail import MailVerdict

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS mail_messages (
        file VARCHAR, message_id VARCHAR, subject VARCHAR, sender VARCHAR, recipients VARCHAR[],
        date VARCHAR, verdict VARCHAR, score INTEGER, doc JSON)""",
    """CREATE TABLE IF NOT EXISTS mail_attachments (
        message_id VARCHAR, file VARCHAR, name VARCHAR, sha256 VARCHAR, md5 VARCHAR, sha1 VARCHAR,
        size BIGINT, type VARCHAR, depth INTEGER, parent VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS mail_iocs (message_id VARCHAR, file VARCHAR, kind VARCHAR, value VARCHAR)""",
)


def write(path: Path, verdicts: Iterable[MailVerdict]) -> int:
    """Append verdicts to the store at ``path`` (created when missing); rows written to mail_messages."""
    import duckdb

    try:
        con = duckdb.connect(str(path))
    except (duckdb.Error, OSError) as exc:
        raise StoreError(f"cannot open case store: {exc}", where=str(path)) from exc
    count = 0
    try:
        for stmt in SCHEMA:
            con.execute(stmt)
        con.execute("BEGIN")
        for v in verdicts:
            con.execute(
                "INSERT INTO mail_messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    v.file,
                    v.message_id,
                    v.subject,
                    v.sender,
                    [*v.to, *v.cc],
                    v.date,
                    v.verdict,
                    v.score,
                    orjson.dumps(v.to_dict()).decode(),
                ],
            )
            rows = [
                (
                    v.message_id,
                    v.file,
                    a.name,
                    a.sha256,
                    a.md5,
                    a.sha1,
                    a.size,
                    a.type,
                    a.depth,
                    a.parent,
                )
                for a in v.all_attachments()
            ]
            if rows:
                con.executemany(
                    "INSERT INTO mail_attachments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
            iocs = [(v.message_id, v.file, i.kind, i.value) for i in v.iocs]
            iocs += [(v.message_id, v.file, "recipient", r) for r in (*v.to, *v.cc)]
            if iocs:
                con.executemany("INSERT INTO mail_iocs VALUES (?, ?, ?, ?)", iocs)
            count += 1
        con.execute("COMMIT")
    except duckdb.Error as exc:
        raise StoreError(f"cannot write case store: {exc}", where=str(path)) from exc
    finally:
        con.close()
    return count
