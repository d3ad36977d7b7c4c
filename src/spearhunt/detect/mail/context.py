"""Everything the checks need about one mail, computed once: addresses, text, links."""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from spearhunt.detect.mail import domains
from spearhunt.detect.mail.config import MailConfig
from spearhunt.detect.mail.htmlscan import HtmlFacts, scan_html, visible_text
from spearhunt.ingest.mail import RawMail

MAX_LINKS = 300
_URL = re.compile(r"""(?i)\b(?:https?://|www\.)[^\s<>"'`{}|\\^\[\]]{2,2000}""")


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox from a header."""

    display: str
    address: str

    @property
    def local(self) -> str:
        """Part before the @."""
        return self.address.rsplit("@", 1)[0] if "@" in self.address else self.address

    @property
    def domain(self) -> str:
        """Part after the @, lower-case."""
        return self.address.rsplit("@", 1)[1].lower().strip(".>") if "@" in self.address else ""

    @property
    def root(self) -> str:
        """Registrable domain of the address."""
        return domains.root(self.domain) if self.domain else ""


@dataclass(frozen=True, slots=True)
class Link:
    """A link found in the mail, wrappers (SafeLinks, urldefense ...) removed."""

    url: str
    text: str = ""
    wrapped: str = ""  # the wrapper URL when one was removed

    @property
    def host(self) -> str:
        """Host name, lower-case, without credentials or port."""
        try:
            return (
                urlsplit(self.url if "//" in self.url else "http://" + self.url).hostname or ""
            ).lower()
        except ValueError:
            return ""

    @property
    def scheme(self) -> str:
        """URL scheme, lower-case."""
        return self.url.split(":", 1)[0].lower() if ":" in self.url[:12] else "http"


def parse_addresses(value: str) -> list[Address]:
    """Mailboxes of an address header, tolerant of junk."""
    out = []
    for display, addr in email.utils.getaddresses([value])[:200]:
        addr = addr.strip().strip("<>").lower()
        if addr or display:
            out.append(Address(display.strip().strip('"'), addr))
    return out


_REDIRECT_KEYS = frozenset(
    {
        "url",
        "u",
        "redirect",
        "redirect_url",
        "redirecturl",
        "target",
        "dest",
        "destination",
        "goto",
        "link",
    }
)


def unwrap(url: str) -> tuple[str, str]:
    """(real URL, wrapper) for rewriting gateways; (url, "") when not wrapped."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, ""
    host = (parts.hostname or "").lower()
    query = parse_qs(parts.query)
    inner = None
    if host.endswith("safelinks.protection.outlook.com"):
        inner = next(iter(query.get("url", [])), None)
    elif host == "urldefense.proofpoint.com":
        raw = next(iter(query.get("u", [])), None)
        inner = unquote(raw.replace("-", "%").replace("_", "/")) if raw else None
    elif host == "urldefense.com" and "/__" in parts.path:
        inner = parts.path.split("/__", 1)[1].split("__;", 1)[0]
    elif host in ("www.google.com", "google.com") and parts.path == "/url":
        inner = next(iter(query.get("q") or query.get("url") or []), None)
    elif host in ("l.facebook.com", "lm.facebook.com") and parts.path == "/l.php":
        inner = next(iter(query.get("u", [])), None)
    elif host.endswith("linkprotect.cudasvc.com"):
        inner = next(iter(query.get("a", [])), None)
    elif host.endswith(".awstrack.me") and "/L0/" in parts.path:
        inner = unquote(parts.path.split("/L0/", 1)[1].split("/", 1)[0])
    else:
        # click trackers and open redirects carry the destination whole in one parameter
        inner = next(
            (
                v[0]
                for k, v in query.items()
                if k.lower() in _REDIRECT_KEYS
                and v
                and v[0].lower().startswith(("http://", "https://"))
            ),
            None,
        )
    if inner and inner.lower().startswith(("http://", "https://")):
        real, _ = unwrap(inner)
        return real, url
    return url, ""


@dataclass(slots=True)
class MailContext:
    """A mail with its parsed parts, ready for the checks."""

    raw: RawMail
    config: MailConfig
    sender: Address | None = None
    reply_to: list[Address] = field(default_factory=list)
    return_path: Address | None = None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    subject: str = ""
    html: HtmlFacts = field(default_factory=HtmlFacts)
    body: str = ""  # plain text plus visible HTML text
    links: list[Link] = field(default_factory=list)

    @property
    def recipients(self) -> list[Address]:
        """To and Cc mailboxes."""
        return self.to + self.cc


def build_context(raw: RawMail, config: MailConfig) -> MailContext:
    """Parse addresses, text and links of ``raw`` once."""
    senders = parse_addresses(raw.header("From"))
    rp = parse_addresses(raw.header("Return-Path"))
    ctx = MailContext(
        raw=raw,
        config=config,
        sender=senders[0] if senders else None,
        reply_to=parse_addresses(raw.header("Reply-To")),
        return_path=rp[0] if rp and rp[0].address else None,
        to=parse_addresses(raw.header("To")),
        cc=parse_addresses(raw.header("Cc")),
        subject=raw.header("Subject"),
    )
    ctx.html = scan_html(raw.html) if raw.html else HtmlFacts()
    ctx.body = (raw.text + "\n" + visible_text(ctx.html))[:500_000]
    ctx.links = collect_links(raw.text, ctx.html)
    return ctx


def collect_links(text: str, facts: HtmlFacts) -> list[Link]:
    """Links from anchors (with their text) and bare URLs in plain text, deduplicated, capped."""
    seen: dict[str, Link] = {}
    for href, anchor_text in facts.anchors:
        if not href or href.startswith(("#", "mailto:", "tel:", "cid:")):
            continue
        real, wrapper = unwrap(href.strip())
        if real not in seen:
            seen[real] = Link(real, anchor_text, wrapper)
        if len(seen) >= MAX_LINKS:
            return list(seen.values())
    for match in _URL.finditer(text[:500_000]):
        url = match.group(0).rstrip(".,;:!?)>'\"")
        real, wrapper = unwrap(url)
        if real not in seen:
            seen[real] = Link(real, "", wrapper)
        if len(seen) >= MAX_LINKS:
            break
    return list(seen.values())
