"""Message traces: Exchange Online (``Get-MessageTrace | Export-Csv``, the admin center's
download, and the historical search report) and Postfix or Sendmail maillog.

Exchange columns: Received, SenderAddress, RecipientAddress, Subject, Status, MessageId,
Size (Get-MessageTrace / Get-MessageTraceV2); origin_timestamp_utc, sender_address,
recipient_status (``addr##Receive, Deliver;addr2##...``), message_subject, message_id,
total_bytes (historical search). Maillog: the queue id ties ``from=<>``, ``message-id=<>``
(or Sendmail's ``msgid=<>``), ``to=<>`` with ``status=`` / ``stat=``, and the subject when
``header_checks`` logs it (``warning: header Subject: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from spearhunt.errors import IngestError
from spearhunt.ingest.posture.common import (
    WarningSink,
    csv_rows,
    files_under,
    parse_time,
    read_text,
)
from spearhunt.model import IngestWarning
from spearhunt.model.posture import TraceRow

MAX_QUEUE = 1_000_000  # queue ids held open at once in a maillog


def read_traces(
    paths: list[Path], on_warning: WarningSink, year: int | None = None
) -> Iterator[TraceRow]:
    """Every delivery in the files (and folders of .csv/.log) given. ``year`` dates classic
    syslog lines, which carry none (default: the current year)."""
    for path in files_under(paths, (".csv", ".log", ".gz", ".txt")):
        try:
            text = read_text(path)
            first = next(
                (ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), ""
            )
            if "," in first and re.search(r"(?i)sender_?address|recipient", first):
                yield from _exchange(path, text, on_warning)
            else:
                yield from _maillog(path, text, on_warning, year or datetime.now().year)
        except IngestError as exc:
            on_warning(IngestWarning(str(path), f"file skipped: {exc.message}"))


def _exchange(path: Path, text: str, on_warning: WarningSink) -> Iterator[TraceRow]:
    for line, row in csv_rows(path, text, on_warning):
        sender = (row.get("senderaddress") or row.get("sender_address") or "").strip().lower()
        subject = (row.get("subject") or row.get("message_subject") or "").strip()
        when = parse_time(row.get("received") or row.get("origin_timestamp_utc") or row.get("date"))
        mid = (row.get("messageid") or row.get("message_id") or "").strip()
        size_text = (row.get("size") or row.get("total_bytes") or "").strip()
        size = int(size_text) if size_text.isdigit() else None
        if "recipientaddress" in row:
            recipients = [(row["recipientaddress"].strip().lower(), row.get("status", "").strip())]
        else:
            recipients = []
            for part in (row.get("recipient_status") or "").split(";"):
                addr, _, status = part.partition("##")
                if addr.strip():
                    recipients.append((addr.strip().lower(), status.strip()))
        if not sender or not recipients or when is None:
            on_warning(
                IngestWarning(
                    str(path),
                    "row without sender, recipient or a readable time; skipped",
                    line=line,
                )
            )
            continue
        for rcpt, status in recipients:
            yield TraceRow(
                when, sender, rcpt, subject[:500], mid[:500], status[:100], size, str(path)
            )


_SYSLOG = re.compile(
    r"^(?:(?P<iso>\d{4}-\d\d-\d\dT\S+)|(?P<classic>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d))\s+\S+\s+"
    r"(?P<prog>[\w/.-]+)(?:\[\d+\])?:\s+(?P<qid>[0-9A-Za-z]{6,20}):\s+(?P<rest>.*)$"
)
_ADDR = re.compile(r"\b(from|to)=<([^>]{0,320})>")
_KV = re.compile(r"\b(status|stat|size|message-id|msgid)=(<[^>]{0,998}>|\S+)")
_SUBJECT = re.compile(
    r"(?:warning|info|hold|redirect): header Subject: (.{0,998}?)(?: from \S+;|$)"
)


@dataclass(slots=True)
class _Queued:
    time: datetime | None = None
    sender: str = ""
    subject: str = ""
    message_id: str = ""
    size: int | None = None
    deliveries: list[tuple[datetime | None, str, str]] = field(default_factory=list)


def _maillog(path: Path, text: str, on_warning: WarningSink, year: int) -> Iterator[TraceRow]:
    queue: dict[str, _Queued] = {}
    matched = 0
    for n, line in enumerate(text.splitlines(), 1):
        m = _SYSLOG.match(line)
        if not m or not ("postfix" in m["prog"] or "sendmail" in m["prog"]):
            continue
        matched += 1
        when = _syslog_time(m["iso"], m["classic"], year)
        if when is None:
            on_warning(IngestWarning(str(path), "unreadable syslog time; line skipped", line=n))
            continue
        q = queue.get(m["qid"])
        if q is None:
            if len(queue) >= MAX_QUEUE:
                on_warning(
                    IngestWarning(
                        str(path), "too many open queue ids; the rest is not read", line=n
                    )
                )
                break
            q = queue[m["qid"]] = _Queued(time=when)
        rest = m["rest"]
        subj = _SUBJECT.search(rest)
        if subj:
            q.subject = subj.group(1).strip()[:500]
            continue
        kv = {k: v.strip("<>") for k, v in _KV.findall(rest)}
        for kind, addr in _ADDR.findall(rest):
            if kind == "from":
                q.sender = addr.lower()
            else:
                q.deliveries.append((when, addr.lower(), kv.get("status") or kv.get("stat", "")))
        q.message_id = q.message_id or kv.get("message-id") or kv.get("msgid", "")
        if kv.get("size", "").rstrip(",").isdigit():
            q.size = int(kv["size"].rstrip(","))
    if not matched and text.strip():
        raise IngestError(
            "neither an Exchange message trace CSV nor a Postfix/Sendmail maillog", where=str(path)
        )
    for q in queue.values():
        for when, rcpt, status in q.deliveries:
            yield TraceRow(
                when,
                q.sender,
                rcpt,
                q.subject,
                q.message_id[:500],
                status.rstrip(",")[:100],
                q.size,
                str(path),
            )


def _syslog_time(iso: str | None, classic: str | None, year: int) -> datetime | None:
    if iso:
        return parse_time(iso)
    try:
        return datetime.strptime(f"{year} {classic}", "%Y %b %d %H:%M:%S")
    except ValueError:
        return None
