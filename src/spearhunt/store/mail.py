"""Mail verdicts in the case: tables mail_messages, mail_attachments and mail_iocs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import orjson

from spearhunt.errors import StoreError
from spearhunt.model import IngestWarning
from spearhunt.model.callbacks import OnWarning
from spearhunt.model.mail import MailVerdict
from spearhunt.store import runs
from spearhunt.store.case import Case, open_case
from spearhunt.store.db import insert_rows, one


@dataclass(frozen=True, slots=True)
class MailRow:
    """A stored verdict, as correlation reads it."""

    message_id: str | None
    subject: str | None
    sender: str | None
    recipients: tuple[str, ...]
    date: str | None
    verdict: str
    score: int | None


@dataclass(frozen=True, slots=True)
class AttachmentRow:
    """A named attachment of a stored mail."""

    message_id: str | None
    name: str
    sha256: str | None


def input_of(file: str) -> Path:
    """The file a verdict's mail came from (``box.mbox#3`` -> ``box.mbox``)."""
    return Path(file.split("#", 1)[0])


def write(
    path: Path,
    verdicts: Iterable[MailVerdict],
    replace: bool = False,
    on_warning: OnWarning | None = None,
    command: str = "mail",
    warnings: Sequence[IngestWarning] = (),
) -> int:
    """Append verdicts to the case at ``path`` (created when missing) as one run; mail files
    the case holds already are skipped with a warning (or, with ``replace``, replace the
    earlier copy); ``warnings`` (mails that could not be read) are kept with the run;
    returns the rows written to mail_messages."""
    vs = list(verdicts)
    with open_case(path, write=True) as case:
        run_id = runs.begin(case, command)
        files = sorted({input_of(v.file) for v in vs if v.file})
        admission = runs.admit(case, run_id, "mail", files, replace)
        for where, message in admission.messages():
            if on_warning:
                on_warning(IngestWarning(where, message))
        skipped = {s.path for s in admission.skipped}
        count = write_to(case, [v for v in vs if input_of(v.file) not in skipped], run_id)
        if warnings:
            insert_rows(
                case.con,
                "warnings",
                [(run_id, w.source, w.message, w.line, w.record, w.offset) for w in warnings],
            )
        runs.finish(case, run_id)
        case.checkpoint()
    return count


def write_to(case: Case, verdicts: Iterable[MailVerdict], run_id: int | None = None) -> int:
    """Append verdicts to an open case (as part of run ``run_id``); rows written to
    mail_messages."""
    con = case.con
    count = 0
    try:
        con.execute("BEGIN")
        for v in verdicts:
            con.execute(
                "INSERT INTO mail_messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    run_id,
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
                    run_id,
                )
                for a in v.all_attachments()
            ]
            if rows:
                con.executemany(
                    "INSERT INTO mail_attachments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
            iocs = [(v.message_id, v.file, i.kind, i.value, run_id) for i in v.iocs]
            iocs += [(v.message_id, v.file, "recipient", r, run_id) for r in (*v.to, *v.cc)]
            if iocs:
                con.executemany("INSERT INTO mail_iocs VALUES (?, ?, ?, ?, ?)", iocs)
            count += 1
        con.execute("COMMIT")
    except duckdb.Error as exc:
        raise StoreError(f"cannot write case store: {exc}", where=str(case.path)) from exc
    return count


def suspicious(case: Case) -> list[MailRow]:
    """Malicious and suspicious mails, by message id."""
    if not case.has("mail_messages"):
        return []
    rows = case.con.execute(
        "SELECT message_id, subject, sender, recipients, date, verdict, score FROM mail_messages "
        "WHERE verdict IN ('malicious', 'suspicious') ORDER BY message_id"
    ).fetchall()
    return [MailRow(r[0], r[1], r[2], tuple(r[3] or ()), r[4], r[5], r[6]) for r in rows]


def attachments(case: Case) -> list[AttachmentRow]:
    """Every named attachment of every stored mail."""
    if not case.has("mail_attachments"):
        return []
    rows = case.con.execute(
        "SELECT message_id, name, sha256 FROM mail_attachments WHERE name IS NOT NULL"
    ).fetchall()
    return [AttachmentRow(*r) for r in rows]


def top_verdicts(case: Case, limit: int = 50) -> list[MailVerdict]:
    """The highest-scored malicious and suspicious verdicts, whole."""
    if not case.has("mail_messages"):
        return []
    rows = case.con.execute(
        "SELECT doc FROM mail_messages WHERE verdict IN ('malicious', 'suspicious') "
        "ORDER BY score DESC, date LIMIT ?",
        [limit],
    ).fetchall()
    return [MailVerdict.from_dict(orjson.loads(r[0])) for r in rows]


def verdict(case: Case, message_id: str) -> MailVerdict | None:
    """The stored verdict of a message (its highest-scored copy)."""
    if not case.has("mail_messages"):
        return None
    row = one(
        case.con,
        "SELECT doc FROM mail_messages WHERE message_id = ? ORDER BY score DESC LIMIT 1",
        [message_id],
    )
    return MailVerdict.from_dict(orjson.loads(row[0])) if row else None


def verdict_counts(case: Case) -> dict[str, int]:
    """Verdict -> number of stored mails."""
    if not case.has("mail_messages"):
        return {}
    rows = case.con.execute("SELECT verdict, count(*) FROM mail_messages GROUP BY 1").fetchall()
    return {v: int(n) for v, n in rows}
