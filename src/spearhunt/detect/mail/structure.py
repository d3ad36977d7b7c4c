"""Body structure: hidden text, near-empty bodies that only carry a link, emoji and junk in headers."""

from __future__ import annotations

import re

from spearhunt.detect.mail import domains
from spearhunt.detect.mail.catalogue import reason
from spearhunt.detect.mail.context import MailContext, parse_addresses
from spearhunt.detect.mail.htmlscan import visible_text
from spearhunt.model.mail import Reason

# a newsletter's one hidden preview line is normal; salad, or letters split by hidden junk, is not
HIDDEN_SEGMENTS = 3
HIDDEN_WORDS = 40
TINY_BODY = 250
_WORD = re.compile(r"\w{2,}")
_TOKEN = re.compile(r"^[A-Za-z0-9]{8,}$")
_EMOJI = re.compile(
    "[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u203c\u2049\u23f0-\u23ff\U0001f000-\U0001f2ff]"
)
_TAIL_JUNK = re.compile(
    r"(?:\s{2,}|\.{2,}|\.(?=[A-Z]))\s*([A-Z0-9]{4,12})\s*$|"
    r"\b([b-df-hj-np-tv-z]{3,}[a-z]{0,3}(?:\.[a-z]{4,6}){2,})\b"
)
_REPLY = re.compile(r"(?i)^\s*(?:re|aw|sv|antw|odp)\s*:")
_REFERENCE = re.compile(r"(?<![\w.-])\d{7,}(?![\w.-])|#\s?[A-Z0-9][A-Z0-9-]{5,}\b")
_HOSTNAME = re.compile(
    r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{2,59})$"
)
_VOWELS = frozenset("aeiouy")
# real mail programs name themselves with a version ("Microsoft Outlook 16.0", "Mutt/1.4", "Evolution/1.0")
_VERSIONED = re.compile(r"[\s/.(\[]")
# a random word mixes cases and digits inside it ("Jt3s16b", "zSVPf2M2icS"); words and ids do not
_SALAD_WORD = re.compile(
    r"^(?=\w*\d)(?=\w*[a-z])(?=\w*[A-Z])[A-Za-z0-9]{6,}$|^[A-Za-z]*[a-z][A-Z][a-z]+[A-Z]\w*$"
)
GIBBERISH_WORDS = 20
GIBBERISH_SHARE = 0.25


def check_structure(ctx: MailContext) -> list[Reason]:
    """Hidden text, link-only bodies, emoji and junk tokens in the sender name or subject."""
    out = _hidden(ctx)
    out.extend(_tiny(ctx))
    out.extend(_image_lure(ctx))
    cfg = ctx.config
    display = ctx.sender.display if ctx.sender else ""
    emoji = _EMOJI.findall(f"{display} {ctx.subject}")
    if emoji:
        out.append(
            reason(
                cfg,
                "hdr.emoji",
                [
                    f"{''.join(emoji[:6])} in sender name or subject",
                    f"subject {ctx.subject[:80]!r}",
                ],
            )
        )
    ref = _REFERENCE.search(ctx.subject)
    if ref:
        out.append(
            reason(
                cfg, "hdr.reference_number", [f"{ref.group(0)!r} in subject {ctx.subject[:80]!r}"]
            )
        )
    out.extend(_sender_shape(ctx))
    out.extend(_mailer(ctx))
    out.extend(_gibberish(ctx))
    junk = _TAIL_JUNK.search(ctx.subject) or _TAIL_JUNK.search(display)
    if junk:
        out.append(
            reason(
                cfg,
                "hdr.random_token",
                [f"junk token {(junk.group(1) or junk.group(2))!r} in {ctx.subject[:80]!r}"],
            )
        )
    return out


def _hidden(ctx: MailContext) -> list[Reason]:
    hidden = [h.strip() for h in ctx.html.hidden if _WORD.search(h)]
    if not hidden:
        return []
    words = sum(len(_WORD.findall(h)) for h in hidden)
    tokens = [
        h for h in hidden if _TOKEN.match(h) and (domains.looks_random(h) or re.search(r"\d", h))
    ]
    if len(hidden) < HIDDEN_SEGMENTS and words < HIDDEN_WORDS and not tokens:
        return []
    return [
        reason(
            ctx.config,
            "body.hidden_text",
            [
                f"{len(hidden)} hidden text block(s), {words} words",
                *(repr(h[:60]) for h in (tokens or hidden)[:3]),
            ],
        )
    ]


