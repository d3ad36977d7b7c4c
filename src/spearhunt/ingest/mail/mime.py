"""RFC 5322 / MIME reader: bytes of an .eml to a bounded, decoded RawMail.

The stdlib parser in compat32 mode is used because it never raises on malformed input; every
decode is done by hand here with a lenient fallback so wrong charsets cost a warning, not a mail.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.errors
import email.header
import email.message
import email.policy
import email.utils
import logging
import quopri
import re
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
        except (ValueError, LookupError, AssertionError, IndexError, email.errors.MessageError):
            value = str(value)
    text = str(value)[: limit * 2]
    if "=?" in text:
        text = decode_words(text)
    return " ".join(text.split())[:limit]


# An RFC 2047 encoded word; the whitespace between two of them is not part of the text.
_WORD = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(?==\?[^?\s]{1,64}\?[bBqQ]\?)")


def decode_words(text: str) -> str:
    """RFC 2047 words decoded one by one, leniently: a word that cannot be decoded (bad base64
    length, NUL or unknown charset) is decoded as far as it can be, never an exception."""
    return _WORD.sub(_decode_word, _BETWEEN_WORDS.sub(r"\1", text))


def _decode_word(m: re.Match[str]) -> str:
    charset, enc, data = m.group(1).split("*", 1)[0], m.group(2).lower(), m.group(3)
    try:
        if enc == "b":
            clean = re.sub(r"[^A-Za-z0-9+/]", "", data)
            if len(clean) % 4 == 1:  # one character short of a byte: dropped
                clean = clean[:-1]
            raw = base64.b64decode(clean + "=" * (-len(clean) % 4))
        else:
            raw = quopri.decodestring(
                data.replace("_", " ").encode("latin-1", "replace"), header=True
            )
    except (ValueError, binascii.Error):
        return m.group(0)
    return _to_text(raw, charset)


def _to_text(data: bytes, charset: str | None) -> str:
    name = str(charset or "utf-8").strip().strip('"').lower()
    try:
        codecs.lookup(name)
    except (LookupError, ValueError, TypeError):  # unknown, or a NUL in the name
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
    for n, part in enumerate(_attached_messages(msg)):
        inner: Message = part.get_payload()[0]  # type: ignore[index, assignment]  # checked by _is_attached_mail
        cte = str(part.get("Content-Transfer-Encoding") or "").strip().lower()
        if cte in ("base64", "quoted-printable") or not inner.keys():
            # Not a mail the parser could walk (encoded, or no headers): a part labelled
            # message/rfc822 must not hide its content from the verdict. Its bytes become
            # an attachment, judged like any other (and read as a mail if they are one).
            name = _filename(part) or f"attached-message-{n + 1}"
            data = _message_bytes(inner, cte)
            attachments.append(
                make_blob(name, data, declared_type="message/rfc822", depth=depth + 1)
            )
            continue
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


def _message_bytes(inner: Message, cte: str) -> bytes:
    """The bytes of an attached message part, its transfer encoding undone."""
    try:
        raw = inner.as_bytes()
    except (ValueError, TypeError, LookupError, UnicodeError, AttributeError):
        raw = str(inner.get_payload()).encode("utf-8", "replace")
    try:
        if cte == "base64":
            clean = re.sub(rb"[^A-Za-z0-9+/]", b"", raw)
            clean = clean[: len(clean) - (len(clean) % 4 == 1)]
            return base64.b64decode(clean + b"=" * (-len(clean) % 4))
        if cte == "quoted-printable":
            return quopri.decodestring(raw)
    except (ValueError, binascii.Error):
        pass
    return raw


def _attached_messages(msg: Message) -> list[Message]:
    """Parts of ``msg`` that hold an attached message (not those nested deeper)."""
    found: list[Message] = []
    stack: list[Message] = [msg]
    while stack and len(found) < 1000:
        part = stack.pop()
        if part is not msg and _is_attached_mail(part):
            found.append(part)
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
