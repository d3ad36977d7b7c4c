"""Header checks: sender/reply mismatches, impersonation, hidden characters."""

from __future__ import annotations

import re

from spearhunt.detect.mail import domains
from spearhunt.detect.mail.benign import list_rewrote_from
from spearhunt.detect.mail.catalogue import reason
from spearhunt.detect.mail.context import MailContext
from spearhunt.detect.mail.text import disguised_words, fold, hidden_chars, unmask
from spearhunt.model.mail import Reason

_EMAILISH = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")


def check_addresses(ctx: MailContext) -> list[Reason]:
    """From vs Reply-To vs Return-Path, display-name tricks, recipients."""
    cfg = ctx.config
    out: list[Reason] = []
    sender = ctx.sender
    if sender is None:
        return [reason(cfg, "hdr.no_from", ["no From header"])]
    s_root = sender.root
    list_hosts = " ".join(
        ctx.raw.header(h) for h in ("List-Id", "List-Post", "List-Help", "Sender")
    ).lower()
    recipient_roots = {a.root for a in ctx.recipients}
    rewritten = list_rewrote_from(ctx)
    for rt in [] if rewritten else ctx.reply_to:
        r_root = rt.root
        if not r_root or r_root == s_root or r_root in recipient_roots or r_root in list_hosts:
            continue
        if r_root in cfg.free_email and s_root not in cfg.free_email:
            out.append(
                reason(
                    cfg,
                    "hdr.reply_to_freemail",
                    [f"From {sender.address}", f"Reply-To {rt.address}"],
                )
            )
        else:
            out.append(
                reason(
                    cfg,
                    "hdr.reply_to_mismatch",
                    [f"From {sender.address}", f"Reply-To {rt.address}"],
                )
            )
        break
    rp = ctx.return_path
    if rp and rp.root and s_root and rp.root != s_root and rp.root not in list_hosts:
        out.append(
            reason(
                cfg,
                "hdr.return_path_mismatch",
                [f"From {sender.address}", f"Return-Path {rp.address}"],
            )
        )
    display = fold(sender.display)
    link_roots = {domains.root(link.host) for link in ctx.links if link.host}
    for dom in _EMAILISH.findall(display):
        shown = domains.root(dom)
        # a relay or alias service forwarding the shown sender's own mail: every link goes back to it
        if shown != s_root and link_roots != {shown}:
            out.append(
                reason(
                    cfg,
                    "hdr.display_name_address",
                    [f"display name {display!r}", f"sender {sender.address}"],
                )
            )
            break
    out.extend(_impersonation(ctx, display))
    if s_root in cfg.free_email:
        out.append(reason(cfg, "hdr.freemail_sender", [sender.address]))
        if domains.looks_random(re.sub(r"[._-]", "", sender.local)):
            out.append(reason(cfg, "hdr.random_sender", [sender.address]))
    hidden = hidden_chars(sender.display) + hidden_chars(ctx.subject)
    body_hidden = hidden_chars(ctx.body[:100_000])
    if hidden >= 2 or body_hidden >= 20:
        out.append(
            reason(
                cfg,
                "hdr.invisible_chars",
                [
                    f"{hidden} in display name/subject",
                    f"{body_hidden} in body",
                    f"subject reads {fold(ctx.subject)[:80]!r}",
                ],
            )
        )
    disguised = disguised_words(sender.display) + disguised_words(ctx.subject)
    if disguised:
        out.append(
            reason(
                cfg,
                "hdr.confusable_text",
                [
                    f"disguised words: {', '.join(disguised[:5])}",
                    f"reads as {fold(ctx.subject)[:80]!r}",
                ],
            )
        )
    token = _RANDOM_TOKEN.search(f"{sender.display} {ctx.subject}") or _LONG_DIGITS.search(
        sender.display
    )
    if token:
        out.append(
            reason(cfg, "hdr.random_token", [f"token {token.group(0)!r} in sender name or subject"])
        )
    if (
        s_root in cfg.free_email
        and _ORG_WORDS.search(display)
        and not _ORG_WORDS.search(sender.local)
    ):
        out.append(
            reason(
                cfg,
                "hdr.freemail_org_name",
                [f"display name {display!r}", f"sender {sender.address}"],
            )
        )
    noise = _NOISE.search(sender.display)
    if noise:
        out.append(
            reason(
                cfg,
                "hdr.display_name_noise",
                [f"display name {sender.display[:80]!r}: {noise.group(0)!r}"],
            )
        )
    if domains.within(sender.domain, cfg.free_hosting):
        out.append(reason(cfg, "dom.free_hosting_sender", [f"sender {sender.address}"]))
    elif s_root not in cfg.free_email and _MIXED_CASE.search(sender.local):
        out.append(reason(cfg, "hdr.random_sender", [sender.address]))
    if not rewritten and any(sender.address and sender.address == r.address for r in ctx.to):
        out.append(reason(cfg, "hdr.self_sent", [f"From and To are both {sender.address}"]))
    out.extend(_recipients(ctx, display))
    return out


