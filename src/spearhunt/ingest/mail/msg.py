"""Outlook .msg reader (extract-msg), nested .msg attachments included."""

from __future__ import annotations

import logging
from typing import Any

from spearhunt.errors import MailError
from spearhunt.ingest.mail.blob import Blob, make_blob
from spearhunt.ingest.mail.limits import Limits
from spearhunt.ingest.mail.message import RawMail
from spearhunt.ingest.mail.mime import decode_header

log = logging.getLogger(__name__)


def parse_msg(data: bytes, source: str, limits: Limits, depth: int = 0) -> RawMail:
    """Parse Outlook .msg bytes; raise MailError when it is not a readable .msg at all."""
    import extract_msg

    # extract-msg logs a broken file's fault at ERROR before raising it; the MailError below says
    # it once, for that file
    logging.getLogger("extract_msg").setLevel(logging.CRITICAL)
    try:
        msg = extract_msg.openMsg(data, delayAttachments=False)
    except Exception as exc:  # extract-msg raises its own and olefile's errors on bad input
        raise MailError(
            f"not a readable Outlook .msg: {type(exc).__name__}: {exc}", where=source
        ) from exc
    try:
        return _convert(msg, source, limits, depth, len(data))
    finally:
        msg.close()


def _convert(msg: Any, source: str, limits: Limits, depth: int, size: int) -> RawMail:
    warnings: list[str] = []
    headers: list[tuple[str, str]] = []
    try:
        hdr = msg.header
        if hdr is not None:
            headers = [
                (str(k), decode_header(v, limits.max_header_chars)) for k, v in hdr.items()[:500]
            ]
    except Exception as exc:
        warnings.append(f"msg headers unreadable: {exc}")
    present = {k.lower() for k, _ in headers}
    for key, attr in (
        ("From", "sender"),
        ("To", "to"),
        ("Cc", "cc"),
        ("Subject", "subject"),
        ("Message-ID", "messageId"),
        ("Date", "date"),
    ):
        if key.lower() not in present:
            value = _safe(msg, attr)
            if value:
                headers.append((key, decode_header(value, limits.max_header_chars)))
    body = _safe(msg, "body")
    html_raw = _safe(msg, "htmlBody")
    if body is None and html_raw is None:  # no plain, HTML or RTF body stream
        warnings.append("msg has no readable body: judged on its headers and attachments")
    text = (body or "")[: limits.max_body_chars]
    html_raw = html_raw or b""
    html = html_raw.decode("utf-8", "replace") if isinstance(html_raw, bytes) else str(html_raw)
    attachments: list[Blob] = []
    embedded: list[RawMail] = []
    for index, att in enumerate(_safe(msg, "attachments") or []):
        if index >= limits.max_parts:
            warnings.append(f"more than {limits.max_parts} attachments; the rest were not analysed")
            break
        data = _safe(att, "data")
        name = (
            _safe(att, "longFilename")
            or _safe(att, "shortFilename")
            or _safe(att, "name")
            or f"attachment-{index}"
        )
        if data is not None and not isinstance(data, (bytes, bytearray)):
            if depth + 1 > limits.max_depth:
                warnings.append("attached .msg nested too deep: not analysed")
                continue
            try:
                embedded.append(_convert(data, f"{source}>{name}", limits, depth + 1, 0))
            except Exception as exc:
                warnings.append(f"attached mail {name!r} unreadable: {exc}")
            continue
        attachments.append(make_blob(str(name), bytes(data or b""), depth=depth + 1))
    return RawMail(
        source=source,
        headers=tuple(headers),
        text=str(text),
        html=html[: limits.max_body_chars],
        attachments=tuple(attachments),
        embedded=tuple(embedded),
        warnings=tuple(warnings),
        size=size,
    )


def _safe(obj: Any, attr: str) -> Any:
    """Attribute of an extract-msg object, or None when computing it fails on a broken file."""
    try:
        value = getattr(obj, attr)
    except Exception:
        log.debug("msg property %s unreadable", attr, exc_info=True)
        return None
    if attr == "date" and value is not None:
        return (
            value.strftime("%a, %d %b %Y %H:%M:%S %z") if hasattr(value, "strftime") else str(value)
        )
    return value
