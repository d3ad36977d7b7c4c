"""Turn input files into RawMails: format by content, mbox splitting, attachments opened.

A per-file (or per mbox entry) failure is yielded as a MailFailure so one bad file never stops
the run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from spearhunt.errors import MailError
from spearhunt.ingest.mail.archive import Budget, expand
from spearhunt.ingest.mail.blob import Blob
from spearhunt.ingest.mail.limits import DEFAULT_LIMITS, Limits
from spearhunt.ingest.mail.message import RawMail
from spearhunt.ingest.mail.mime import parse_eml
from spearhunt.ingest.mail.msg import parse_msg
from spearhunt.ingest.mail.passwords import body_passwords
from spearhunt.ingest.sources import not_regular
from spearhunt.model.mail import MailFailure

log = logging.getLogger(__name__)

MAIL_SUFFIXES = frozenset({".eml", ".msg", ".mbox", ".mbx", ""})
_MBOX_SPLIT = re.compile(rb"(?:\r?\n){1,}(?=From [^\r\n]*\r?\n)")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named, and mail-looking files under folders named, in a stable order."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if (
                    not child.is_dir()  # a FIFO or dangling link is reported by read_file
                    and not child.name.startswith(".")
                    and child.suffix.lower() in MAIL_SUFFIXES
                    and child.name.upper() not in ("SOURCE.TXT", "README.TXT")
                ):
                    yield child
        else:
            yield path


def read_file(
    path: Path, limits: Limits = DEFAULT_LIMITS, passwords: tuple[str, ...] = ()
) -> Iterator[RawMail | MailFailure]:
    """Every mail in one file (several for an mbox), attachments expanded."""
    problem = not_regular(path)  # a FIFO would block the run
    if problem:
        yield MailFailure(str(path), problem)
        return
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            with path.open("rb") as fh:
                head = fh.read(5)
            if head == b"From " or path.suffix.lower() in (".mbox", ".mbx"):
                yield from _read_big_mbox(path, limits, passwords)
                return
            yield MailFailure(
                str(path), f"file is {size} bytes, over the {limits.max_file_bytes}-byte cap"
            )
            return
        data = path.read_bytes()
    except OSError as exc:
        yield MailFailure(str(path), f"cannot read: {exc.strerror or exc}")
        return
    yield from read_bytes(data, str(path), limits, passwords, mbox=_is_mbox(path, data))


def _read_big_mbox(
    path: Path, limits: Limits, passwords: tuple[str, ...]
) -> Iterator[RawMail | MailFailure]:
    """An mbox over the file cap, streamed message by message (each message within the cap)."""
    for index, (chunk, size) in enumerate(_mbox_messages(path, limits), 1):
        where = f"{path}#{index}"
        if index > limits.max_mbox_messages:
            yield MailFailure(
                str(path), f"more than {limits.max_mbox_messages} messages; the rest not read"
            )
            return
        if size > limits.max_file_bytes:
            yield MailFailure(
                where, f"message is {size} bytes, over the {limits.max_file_bytes}-byte cap"
            )
            continue
        yield from read_bytes(chunk, where, limits, passwords)


def _mbox_messages(path: Path, limits: Limits) -> Iterator[tuple[bytes, int]]:
    """(bytes, size) of each message of an mbox; a message over the cap keeps no bytes."""
    parts: list[bytes] = []
    size = 0
    with path.open("rb") as fh:
        for line in iter(lambda: fh.readline(1 << 20), b""):  # a line without end is bounded
            if line.startswith(b"From ") and size:
                yield b"".join(parts), size
                parts, size = [], 0
            if size or line.strip():
                size += len(line)
                if size <= limits.max_file_bytes:
                    parts.append(line)
                else:
                    parts = []
    if size:
        yield b"".join(parts), size


def read_bytes(
    data: bytes,
    source: str,
    limits: Limits = DEFAULT_LIMITS,
    passwords: tuple[str, ...] = (),
    *,
    mbox: bool = False,
) -> Iterator[RawMail | MailFailure]:
    """Every mail in some bytes (.eml, .msg or mbox)."""
    chunks = _split_mbox(data, limits) if mbox else [data]
    for index, chunk in enumerate(chunks):
        where = f"{source}#{index + 1}" if len(chunks) > 1 else source
        try:
            raw = (
                parse_msg(chunk, where, limits)
                if chunk[:8] == OLE_MAGIC
                else parse_eml(chunk, where, limits)
            )
            if not raw.headers and not raw.text and not raw.attachments:
                raise MailError("no mail headers or content found", where=where)
            yield finish(raw, limits, passwords)
        except MailError as exc:
            yield MailFailure(where, exc.message)
        except RecursionError:
            yield MailFailure(where, "mail structure nested too deeply to read")
        except Exception as exc:  # the stdlib and format libraries raise anything on hostile bytes
            log.debug("cannot read %s", where, exc_info=True)
            yield MailFailure(where, f"mail could not be read: {type(exc).__name__}: {exc}"[:300])


def finish(
    raw: RawMail, limits: Limits, passwords: tuple[str, ...] = (), budget: Budget | None = None
) -> RawMail:
    """Open containers and attached mail files of ``raw`` and of every mail attached to it."""
    budget = budget or Budget(limits)
    candidates = tuple(dict.fromkeys((*body_passwords(raw.text, raw.html), *passwords)))[
        : limits.max_passwords
    ]
    attachments: list[Blob] = []
    embedded = [finish(inner, limits, passwords, budget) for inner in raw.embedded]
    warnings = list(raw.warnings)
    for blob in raw.attachments:
        if (
            blob.type == "eml"
            or blob.name.lower().endswith(".eml")
            or (blob.name.lower().endswith(".msg") and blob.data[:8] == OLE_MAGIC)
        ):
            inner = _attached_mail(blob, raw.source, limits)
            if inner is not None:
                embedded.append(finish(inner, limits, passwords, budget))
                attachments.append(blob)
                continue
        if not budget.take(len(blob.data)):
            # Past the cap a part is still judged by its name, type and bytes (already in
            # memory), never opened further; reaching the cap is itself a finding.
            if budget.exhausted[0] not in warnings:
                warnings.append(budget.exhausted[0])
                blob = replace(blob, notes=(*blob.notes, budget.cap_note()))
            attachments.append(blob)
            continue
        attachments.append(expand(blob, candidates, budget))
    return replace(
        raw, attachments=tuple(attachments), embedded=tuple(embedded), warnings=tuple(warnings)
    )


def _attached_mail(blob: Blob, source: str, limits: Limits) -> RawMail | None:
    if blob.depth > limits.max_depth:
        return None
    try:
        if blob.data[:8] == OLE_MAGIC:
            return parse_msg(blob.data, f"{source}>{blob.name}", limits, depth=blob.depth)
        return parse_eml(blob.data, f"{source}>{blob.name}", limits, depth=blob.depth)
    except MailError:
        return None


def _is_mbox(path: Path, data: bytes) -> bool:
    if path.suffix.lower() in (".mbox", ".mbx") or path.name.lower() == "mbox":
        return True
    # an .eml may start with one envelope line; only extension-less or .txt files are sniffed
    return (
        path.suffix.lower() in ("", ".txt")
        and data.startswith(b"From ")
        and len(_MBOX_SPLIT.findall(data[:5_000_000])) > 0
    )


def _split_mbox(data: bytes, limits: Limits) -> list[bytes]:
    parts = [p for p in _MBOX_SPLIT.split(data) if p.strip()]
    if len(parts) > limits.max_mbox_messages:
        log.warning(
            "mbox has %d messages; only the first %d read", len(parts), limits.max_mbox_messages
        )
    return parts[: limits.max_mbox_messages]