_RANDOM_TOKEN = re.compile(
    r"(?<![\w.@/-])(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{10,}(?![\w.@/-])"
)
_NOISE = re.compile(
    r"[.\-_\"*~`'|]{3,}|(?:\b[A-Za-z]\s){2,}|^[\s\-.\"*~]|\s[.\-]{1,}[A-Z0-9]{4,6}\b"
)
_MIXED_CASE = re.compile(r"^(?=.*[a-z][A-Z][a-z].*[a-z][A-Z])[A-Za-z]{6,}$")
_LONG_DIGITS = re.compile(r"\d{8,}")
_ORG_WORDS = re.compile(
    r"(?i)\b(support|service|team|center|centre|bank|banco|billing|account|notification|notice|admin|security|"
    r"customer|receita|cliente|comunicado|atendimento|suporte|notifica\w*|department|helpdesk|payroll|"
    r"invoice|delivery|verif\w*|restitui\w*|protocolo|fatura|pagamento|finance|wallet|crypto|official|cod)\b"
)


def _impersonation(ctx: MailContext, display: str) -> list[Reason]:
    cfg = ctx.config
    sender = ctx.sender
    assert sender is not None
    s_root = sender.root
    out: list[Reason] = []
    low = display.lower()
    if cfg.brand_pattern is not None and low:
        shown = f"{low} | {unmask(sender.display).lower()}"
        for match in cfg.brand_pattern.finditer(shown):
            brand = match.group(1).lower()
            owned = cfg.brands.get(brand, frozenset())
            if (
                s_root in owned
                or domains.within(sender.domain, owned)
                or s_root in cfg.protected_domains
                or names_itself(sender.display, sender.domain, brand)
            ):
                continue
            out.append(
                reason(
                    cfg,
                    "hdr.brand_display_name",
                    [f"display name {display!r} names {brand!r}", f"sender domain {sender.domain}"],
                )
            )
            break
    if s_root not in cfg.protected_domains and not domains.within(
        sender.domain, cfg.protected_domains
    ):
        folded = " ".join(low.replace(",", " ").split())
        for vip in cfg.vips:
            v = " ".join(vip.lower().replace(",", " ").split())
            if v and (v == folded or v in folded or " ".join(reversed(v.split())) in folded):
                out.append(
                    reason(
                        cfg,
                        "hdr.vip_impersonation",
                        [
                            f"display name {display!r} matches VIP {vip!r}",
                            f"sender {sender.address}",
                        ],
                    )
                )
                break
        names = [*cfg.org_names, *(domains.split(d)[1] for d in cfg.protected_domains)]
        for name in names:
            if len(name) >= 4 and re.search(rf"(?<![\w]){re.escape(name.lower())}(?![\w])", low):
                out.append(
                    reason(
                        cfg,
                        "hdr.org_impersonation",
                        [f"display name {display!r} names {name!r}", f"sender {sender.address}"],
                    )
                )
                break
    return out


def names_itself(display: str, domain: str, brand: str) -> bool:
    """The display name carries the sender's own domain name next to a brand ("Lockergnome Apple Core" from
    lockergnome.com): a publisher writing about the brand, not posing as it. A domain named after the brand
    ("Correios" from correios.example) does not count."""
    label = domains.split(domain)[1].lower()
    squeezed = re.sub(r"[\W_]", "", fold(display).lower())
    flat = re.sub(r"[\W_]", "", brand)
    return len(label) >= 4 and label in squeezed and flat not in label and label not in flat


def _recipients(ctx: MailContext, display: str) -> list[Reason]:
    cfg = ctx.config
    out: list[Reason] = []
    to_header = ctx.raw.header("To").lower()
    if not ctx.to or "undisclosed" in to_header:
        out.append(reason(cfg, "hdr.undisclosed_recipients", [f"To: {to_header[:100]!r}"]))
    subject = fold(ctx.subject).lower()
    for rcpt in ctx.to[:20]:
        if "@" in rcpt.address and (rcpt.address in subject or rcpt.address in display.lower()):
            out.append(
                reason(
                    cfg, "hdr.recipient_in_subject", [f"{rcpt.address} in {ctx.subject[:100]!r}"]
                )
            )
            break
    if not ctx.raw.header("Message-ID"):
        out.append(reason(cfg, "hdr.no_message_id", ["Message-ID missing"]))
    return out


def check_sender_domain(ctx: MailContext) -> list[Reason]:
    """Look-alike, punycode, abused TLD and random-looking sender domains."""
    cfg = ctx.config
    sender = ctx.sender
    if sender is None or not sender.domain:
        return []
    host = sender.domain
    out: list[Reason] = []
    targets = cfg.protected_domains | frozenset(d for ds in cfg.brands.values() for d in ds)
    look = domains.lookalike_of(host, targets, cfg.protected_domains)
    if look:
        rid = "dom.confusable" if look[1] == "homoglyphs" else "dom.lookalike"
        out.append(
            reason(
                cfg,
                rid,
                [
                    f"sender domain {host} ({domains.to_unicode(host)}) imitates {look[0]}: {look[1]}"
                ],
            )
        )
    if domains.is_punycode(host):
        out.append(
            reason(cfg, "dom.punycode", [f"sender domain {host} = {domains.to_unicode(host)}"])
        )
    suffix = domains.split(host)[2]
    if suffix.rsplit(".", 1)[-1] in cfg.suspicious_tlds and sender.root not in cfg.free_email:
        out.append(reason(cfg, "dom.suspicious_tld", [f"sender domain {host}"]))
    brand = domains.brand_in_host(host, cfg.brands)
    if brand:
        out.append(
            reason(
                cfg,
                "dom.brand_in_domain",
                [
                    f"sender domain {host} carries {brand!r}",
                    f"{brand} sends from {', '.join(sorted(cfg.brands[brand])[:3])}",
                ],
            )
        )
    label = domains.split(host)[1]
    if domains.looks_random(label):
        out.append(reason(cfg, "dom.random_domain", [f"sender domain {host}"]))
    return out
