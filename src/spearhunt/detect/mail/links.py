"""Link checks: what links show vs where they go, and where they go."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from spearhunt.detect.mail import domains
from spearhunt.detect.mail.catalogue import reason
from spearhunt.detect.mail.context import Link, MailContext
from spearhunt.detect.mail.headers import names_itself
from spearhunt.detect.mail.text import fold
from spearhunt.model.mail import Reason

_SHOWN_URL = re.compile(
    r"(?i)^(?:https?://)?(?:www\.)?((?:[a-z0-9-]+\.)+[a-z]{2,24})(?:[/:?#]\S*)?$"
)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.isdigit() and len(host) > 6  # decimal-encoded IPv4 (http://3232235777/)
    return True


def check_links(ctx: MailContext) -> list[Reason]:
    """Per-link checks, one reason per kind with up to ten examples."""
    cfg = ctx.config
    hits: dict[str, list[str]] = {}

    def hit(rid: str, evidence: str) -> None:
        hits.setdefault(rid, []).append(evidence)

    sender_root = ctx.sender.root if ctx.sender else ""
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
        if _is_ip(host):
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
        shown = _shown_domain(link)
        if (
            shown
            and domains.root(shown) not in (root, sender_root)
            and root != sender_root
            and not domains.within(host, cfg.shorteners)
        ):
            hit("link.text_href_mismatch", f"shows {link.text[:80]!r}, goes to {host}")
    out = [reason(cfg, rid, ev) for rid, ev in hits.items()]
    out.extend(_brand_links(ctx))
    if ctx.html.password_inputs:
        actions = [a for a in ctx.html.form_actions if a] or ["(no action)"]
        out.append(
            reason(
                cfg,
                "link.credential_form",
                [
                    f"{ctx.html.password_inputs} password field(s)",
                    *(f"form posts to {a}" for a in actions[:3]),
                ],
            )
        )
    return out


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
    claimed = fold(f"{ctx.sender.display} {ctx.subject}").lower()
    roots = {domains.root(link.host) for link in ctx.links if link.host}
    for match in cfg.brand_pattern.finditer(claimed):
        brand = match.group(1).lower()
        owned = cfg.brands.get(brand) or frozenset()
        if (
            not owned
            or ctx.sender.root in owned
            or names_itself(ctx.sender.display, ctx.sender.domain, brand)
        ):
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