def _tiny(ctx: MailContext) -> list[Reason]:
    """A body with almost no words whose whole point is a link, an image or an attachment."""
    if _REPLY.match(ctx.subject) or ctx.raw.header("In-Reply-To"):
        return []
    visible = " ".join(ctx.body.split())
    if len(visible) >= TINY_BODY:
        return []
    images = ctx.raw.html.lower().count("<img")
    carried = [b.name for b in ctx.raw.attachments if b.type not in ("image",)]
    own = ctx.sender.root if ctx.sender else ""
    away = [link for link in ctx.links if link.host and domains.root(link.host) != own]
    if not (away or carried):
        return []
    what = [f"{len(visible)} characters of visible text"]
    if away:
        what.append(f"{len(away)} link(s) away from the sender's domain, first {away[0].url[:80]}")
    if images:
        what.append(f"{images} image(s)")
    if carried:
        what.append(f"attachment {carried[0][:60]}")
    return [reason(ctx.config, "body.tiny_lure", what)]


IMAGE_LURE_TEXT = 200


def _image_lure(ctx: MailContext) -> list[Reason]:
    """An HTML body that is a picture with the link laid over it (an image map or a linked image)
    and next to no text: the words a filter would read are inside the image."""
    facts = ctx.html
    if not facts.images:
        return []
    shown = visible_text(facts)
    if len(shown) >= IMAGE_LURE_TEXT:
        return []
    own = ctx.sender.root if ctx.sender else ""
    over = [
        link
        for link in ctx.links
        if link.kind in ("area", "image") and link.host and domains.root(link.host) != own
    ]
    if not over:
        return []
    inline = sum(1 for src in facts.images if src.lower().startswith("cid:"))
    return [
        reason(
            ctx.config,
            "body.image_lure",
            [
                f"{len(facts.images)} image(s), {inline} carried in the mail (cid:)",
                f"{len(shown)} characters of text",
                f"{over[0].kind} link to {over[0].url[:100]}",
            ],
        )
    ]


def random_local(local: str) -> str:
    """Why a mailbox name looks generated ('' when it reads like a person or a role)."""
    if re.fullmatch(r"[A-Za-z]+_[A-Za-z]+_\d{4,}", local):
        return "name_name_digits pattern"
    if re.fullmatch(r"\d{8,}", local):
        return "only digits"
    if re.search(r"[\d#=]", local):
        return ""  # bounce and tracking addresses of mailing services encode ids; not judged
    for token in re.split(r"[._+-]", local):
        letters = token.lower()
        if (
            len(letters) >= 5
            and letters.isalpha()
            and sum(c in _VOWELS for c in letters) / len(letters) < 0.2
        ):
            return f"unpronounceable {token!r}"
    return ""


def _sender_shape(ctx: MailContext) -> list[Reason]:
    """Generated mailbox names on a company domain; From headers that hold no usable address."""
    cfg = ctx.config
    sender = ctx.sender
    raw_from = ctx.raw.header("From")
    domain = sender.domain if sender else ""
    entries = parse_addresses(raw_from)
    mailboxes = [a for a in entries if "@" in a.address]
    if (
        not domain
        or ("." in domain and not _HOSTNAME.match(domain))
        or len(mailboxes) > 1
        or len(entries) > len(mailboxes)  # stray words around the address: a header built by hand
    ):
        return [reason(cfg, "hdr.malformed_from", [f"From: {raw_from[:120]!r}"])]
    if sender is None or sender.root in cfg.free_email:
        return []  # free-mail local parts are the user's own choice; headers.py judges those
    original = raw_from.rsplit("<", 1)[-1].split("@", 1)[0].strip()
    why = random_local(original)
    return [reason(cfg, "hdr.random_sender", [f"{original}@{domain}: {why}"])] if why else []


def _mailer(ctx: MailContext) -> list[Reason]:
    """An X-Mailer that is one bare word: bulk tools fill the header with a random or borrowed name."""
    mailer = ctx.raw.header("X-Mailer").strip()
    if not mailer or _VERSIONED.search(mailer):
        return []
    return [
        reason(
            ctx.config, "hdr.fake_mailer", [f"X-Mailer: {mailer[:80]!r} names no program version"]
        )
    ]


def gibberish_share(text: str) -> tuple[int, float]:
    """(long words seen, share of them that are random letter-digit salad) over the start of ``text``."""
    words = [
        w
        for line in text[:20_000].splitlines()
        if len(line) < 200 or " " in line.strip()
        for w in line.split()
        if len(w) >= 6 and w.isalnum()
    ]
    if not words:
        return 0, 0.0
    return len(words), sum(1 for w in words if _SALAD_WORD.match(w)) / len(words)


def _gibberish(ctx: MailContext) -> list[Reason]:
    """A body made of random tokens: salad that feeds statistical filters and hides the real lure."""
    count, share = gibberish_share(ctx.body)
    if count < GIBBERISH_WORDS or share < GIBBERISH_SHARE:
        return []
    sample = [w for w in ctx.body[:5000].split() if _SALAD_WORD.match(w)][:4]
    return [
        reason(
            ctx.config,
            "body.gibberish",
            [f"{share:.0%} of {count} long words are random tokens", f"e.g. {' '.join(sample)}"],
        )
    ]
