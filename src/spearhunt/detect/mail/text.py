"""Text folding for comparisons: invisible characters out, look-alike letters mapped to Latin."""

from __future__ import annotations

import functools
import re
import unicodedata

# Invisible or direction-changing code points that hide words from filters and readers.
_HIDDEN_RANGES = (
    (0x200B, 0x200C),
    (0x200E, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x2069),
    (0xFEFF, 0xFEFF),
    (0xE0000, 0xE007F),
    (0xE0100, 0xE01EF),
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x180E, 0x180E),
)
_WORD = re.compile(r"\w+", re.UNICODE)


def _hidden(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _HIDDEN_RANGES)


def hidden_chars(text: str) -> int:
    """How many invisible or bidi-control characters ``text`` holds."""
    return sum(1 for ch in text if _hidden(ch))


def strip_hidden(text: str) -> str:
    """``text`` without invisible characters and with compatibility forms folded (NFKC)."""
    return unicodedata.normalize("NFKC", "".join(ch for ch in text if not _hidden(ch)))


@functools.lru_cache(maxsize=4096)
def _latin(ch: str) -> str:
    from confusable_homoglyphs import confusables

    hit = confusables.is_confusable(ch, preferred_aliases=["latin"], greedy=True)
    if hit:
        for glyph in hit[0]["homoglyphs"]:
            c = str(glyph["c"])
            if c.isascii() and c.isalpha():
                return c
    return ch


def fold(text: str) -> str:
    """Text as a reader perceives it: hidden characters, stray marks and homoglyphs removed."""
    out = []
    for ch in strip_hidden(text[:2000]):
        if unicodedata.category(ch) == "Mn":
            continue
        out.append(ch if ch.isascii() or not ch.isalpha() else _latin(ch))
    return "".join(out)


def _script(ch: str) -> str:
    try:
        return unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return "?"


def disguised_words(text: str) -> list[str]:
    """Words that mix Latin with look-alike scripts, use styled math letters or foreign marks."""
    found = []
    for word in _WORD.findall(strip_hidden_keep_styles(text[:2000])):
        letters = [ch for ch in word if ch.isalpha()]
        if any(0x1D400 <= ord(ch) <= 0x1D7FF for ch in word):
            found.append(word)
            continue
        scripts = {_script(ch) for ch in letters if not ch.isascii()}
        has_latin = any(ch.isascii() for ch in letters)
        if has_latin and scripts & {"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC"}:
            found.append(word)
    found.extend(
        chunk
        for chunk in re.findall(
            r"[A-Za-z][\u0300-\u036f\u0700-\u074f\u0591-\u05c7]+[A-Za-z]", text[:2000]
        )
        if any(0x0700 <= ord(c) <= 0x074F or 0x0591 <= ord(c) <= 0x05C7 for c in chunk)
    )
    return found


def strip_hidden_keep_styles(text: str) -> str:
    """Hidden characters removed but styled letters kept (so they can be seen)."""
    return "".join(ch for ch in text if not _hidden(ch))


_SPACED = re.compile(r"\b(?:[A-Za-z][.\s_*-]){2,}[A-Za-z]\b")
_DIGIT_LETTERS = str.maketrans("013457@$", "oleastas")


def _unmask_word(word: str) -> str:
    if not any(ch.isalpha() for ch in word):
        return word
    word = word.translate(_DIGIT_LETTERS) if any(ch.isdigit() for ch in word) else word
    upper = sum(ch.isupper() for ch in word)
    if upper > len(word) / 2:
        return word.replace("l", "I")  # "lRS" reads as "IRS"
    return word[:1] + word[1:].replace("I", "l")  # "PayPaI" reads as "PayPal"


def unmask(text: str) -> str:
    """Text with the usual filter-dodging tricks undone: "F.e.d.E.x", "CL0UD", "lRS", "PayPaI"."""
    text = _SPACED.sub(lambda m: re.sub(r"[.\s_*-]", "", m.group(0)), fold(text))
    return re.sub(r"[\w@$]+", lambda m: _unmask_word(m.group(0)), text)
