"""Link checks: what links show vs where they go, and where they go."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from spearhunt.detect.mail import domains
from spearhunt.detect.mail.auth import sender_authenticated
from spearhunt.detect.mail.catalogue import reason
from spearhunt.detect.mail.context import Link, MailContext, normalize_url
from spearhunt.detect.mail.headers import names_itself
from spearhunt.detect.mail.text import fold
from spearhunt.model.mail import Reason
from spearhunt.model.networks import is_local_address

_SHOWN_URL = re.compile(
    r"(?i)^(?:https?://)?(?:www\.)?((?:[a-z0-9-]+\.)+[a-z]{2,24})(?:[/:?#]\S*)?$"
)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.isdigit() and len(host) > 6  # decimal-encoded IPv4 (http://3232235777/)
    return True


def _harmless_ip(link: Link) -> bool:
    """A bare-IP link nobody sends as a lure: a private or reserved address quoted in plain text
    (from a log, a config), or a version number a mail client turned into a link (no path,
    "http://4.1.0.5" auto-linked with its own text). Links the sender wrote on purpose still count."""
    if link.deliberate:
        return False
    try:
        parts = urlsplit(link.url)
        addr = ipaddress.ip_address(link.host.strip("[]"))
    except ValueError:
        return False
    internal = is_local_address(addr)
    return internal or (parts.path in ("", "/") and not parts.query and not parts.port)


FORM_FIELDS = 3
_PATH_HOST = re.compile(r"(?i)(?:^|/)((?:[a-z0-9-]+\.)+[a-z]{2,24})(?=/|$)")


def _domain_in_path(link: Link, trusted: frozenset[str], sender_root: str) -> str:
    """A trusted domain written into the path of another host (http://host.example/www.brand.com/login)."""
    try:
        path = urlsplit(link.url).path
    except ValueError:
        return ""
    if "://" in path or not domains.split(link.host)[2]:
        return ""  # a redirector carrying its target (rd.example/*http://...), or a broken host
    for match in _PATH_HOST.finditer(path[:500]):
        name = match.group(1).lower()
        name_root = domains.root(name)
        if name_root == domains.root(link.host) or not domains.split(name)[2]:
            continue
        if name_root in (sender_root, *trusted):
            return name
    return ""


def _sender_name_in(host: str, sender_label: str, sender_root: str) -> bool:
    """The sender's own name dressed up under another root: as a word of the registered name
    (paypal-secure.com) or as the whole sender domain in front of it (paypal.com.account-check.net).
    The same name under another suffix (paypal.de) is the sender's own; a partner's co-branded
    sub-domain (perl.meetup.com for perl.org) is not dressing up."""
    sub, label, suffix = domains.split(host)
    if len(sender_label) < 4 or not suffix or label == sender_label:
        return False
    if sender_label in label.split("-"):
        return True
    return f"{sender_root}." in f"{sub}."


def check_links(ctx: MailContext) -> list[Reason]:
    """Per-link checks, one reason per kind with up to ten examples."""
    cfg = ctx.config
    hits: dict[str, list[str]] = {}

    def hit(rid: str, evidence: str) -> None:
        hits.setdefault(rid, []).append(evidence)

    sender_root = ctx.sender.root if ctx.sender else ""
    sender_label = domains.split(sender_root)[1] if sender_root not in cfg.free_email else ""
    vouched = sender_authenticated(ctx)
    targets = cfg.protected_domains | frozenset(d for ds in cfg.brands.values() for d in ds)
    for link in ctx.links:
        host = link.host
        scheme = link.scheme
        if scheme in ("data", "javascript", "vbscript"):
            hit("link.script_uri", link.url[:120])
            continue
        if not host or "." not in host:
            continue
        root = domains.root(host)
        if link.disguise:
            hit("link.obfuscated_host", f"{link.disguise}: {link.url[:120]}")
        if _is_ip(host) and not _harmless_ip(link):
            hit("link.ip_literal", link.url)
        if _userinfo(link.url):
            hit("link.at_sign", link.url)
        if domains.within(host, cfg.shorteners):
            hit("link.shortener", link.url)
        if domains.within(host, cfg.file_sharing):
            hit("link.file_sharing", link.url)
        elif domains.within(host, cfg.free_hosting) and root != sender_root:
            hit("link.free_hosting", link.url)
        suffix = domains.split(host)[2].rsplit(".", 1)[-1]
        if suffix in cfg.suspicious_tlds and root != sender_root:
            hit("link.suspicious_tld", host)
        if domains.is_punycode(host):
            hit("dom.punycode", f"link host {host} = {domains.to_unicode(host)}")
        look = domains.lookalike_of(host, targets, cfg.protected_domains)
        if look:
            hit(
                "dom.confusable" if look[1] == "homoglyphs" else "dom.lookalike",
                f"link host {host} imitates {look[0]}: {look[1]}",
            )
        brand = domains.brand_in_host(host, cfg.brands) if root != sender_root else None
        if brand:
            hit("dom.brand_in_domain", f"link host {host} carries {brand!r}")
        if sender_label and _sender_name_in(host, sender_label, sender_root):
            hit("link.sender_name_elsewhere", f"link host {host}, sender domain {sender_root}")
        hidden = _domain_in_path(link, targets, sender_root)
        if hidden:
            hit("link.domain_in_path", f"{hidden} in the path of {host}: {link.url[:120]}")
        shown = _shown_domain(link)
        # text showing the sender's own domain over a link elsewhere is the forged-sender lure,
        # unless the receiving server vouched for that sender (then it is the sender's own tracker)
        if (
            shown
            and domains.root(shown) != root
            and (domains.root(shown) != sender_root or not vouched)
            and root != sender_root
            and not domains.within(host, cfg.shorteners)
        ):
            hit("link.text_href_mismatch", f"shows {link.text[:80]!r}, goes to {host}")
    out = [reason(cfg, rid, ev) for rid, ev in hits.items()]
    out.extend(_brand_links(ctx))
    out.extend(_forms(ctx, sender_root))
    out.extend(_status_spoof(ctx))
    return out


# writing the browser's status bar: the reader hovering a link sees a text of the sender's choosing
_STATUS_SCRIPT = re.compile(r"\b(?:window|self|top|parent)\.status\s*=(?!=)")
_STATUS_HANDLER = re.compile(r"(?:^|[;\s])(?:(?:window|self|top|parent)\.)?status\s*=(?!=)")


def _status_spoof(ctx: MailContext) -> list[Reason]:
    """Script that rewrites the status bar, so hovering a link does not show where it goes."""
    facts = ctx.html
    found = [h for h in facts.handlers if _STATUS_HANDLER.search(h)]
    found += [s for s in facts.scripts if _STATUS_SCRIPT.search(s[:100_000])]
    if not found:
        return []
    return [
        reason(
            ctx.config,
            "link.status_spoof",
            [f"{len(found)} place(s) write the status bar", repr(found[0][:100])],
        )
    ]


def _forms(ctx: MailContext, sender_root: str) -> list[Reason]:
    """A form in the mail itself: asking for secrets is credential harvesting; posting elsewhere
    than the sender's own site is how a lure collects what it asked for."""
    cfg = ctx.config
    facts = ctx.html
    actions = [normalize_url(a) for a in facts.form_actions if a]
    if facts.password_inputs or facts.secret_fields:
        return [
            reason(
                cfg,
                "link.credential_form",
                [
                    f"{facts.password_inputs} password field(s)",
                    *(f"asks for {f!r}" for f in facts.secret_fields[:3]),
                    *(f"form posts to {a}" for a in (actions or ["(no action)"])[:3]),
                ],
            )
        ]
    # a search or sign-up box of a newsletter asks for a query or an address; a lure's form asks
    # for several things about the reader and posts them elsewhere
    away = [
        a
        for a in actions
        if a.lower().startswith(("http://", "https://"))
        and domains.root(Link(a).host) not in ("", sender_root)
    ]
    if away and facts.text_inputs >= FORM_FIELDS:
        return [
            reason(
                cfg,
                "link.form_off_domain",
                [f"{facts.text_inputs} fields to fill", *(f"form posts to {a}" for a in away[:3])],
            )
        ]
    return []


def _userinfo(url: str) -> bool:
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return False
    return "@" in netloc


def _shown_domain(link: Link) -> str | None:
    text = link.text.strip()
    if not text or " " in text:
        return None
    match = _SHOWN_URL.match(text)
    if not match:
        return None
    shown = match.group(1).lower()
    # "file.pdf" or "readme.txt" are names, not domains
    if not domains.split(shown)[2]:
        return None
    return shown


def _brand_links(ctx: MailContext) -> list[Reason]:
    """Mail speaks as a brand (display name or subject) but none of its links go to that brand."""
    cfg = ctx.config
    if cfg.brand_pattern is None or not ctx.links or ctx.sender is None:
        return []
    # what the mail claims to be: display name, subject, logos by name; the From domain itself only
    # counts when nothing vouched for it (a forged From on the brand's own domain)
    logos = " ".join(ctx.html.alt_text[:20])
    claimed = fold(f"{ctx.sender.display} {ctx.subject} {logos}").lower()
    roots = {domains.root(link.host) for link in ctx.links if link.host}
    vouched = sender_authenticated(ctx)
    for match in cfg.brand_pattern.finditer(claimed):
        brand = match.group(1).lower()
        owned = cfg.brands.get(brand) or frozenset()
        if not owned or names_itself(ctx.sender.display, ctx.sender.domain, brand):
            continue
        if ctx.sender.root in owned and vouched:
            continue
        if not roots & owned and not any(domains.within(r, owned) for r in roots):
            return [
                reason(
                    cfg,
                    "link.brand_not_linked",
                    [f"speaks as {brand!r}", f"links go to {', '.join(sorted(roots)[:5])}"],
                )
            ]
    return []
