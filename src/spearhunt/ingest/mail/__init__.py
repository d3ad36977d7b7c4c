"""Mail readers: .eml, .msg, mbox, attached mails, archives. The only code that opens mail files."""

from __future__ import annotations

from spearhunt.ingest.mail.blob import Blob, Note, sniff
from spearhunt.ingest.mail.limits import DEFAULT_LIMITS, Limits
from spearhunt.ingest.mail.message import RawMail
from spearhunt.ingest.mail.reader import finish, iter_files, read_bytes, read_file

__all__ = [
    "DEFAULT_LIMITS",
    "Blob",
    "Limits",
    "Note",
    "RawMail",
    "finish",
    "iter_files",
    "read_bytes",
    "read_file",
    "sniff",
]
