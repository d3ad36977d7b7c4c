"""The mail as read: decoded headers, text and HTML bodies, attachments, attached mails."""

from __future__ import annotations

from dataclasses import dataclass

from spearhunt.ingest.mail.blob import Blob


@dataclass(frozen=True, slots=True)
class RawMail:
    """One parsed mail, bounded and decoded; no judgement yet."""

    source: str
    headers: tuple[tuple[str, str], ...] = ()
    text: str = ""
    html: str = ""
    attachments: tuple[Blob, ...] = ()
    embedded: tuple[RawMail, ...] = ()  # mails attached to this one (message/rfc822, .eml, .msg)
    warnings: tuple[str, ...] = ()
    size: int = 0

    def header(self, name: str) -> str:
        """First value of a header (case-insensitive), or ''."""
        low = name.lower()
        for key, value in self.headers:
            if key.lower() == low:
                return value
        return ""

    def header_all(self, name: str) -> tuple[str, ...]:
        """Every value of a header, top (newest) first."""
        low = name.lower()
        return tuple(value for key, value in self.headers if key.lower() == low)
