"""From reasons to a score and a verdict: each reason id counts once, lure language is capped."""

from __future__ import annotations

from spearhunt.detect.mail.config import MailConfig
from spearhunt.model.mail import Reason

# Language alone must not condemn a newsletter: its reasons together count at most this much.
GROUP_CAPS = {"lang.": 30, "hdr.": 60, "auth.": 45, "link.": 40}
# Benign evidence (negative scores) may lower a score this much at most: it never hides a payload.
BENIGN_FLOOR = -25


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
