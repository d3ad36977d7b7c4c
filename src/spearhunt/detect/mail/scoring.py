"""From reasons to a score and a verdict: each reason id counts once, lure language is capped, and
weak tells from several independent families earn a small bonus."""

from __future__ import annotations

from spearhunt.detect.mail.catalogue import reason
from spearhunt.detect.mail.config import MailConfig
from spearhunt.model.mail import Reason

# Language alone must not condemn a newsletter: its reasons together count at most this much.
GROUP_CAPS = {"lang.": 30, "hdr.": 60, "auth.": 45, "link.": 60}
# Benign evidence (negative scores) may lower a score this much at most: it never hides a payload.
BENIGN_FLOOR = -25


# Families of evidence that a sender controls independently: a bulk lure tends to trip several at once
# (odd infrastructure, a styled subject, lure words, odd links), a newsletter rarely more than two.
_SUBJECT_TELLS = frozenset(
    {
        "hdr.emoji",
        "hdr.reference_number",
        "hdr.random_token",
        "hdr.recipient_in_subject",
        "hdr.confusable_text",
        "hdr.invisible_chars",
    }
)
COMBO_FAMILIES = 3
COMBO_MIN_SCORE = (
    8  # a tell this weak or weaker (Return-Path on a bulk host, "click here") is not counted
)
COMBO_FLOOR = 20  # the tells must add up to something before the bonus applies


def family(reason_id: str) -> str:
    """Independent evidence family of a reason: auth, sender, subject, link, lang, body, att."""
    if reason_id in _SUBJECT_TELLS:
        return "subject"
    prefix = reason_id.split(".", 1)[0]
    return "sender" if prefix in ("hdr", "dom") else prefix


def weak_combo(reasons: list[Reason], config: MailConfig) -> Reason | None:
    """The bonus reason when tells of three or more families come together (None otherwise)."""
    families: dict[str, list[str]] = {}
    for r in reasons:
        if r.score >= COMBO_MIN_SCORE and not r.id.startswith(("ben.", "mix.")):
            families.setdefault(family(r.id), []).append(r.id)
    if len(families) < COMBO_FAMILIES or total(reasons) < COMBO_FLOOR:
        return None
    return reason(
        config,
        "mix.independent_tells",
        [
            f"{len(families)} independent families",
            *(f"{f}: {', '.join(dict.fromkeys(ids))}" for f, ids in families.items()),
        ],
    )


def total(reasons: list[Reason]) -> int:
    """Sum of the best score per reason id, with per-family caps."""
    best: dict[str, int] = {}
    for r in reasons:
        best[r.id] = max(best.get(r.id, r.score), r.score)
    score = max(BENIGN_FLOOR, sum(v for k, v in best.items() if k.startswith("ben.")))
    for prefix, cap in GROUP_CAPS.items():
        score += min(cap, sum(v for k, v in best.items() if k.startswith(prefix)))
    score += sum(v for k, v in best.items() if not k.startswith((*GROUP_CAPS, "ben.")))
    return max(score, 0)


def verdict(score: int, config: MailConfig) -> str:
    """malicious / suspicious / clean by the configured thresholds."""
    if score >= config.malicious:
        return "malicious"
    if score >= config.suspicious:
        return "suspicious"
    return "clean"
