"""Archive passwords that a lure gives in its own body ("the password is 1234")."""

from __future__ import annotations

import html
import re

_WORDS = (
    r"password|passwort|passcode|pass(?:word)?\s*code|pwd|pw|senha|contrase(?:ñ|n)a|clave|"
    r"mot\s+de\s+passe|wachtwoord|hasło|haslo|parola|пароль|密码|密碼|パスワード|암호|비밀번호|"
    r"archive\s+code|zip\s+code|code|pin"
)
_PATTERN = re.compile(
    rf"(?:{_WORDS})\s*(?:is|ist|est|es|é|:|=|-|–|—)?\s*(?:is\s*)?[:=]?\s*"
    r"[\"'“”‘’«\[(<]?\s*([^\s\"'“”‘’«»\])>]{3,40})",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]{0,2000}>")
_STOP = frozenset(
    {"is", "the", "for", "below", "above", "attached", "file", "to", "and", "required"}
)


def body_passwords(text: str, html_body: str = "", limit: int = 8) -> tuple[str, ...]:
    """Candidate passwords stated in the body, in order of appearance, deduplicated."""
    plain = text + "\n" + html.unescape(_TAG.sub(" ", html_body[:500_000]))
    found: list[str] = []
    for match in _PATTERN.finditer(plain[:1_000_000]):
        candidate = match.group(1).rstrip(".,;:!?")
        if len(candidate) < 3 or candidate.lower() in _STOP:
            continue
        if candidate not in found:
            found.append(candidate)
        if len(found) >= limit:
            break
    return tuple(found)
