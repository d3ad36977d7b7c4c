"""RFC 5322 / MIME reader: bytes of an .eml to a bounded, decoded RawMail.

The stdlib parser in compat32 mode is used because it never raises on malformed input; every
decode is done by hand here with a lenient fallback so wrong charsets cost a warning, not a mail.
"""

from __future__ import annotations

import codecs
import email
import email.header
import email.message
import email.policy
import email.utils
import logging
from collections.abc import Iterator
from email.message import Message

from spearhunt.ingest.mail.blob import Blob, make_blob
from spearhunt.ingest.mail.limits import Limits
from spearhunt.ingest.mail.message import RawMail

log = logging.getLogger(__name__)


def decode_header(value: object, limit: int = 16_384) -> str:
    """A header value as text: RFC 2047 words decoded, unknown charsets replaced, length capped."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        # raw 8-bit header bytes: most senders mean UTF-8, fall back to Latin-1
        try:
            value = "".join(
                _to_text(chunk, None if cs in (None, "unknown-8bit") else cs)
                if isinstance(chunk, bytes)
                else chunk
                for chunk, cs in email.header.decode_header(value)
            )
        except (ValueError, LookupError, AssertionError, IndexError):
            value = str(value)
    text = str(value)[: limit * 2]
    if "=?" in text:
        try:
            pieces = []
            for chunk, charset in email.header.decode_header(text):
                if isinstance(chunk, bytes):
                    pieces.append(_to_text(chunk, charset))
                else:
                    pieces.append(chunk)
            # decode_header drops the spaces between encoded and plain words only when needed
            text = "".join(pieces)
        except (ValueError, LookupError, AssertionError, IndexError):
            pass
    return " ".join(text.split())[:limit]


def _to_text(data: bytes, charset: str | None) -> str:
    name = (charset or "utf-8").strip().strip('"').lower()
    try:
        codecs.lookup(name)
    except LookupError:
        name = "utf-8"
    try:
        return data.decode(name, errors="replace")
    except (LookupError, UnicodeError, ValueError):
        return data.decode("latin-1", errors="replace")


def parse_eml(data: bytes, source: str, limits: Limits, depth: int = 0) -> RawMail:
    """Parse mail bytes; never raises on malformed MIME (problems become warnings)."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    return from_message(msg, source, limits, depth=depth, size=len(data))


def from_message(
    msg: Message, source: str, limits: Limits, *, depth: int = 0, size: int = 0
) -> RawMail:
    """Convert a parsed stdlib message (top level or attached) to a RawMail."""
    warnings: list[str] = [f"parser: {type(d).__name__}" for d in (msg.defects or [])][:20]
    headers = tuple(
        (str(k), decode_header(v, limits.max_header_chars)) for k, v in msg.items()[:500]
    )
    if len(msg.items()) > 500:
        warnings.append(f"{len(msg.items())} header fields; only the first 500 analysed")
    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[Blob] = []
    embedded: list[RawMail] = []
    budget = [limits.max_body_chars]
    for count, part in enumerate(_leaves(msg)):
        if count >= limits.max_parts:
            warnings.append(f"more than {limits.max_parts} MIME parts; the rest were not analysed")
            break
        try:
            ctype = part.get_content_type().lower()
        except (AttributeError, TypeError, ValueError):  # 8-bit junk in Content-Type
            ctype = "application/octet-stream"
        filename = _filename(part)
        disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        payload = _payload(part, warnings)
        if ctype in ("text/plain", "text/html") and not filename and disposition != "attachment":
            text = _to_text(payload, part.get_content_charset())
            if budget[0] > 0:
                (htmls if ctype == "text/html" else texts).append(text[: budget[0]])
                budget[0] -= len(text)
            continue
        name = filename or f"part-{count}.{ctype.split('/')[-1][:10]}"
        attachments.append(make_blob(name, payload, declared_type=ctype, depth=depth + 1))
    for inner in _attached_messages(msg):
        if depth + 1 > limits.max_depth:
            warnings.append("attached mail nested too deep: not analysed")
            break
        embedded.append(from_message(inner, f"{source}>attached", limits, depth=depth + 1))
    return RawMail(
        source=source,
        headers=headers,
        text="\n".join(texts),
        html="\n".join(htmls),
        attachments=tuple(attachments),
        embedded=tuple(embedded),
        warnings=tuple(warnings),
        size=size,
    )


def _is_attached_mail(part: Message) -> bool:
    payload = part.get_payload()
    return (
        part.get_content_maintype().lower() == "message"
        and isinstance(payload, list)
        and bool(payload)
        and isinstance(payload[0], Message)
    )


def _leaves(msg: Message) -> Iterator[Message]:
    """Leaf parts of ``msg`` in order, not descending into attached mails (iterative: no recursion
    limit to hit on hostile nesting)."""
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop()
        if part is not msg and _is_attached_mail(part):
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
            continue
        yield part


def _attached_messages(msg: Message) -> list[Message]:
    """Messages attached directly to ``msg`` (not those nested deeper)."""
    found: list[Message] = []
    stack: list[Message] = [msg]
    while stack and len(found) < 1000:
        part = stack.pop()
        if part is not msg and _is_attached_mail(part):
            found.append(part.get_payload()[0])
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
    return found


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or part.get_param("name") or ""
    except (ValueError, LookupError, TypeError, AttributeError):
        name = ""
    if isinstance(name, tuple):  # RFC 2231 triple
        name = email.utils.collapse_rfc2231_value(name)
    return decode_header(name, 512)


def _payload(part: Message, warnings: list[str]) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError) as exc:
        warnings.append(f"undecodable part: {exc}")
        data = None
    if data is None:
        raw = part.get_payload()
        data = raw.encode("utf-8", "replace") if isinstance(raw, str) else b""
    return data if isinstance(data, bytes) else bytes(data)
