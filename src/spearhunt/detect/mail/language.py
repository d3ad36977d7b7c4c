"""Lure language: phrase families from the config, counted over subject and body."""

from __future__ import annotations

import re

from spearhunt.detect.mail.catalogue import reason
from spearhunt.detect.mail.context import MailContext
from spearhunt.detect.mail.text import fold, strip_hidden
from spearhunt.model.mail import Reason

MAX_SCAN = 30_000  # lures say what they want early; long newsletters are not read to the end


def check_language(ctx: MailContext) -> list[Reason]:
    """One reason per phrase family seen, plus one when several families come together."""
    cfg = ctx.config
    text = fold(ctx.subject) + "\n" + strip_hidden(ctx.body[:MAX_SCAN])
    out: list[Reason] = []
    for family, pattern in cfg.phrases.items():
        found = list(dict.fromkeys(m.group(0).strip().lower() for m in pattern.finditer(text)))[:10]
        rid = f"lang.{family}"
        if family == "callback" and not _PHONE.search(text):
            continue  # a call-back lure needs a number to call
        if found and rid in _KNOWN:
            out.append(reason(cfg, rid, [f"{family}: {', '.join(repr(f) for f in found[:5])}"]))
    if len(out) >= 3:
        out.append(
            reason(cfg, "lang.combo", [f"{len(out)} lure families: {', '.join(r.id for r in out)}"])
        )
    return out


_PHONE = re.compile(r"(?:\+?\d{1,2}[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b")
_KNOWN = frozenset(
    {"lang.credential", "lang.urgency", "lang.money", "lang.callback", "lang.action", "lang.offer"}
)
