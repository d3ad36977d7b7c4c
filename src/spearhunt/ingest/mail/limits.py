"""Hard bounds for hostile mail: every loop and every expansion is capped by one of these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on what one mail may cost to read."""

    max_file_bytes: int = 50 * 1024 * 1024  # a larger input file is refused, not read
    max_parts: int = 2_000  # MIME parts walked per message
    max_header_chars: int = 16_384  # per header value kept for analysis
    max_body_chars: int = 1_000_000  # text/html kept per message for analysis
    max_depth: int = 5  # nesting of archives / attached mails / embedded objects
    max_children: int = 200  # total extracted parts per mail
    max_total_bytes: int = 100 * 1024 * 1024  # total extracted bytes per mail
    max_member_bytes: int = 25 * 1024 * 1024  # one archive member
    max_ratio: float = 100.0  # uncompressed / compressed above this is a bomb
    max_mbox_messages: int = 100_000
    max_passwords: int = 8  # candidate archive passwords tried


DEFAULT_LIMITS = Limits()
