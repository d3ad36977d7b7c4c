"""Sender infrastructure: does the way the mail travelled fit who it claims to come from?

Real mail software leaves consistent traces: a mail server greets with its own host name, Outlook
writes its Message-IDs and MIME boundaries in one shape, a brand's servers hand its mail over from
the brand's own network. Bulk and forging tools copy the headers they can see (X-Mailer, From) and
get the rest wrong. These checks read only the headers; nothing is looked up.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from spearhunt.detect.mail import domains
from spearhunt.detect.mail.catalogue import reason
from spearhunt.detect.mail.context import MailContext
from spearhunt.model.mail import Reason

# "from HELO (rdns [1.2.3.4] ...)" as Postfix and sendmail write it
_RECEIVED = re.compile(
    r"^\s*from\s+(\S+)\s+\(([^()\[\]]*?)\s*\[(?:IPv6:)?([0-9a-fA-F.:]+)\]", re.IGNORECASE
)
# reverse names of consumer access lines: DSL, cable, dial-up, dynamic pools, addresses spelled out
_DYNAMIC = re.compile(
    r"(?i)(?:^|[.-])(?:a?dsl|cable|dyn(?:amic)?|dial(?:up)?|dhcp|ppp|pool|cpe|client|broadband|"
    r"dip\d*|home|user)[\d.-]|\d{1,3}[.-]\d{1,3}[.-]\d{1,3}[.-]\d{1,3}"
)
_DOTTED = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
# Outlook and Outlook Express (every version that writes X-Mailer) build Message-IDs from a
# timestamp and counters in hex joined by "$", and boundaries as "----=_NextPart_..."
_OUTLOOK_MAILER = re.compile(r"(?i)\bmicrosoft (?:office )?outlook\b|\boutlook express\b")
_OUTLOOK_ID = re.compile(
    r"^<?(?:[0-9a-f]{12}\$[0-9a-f]{8}\$[0-9a-f]{8}\$?|[A-P]{28}\.[^@]*)@", re.IGNORECASE
)
_SERVER_ID = re.compile(r"@([\w.-]+)>?$")
_OUTLOOK_HEX = re.compile(
    r"^-*=_NextPart_\d{3}_[0-9A-F]{4,8}_[0-9A-F]{8}\.[0-9A-F]{8}$", re.IGNORECASE
)
_OUTLOOK_BOUNDARY = re.compile(r"^-*=_NextPart_", re.IGNORECASE)
_BOUNDARY = re.compile(r"""boundary\s*=\s*"?([^";\s]+)""", re.IGNORECASE)
# spamware pads a borrowed X-Mailer with dictionary words after the version number
_MAILER_TAIL = re.compile(r"\d[\w.]*\)?\s+([a-z]{3,}(?:\s+[a-z]{3,})+)\s*$")


@dataclass(frozen=True, slots=True)
class Hop:
    """One Received line: what the sending host called itself, its reverse name, its address."""

    helo: str
    rdns: str
    ip: str
    line: str


_BY = re.compile(r"\bby\s+([\w.-]+)", re.IGNORECASE)


def receiving_hosts(ctx: MailContext) -> set[str]:
    """Servers of the receiving side: the "by" host of every Received line down to the handoff."""
    hosts: set[str] = set()
    for value in ctx.raw.header_all("Received")[:30]:
        line = " ".join(value.split())
        by = _BY.search(line)
        if by:
            hosts.add(by.group(1).lower().strip("."))
        match = _RECEIVED.match(line)
        if match:
            try:
                if ipaddress.ip_address(match.group(3)).is_global:
                    break
            except ValueError:
                continue
    return hosts


def handoff(ctx: MailContext) -> Hop | None:
    """The hop where the mail entered the receiving side: the newest Received line whose sending
    address is public (internal relays of the recipient come before it)."""
    for value in ctx.raw.header_all("Received")[:30]:
        line = " ".join(value.split())
        match = _RECEIVED.match(line)
        if not match:
            continue
        try:
            public = ipaddress.ip_address(match.group(3)).is_global
        except ValueError:
            continue
        if public:
            rdns = match.group(2).strip().lower()
            return Hop(match.group(1).lower().strip("[]"), rdns, match.group(3), line[:160])
    return None


def check_infrastructure(ctx: MailContext) -> list[Reason]:
    """HELO, Received chain and mailer shapes that do not fit the claimed sender."""
    out = _helo(ctx)
    out.extend(_mailer_shape(ctx))
    out.extend(_receiver_message_id(ctx))
    return out


def _receiver_message_id(ctx: MailContext) -> list[Reason]:
    """A Message-ID written by the recipient's own server: the sending software wrote none, which
    every mail program and mail server does and bulk tools skip."""
    mid = ctx.raw.header("Message-ID").strip()
    match = _SERVER_ID.search(mid)
    if not match or handoff(ctx) is None:
        return []
    host = match.group(1).lower().strip(".")
    sender = ctx.sender
    if sender is not None and domains.root(host) == sender.root:
        return []
    if "." not in host or host.startswith("localhost"):
        return []  # a client naming itself "localhost" wrote it
    if host not in receiving_hosts(ctx):
        return []
    return [
        reason(
            ctx.config,
            "hdr.no_message_id",
            [f"Message-ID {mid[:80]} was written by the receiving server {host}"],
        )
    ]


def _helo(ctx: MailContext) -> list[Reason]:
    hop = handoff(ctx)
    if hop is None:
        return []
    cfg = ctx.config
    out: list[Reason] = []
    unresolved = hop.rdns in ("", "unknown") or hop.rdns.startswith("unknown")
    if _DOTTED.match(hop.helo) or (
        "." not in hop.helo and unresolved and hop.helo not in ("localhost",)
    ):
        # a mail server names itself; a bare address or a desktop's name straight to the
        # recipient's server is a program sending directly from some machine
        out.append(
            reason(
                cfg,
                "hdr.helo_bare",
                [f"greeted as {hop.helo!r} from {hop.rdns or 'unknown'} [{hop.ip}]", hop.line],
            )
        )
    sender = ctx.sender
    if (
        sender is not None
        and sender.root
        and _DYNAMIC.search(hop.rdns)
        and domains.root(hop.rdns) != sender.root
    ):
        out.append(
            reason(
                cfg,
                "hdr.dynamic_origin",
                [f"handed over by {hop.rdns} [{hop.ip}]", f"for the From domain {sender.root}"],
            )
        )
    if sender is not None and sender.root and "." in hop.helo and not _DOTTED.match(hop.helo):
        claimed = domains.root(hop.helo)
        # a hosted server may resolve to its provider's name; one that resolves to nothing while
        # naming the From domain is a host borrowing the name
        if claimed == sender.root and unresolved:
            out.append(
                reason(
                    cfg,
                    "hdr.helo_forged",
                    [
                        f"greeted as {hop.helo!r} (the From domain {sender.root})",
                        f"but the address {hop.ip} is {hop.rdns or 'unknown'}",
                    ],
                )
            )
    return out


def _server_made(ctx: MailContext, mid: str) -> bool:
    """A Message-ID the submission server wrote (its host appears in the Received chain, or it is
    the sender's own domain): the client left it to the server, which Outlook on webmail does."""
    match = _SERVER_ID.search(mid)
    if not match:
        return False
    host = match.group(1).lower()
    sender = ctx.sender
    if sender is not None and domains.root(host) == sender.root:
        return True
    chain = " ".join(ctx.raw.header_all("Received")[:30]).lower()
    return f"by {host}" in chain


def _mailer_shape(ctx: MailContext) -> list[Reason]:
    """An X-Mailer claiming Outlook on a mail Outlook did not write."""
    mailer = " ".join(ctx.raw.header("X-Mailer").split())
    cfg = ctx.config
    tail = _MAILER_TAIL.search(mailer)
    if tail and not re.search(r"[()\[\];]", mailer[tail.start(1) :]):
        return [
            reason(
                cfg,
                "hdr.mailer_mismatch",
                [f"X-Mailer {mailer[:100]!r} ends in padding words {tail.group(1)!r}"],
            )
        ]
    boundary = _BOUNDARY.search(ctx.raw.header("Content-Type"))
    shape = boundary.group(1) if boundary else ""
    if _OUTLOOK_BOUNDARY.match(shape) and not _OUTLOOK_HEX.match(shape):
        return [
            reason(
                cfg,
                "hdr.mailer_mismatch",
                [
                    f"MIME boundary {shape[:60]!r} imitates Outlook's but not its hexadecimal counters",
                    f"X-Mailer {mailer[:80]!r}" if mailer else "no X-Mailer",
                ],
            )
        ]
    if not _OUTLOOK_MAILER.search(mailer) or "macintosh" in mailer.lower():
        return []  # Outlook Express for the Mac leaves the Message-ID to the server
    why: list[str] = []
    mid = ctx.raw.header("Message-ID").strip()
    if mid and not _OUTLOOK_ID.match(mid) and not _server_made(ctx, mid):
        why.append(f"Message-ID {mid[:80]} is not in Outlook's shape")
    match = _BOUNDARY.search(ctx.raw.header("Content-Type"))
    if match and not _OUTLOOK_BOUNDARY.match(match.group(1)):
        why.append(f"MIME boundary {match.group(1)[:60]!r} is not Outlook's")
    if ctx.raw.html and not ctx.raw.text.strip():
        why.append("HTML only, without the plain-text part Outlook always writes")
    if not why:
        return []
    return [reason(cfg, "hdr.mailer_mismatch", [f"X-Mailer {mailer[:80]!r}", *why])]
