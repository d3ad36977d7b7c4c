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
    kind: str = (
        "text"  # where it was found: anchor, image, area, form, button, refresh, onclick, text
    )
    disguise: str = ""  # how the written host hid the real one (percent-encoded, numeric ...)

    @property
    def deliberate(self) -> bool:
        """Written as a link by the sender: not a bare URL in plain text, nor one a mail client
        auto-linked (anchor text equal to its target)."""
        if self.kind == "text":
            return False
        shown = self.text.strip().lower().rstrip("/")
        return not (shown and shown in (self.url.lower().rstrip("/"), self.host))

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


def parse_sender(value: str) -> Address | None:
    """The From mailbox, kept when the header is malformed: "Microsoft account team ,_<x@y>" parses
    as two entries, a bare word and the address; the address is the sender and the words before it
    its display name."""
    found = parse_addresses(value)
    mailboxes = [a for a in found if "@" in a.address]
    if len(mailboxes) != 1 or len(found) == 1:
        return found[0] if found else None
    display = value.rsplit("<", 1)[0] if "<" in value else mailboxes[0].display
    display = " ".join(display.replace('"', " ").split()).strip(" ,;_")
    return Address(display or mailboxes[0].display, mailboxes[0].address)


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
    rp = parse_addresses(raw.header("Return-Path"))
    ctx = MailContext(
        raw=raw,
        config=config,
        sender=parse_sender(raw.header("From")),
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
    """Every link a reader can follow (anchors, image maps, forms, buttons, meta refresh, click
    handlers, bare URLs in plain text), normalized once, wrappers removed, deduplicated, capped."""
    seen: dict[str, Link] = {}
    for page_link in facts.links:
        url = normalize_url(page_link.url)
        if not url or url.lower().startswith(("#", "mailto:", "tel:", "cid:", "sms:")):
            continue
        real, wrapper = unwrap(url)
        if real not in seen:
            disguise = host_disguise(page_link.url, url)
            seen[real] = Link(real, page_link.text, wrapper, page_link.kind, disguise)
        if len(seen) >= MAX_LINKS:
            return list(seen.values())
    for match in _URL.finditer(text[:500_000]):
        url = normalize_url(match.group(0).rstrip(".,;:!?)>'\""))
        real, wrapper = unwrap(url)
        if real not in seen:
            seen[real] = Link(real, "", wrapper)
        if len(seen) >= MAX_LINKS:
            break
    return list(seen.values())


_STRIPPED = re.compile(r"[\t\n\r]")
_HOST_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")


def normalize_url(url: str) -> str:
    """A link as a browser would follow it: tabs and newlines dropped, backslashes read as slashes,
    scheme-less hosts given http, percent-encoded and numeric (hex, octal, integer) hosts decoded."""
    url = _STRIPPED.sub("", url).strip(" \x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c")
    low = url[:12].lower()
    if low.startswith("www."):
        url = "http://" + url
    elif url.startswith(("//", "\\\\")):
        url = "http:" + url
    scheme, sep, rest = url.partition(":")
    if not sep or scheme.lower() not in ("http", "https"):
        return url
    rest = rest.replace("\\", "/")
    rest = "//" + rest.lstrip("/")
    end = len(rest)
    for stop in "/?#":
        at = rest.find(stop, 2)
        if at != -1:
            end = min(end, at)
    netloc = rest[2:end]
    userinfo, at_sign, hostport = netloc.rpartition("@")
    if _HOST_ESCAPE.search(hostport):
        hostport = unquote(hostport)
    host, colon, port = hostport.partition(":")
    host = _numeric_host(host.lower().rstrip("."))
    netloc = f"{userinfo}{at_sign}{host}{colon}{port}"
    return f"{scheme.lower()}://{netloc}{rest[end:]}"


_DOTTED_QUAD = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def host_disguise(written: str, normalized: str) -> str:
    """How a written link hides its host from a reader ('' when it does not): percent-encoded
    letters, or an address in hex, octal or one big number that a browser still follows."""
    try:
        shown = urlsplit(_STRIPPED.sub("", written.strip())).netloc.rpartition("@")[2]
        real = urlsplit(normalized).hostname or ""
    except ValueError:
        return ""
    shown = shown.rsplit(":", 1)[0].lower() if shown.count(":") == 1 else shown.lower()
    if "%" in shown and real:
        return f"percent-encoded host {shown[:60]} is {real}"
    if real != shown and _DOTTED_QUAD.match(real) and not _DOTTED_QUAD.match(shown):
        return f"numeric host {shown[:60]} is {real}"
    return ""


def _numeric_host(host: str) -> str:
    """Dotted IPv4 for hosts a browser reads as numbers (0x7f.1, 017700000001, 2130706433)."""
    parts = host.split(".")
    if not host or len(parts) > 4 or not all(parts):
        return host
    values = []
    for part in parts:
        try:
            if part.startswith(("0x", "0X")):
                values.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                values.append(int(part, 8))
            else:
                values.append(int(part, 10))
        except ValueError:
            return host
    if any(v > 255 for v in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return host
    number = values[-1]
    for i, v in enumerate(values[:-1]):
        number += v << (8 * (3 - i))
    return ".".join(str((number >> s) & 255) for s in (24, 16, 8, 0))
