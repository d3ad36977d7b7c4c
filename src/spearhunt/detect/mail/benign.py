"""Evidence that a mail is ordinary traffic: a real mailing list, a real conversation.

These reasons carry negative scores. They are kept narrow on purpose: bulk phish often carries a
List-Unsubscribe header or a fake "Re:", so only consistent list headers and a quoted thread count.
"""

from __future__ import annotations

import re

from spearhunt.detect.mail import domains
from spearhunt.detect.mail.catalogue import reason
from spearhunt.detect.mail.context import MailContext, parse_addresses
from spearhunt.model.mail import Reason

_LIST_ID = re.compile(r"<([\w.+-]+)>")
_MSG_ID = re.compile(r"<[^<>@\s]+@[^<>\s]+>")
_QUOTED = re.compile(r"(?m)^\s*>|\bwrote:\s*$|^-----\s*Original Message\s*-----", re.IGNORECASE)


def list_domain(ctx: MailContext) -> str:
    """Registrable domain of a real List-Id (not a placeholder such as *.local), or ''."""
    match = _LIST_ID.search(ctx.raw.header("List-Id"))
    if not match:
        return ""
    host = match.group(1).lower().strip(".")
    _sub, label, suffix = domains.split(host)
    if not suffix or not label or domains.looks_random(label):
        return ""
    return f"{label}.{suffix}"


def list_rewrote_from(ctx: MailContext) -> bool:
    """The From is a mailing list's own address, put there by the list for DMARC ("Ann via List"),
    with the poster in Reply-To: replies and signatures then belong to the list, not to a forger."""
    sender = ctx.sender
    lid = list_domain(ctx)
    return bool(lid) and sender is not None and sender.root == lid


def through_list(ctx: MailContext) -> bool:
    """Delivered by a mailing list whose List-Id agrees with the From, Sender or Return-Path
    domain; lists rewrite subjects and footers, which breaks the poster's DKIM signature."""
    lid = list_domain(ctx)
    if not lid:
        return False
    roots = {a.root for a in (ctx.sender, ctx.return_path) if a is not None}
    roots |= {a.root for a in parse_addresses(ctx.raw.header("Sender"))}
    return lid in roots


def check_benign(ctx: MailContext) -> list[Reason]:
    """A consistent mailing list, or a reply quoting an earlier message of the thread."""
    cfg = ctx.config
    raw = ctx.raw
    out: list[Reason] = []
    senders = {a.root for a in (ctx.sender, ctx.return_path) if a is not None and a.root}
    senders |= {a.root for a in parse_addresses(raw.header("Sender")) if a.root}
    lid = list_domain(ctx)
    precedence = raw.header("Precedence").strip().lower()
    if lid and lid in senders:
        out.append(
            reason(
                cfg,
                "ben.mailing_list",
                [f"List-Id {raw.header('List-Id')[:100]}", f"sent through {lid}"],
            )
        )
    elif (
        precedence in ("list", "bulk")
        and ctx.sender is not None
        and ctx.return_path is not None
        and ctx.sender.root == ctx.return_path.root
        and raw.header("List-Unsubscribe")
    ):
        out.append(
            reason(
                cfg,
                "ben.mailing_list",
                [f"Precedence: {precedence}", f"From and Return-Path both {ctx.sender.root}"],
            )
        )
    refs = _MSG_ID.findall(raw.header("References"))
    if raw.header("In-Reply-To") and refs and _QUOTED.search(raw.text[:200_000]):
        out.append(
            reason(
                cfg,
                "ben.thread",
                [
                    f"In-Reply-To {raw.header('In-Reply-To')[:100]}",
                    f"{len(refs)} earlier message(s) referenced, quoted text",
                ],
            )
        )
    return out
