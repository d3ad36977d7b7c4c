"""Authentication: SPF / DKIM / DMARC outcomes, DKIM alignment with From, forged Message-IDs."""

from __future__ import annotations

import re

from spearhunt.detect.mail import domains
from spearhunt.detect.mail.benign import through_list
from spearhunt.detect.mail.catalogue import reason
from spearhunt.detect.mail.context import MailContext
from spearhunt.model.mail import Reason

_RESULT = re.compile(r"\b(spf|dkim|dmarc|compauth)\s*=\s*([a-z]+)", re.IGNORECASE)


def _authserv(value: str) -> str:
    head = value.split(";", 1)[0].strip().lower()
    return "" if "=" in head else head


def auth_results(ctx: MailContext) -> dict[str, str]:
    """Outcome per method from the receiving server's Authentication-Results (top one first)."""
    raw = ctx.raw
    headers = raw.header_all("Authentication-Results") or raw.header_all(
        "ARC-Authentication-Results"
    )
    found: dict[str, str] = {}
    # the receiving server may split its results over several headers with the same authserv-id
    top = _authserv(headers[0]) if headers else ""
    for value in headers[:20]:
        if _authserv(value) != top:
            continue
        for method, result in _RESULT.findall(value):
            found.setdefault(method.lower(), result.lower())
    if "spf" not in found:
        spf = raw.header("Received-SPF").split(" ", 1)[0].lower()
        if spf:
            found["spf"] = spf
    return found


def check_auth(ctx: MailContext) -> list[Reason]:
    """SPF / DKIM / DMARC / composite-auth outcomes."""
    res = auth_results(ctx)
    if not res:
        return []
    cfg = ctx.config
    out = []
    shown = [f"{k}={v}" for k, v in res.items()]
    # a DMARC pass means an aligned SPF or DKIM pass: other failures are forwarding noise
    dmarc_pass = res.get("dmarc") in ("pass", "bestguesspass")
    if dmarc_pass:
        pass
    elif res.get("spf") in ("fail", "hardfail"):
        out.append(reason(cfg, "auth.spf_fail", shown))
    elif res.get("spf") == "softfail":
        out.append(reason(cfg, "auth.spf_softfail", shown))
    listed = through_list(ctx)  # the list's own changes break the poster's signature
    if res.get("dkim") == "fail" and not dmarc_pass and not listed:
        out.append(reason(cfg, "auth.dkim_fail", shown))
    if res.get("dmarc") == "fail":
        # p=none: the domain owner only monitors, so a failure is as likely misconfiguration
        monitor = any(
            "p=none" in v.lower() for v in ctx.raw.header_all("Authentication-Results")[:5]
        )
        out.append(
            reason(
                cfg,
                "auth.dmarc_fail",
                shown,
                score=cfg.score("auth.dmarc_fail") // 2 if monitor else None,
            )
        )
    if res.get("compauth") == "fail":
        out.append(reason(cfg, "auth.compauth_fail", shown))
    passes = [k for k in ("spf", "dkim", "dmarc") if res.get(k) in ("pass", "bestguesspass")]
    # one fact counted once: a failure already scored is not scored again as "unauthenticated"
    if not passes and not out and not listed and any(k in res for k in ("spf", "dkim", "dmarc")):
        out.append(reason(cfg, "auth.unauthenticated", shown))
    return out


_DKIM_D = re.compile(r"(?:^|;)\s*d\s*=\s*([\w.-]+)", re.IGNORECASE)
_HEADER_D = re.compile(
    r"\bdkim\s*=\s*pass\b[^;]*?\bheader\.(?:d|i)\s*=\s*@?([\w.-]+)", re.IGNORECASE
)
# Message-ID domains of the big mailbox providers, and what their own Received lines mention.
_PROVIDER_IDS = {
    "mail.gmail.com": ("google.com",),
    "gmail.com": ("google.com",),
    "outlook.com": ("outlook.com",),
    "yahoo.com": ("yahoo.com",),
    "mail.yahoo.com": ("yahoo.com",),
    # Hotmail and MSN mail went out through hotmail.com hosts, then through outlook.com
    "hotmail.com": ("outlook.com", "hotmail.com"),
    "msn.com": ("outlook.com", "hotmail.com", "msn.com"),
}
_GMAIL_ID = re.compile(r"^<?CA[\w+=/.-]{28,}@mail\.gmail\.com>?$")


def dkim_domains(ctx: MailContext) -> list[str]:
    """Signing domains: DKIM-Signature d= tags and dkim=pass header.d results."""
    found = [
        m.lower() for v in ctx.raw.header_all("DKIM-Signature")[:10] for m in _DKIM_D.findall(v)
    ]
    found += [
        m.lower()
        for v in ctx.raw.header_all("Authentication-Results")[:5]
        for m in _HEADER_D.findall(v)
    ]
    return list(dict.fromkeys(found))


def check_alignment(ctx: MailContext) -> list[Reason]:
    """DKIM signatures none of which belong to the From domain; Message-IDs forged for a big provider."""
    cfg = ctx.config
    sender = ctx.sender
    if sender is None or not sender.domain:
        return []
    out: list[Reason] = []
    signers = dkim_domains(ctx)
    s_root = sender.root
    if (
        signers
        and not through_list(ctx)
        and not any(domains.root(d) == s_root for d in signers)
        and auth_results(ctx).get("dmarc") not in ("pass", "bestguesspass")
    ):
        out.append(
            reason(
                cfg,
                "auth.dkim_unaligned",
                [f"From domain {sender.domain}", f"signed by {', '.join(signers[:4])}"],
            )
        )
    mid = ctx.raw.header("Message-ID").strip()
    host = mid.rsplit("@", 1)[-1].strip(">").lower() if "@" in mid else ""
    claimed = _PROVIDER_IDS.get(host)
    if claimed and s_root != domains.root(host):
        via = " ".join(ctx.raw.header_all("Received")[:30]).lower()
        passed = any(name in via for name in claimed)
        forged = not passed or (host == "mail.gmail.com" and not _GMAIL_ID.match(mid))
        if forged:
            out.append(
                reason(
                    cfg,
                    "auth.forged_message_id",
                    [
                        f"Message-ID {mid[:100]}",
                        f"no Received line through {' or '.join(claimed)}"
                        if not passed
                        else "not in the provider's Message-ID format",
                        f"sender {sender.address}",
                    ],
                )
            )
    return out


def sender_authenticated(ctx: MailContext) -> bool:
    """Whether the receiving server vouched for the From domain: DMARC pass, or an SPF or DKIM pass
    for the From domain's own root. No Authentication-Results at all is not authenticated."""
    sender = ctx.sender
    if sender is None or not sender.root:
        return False
    res = auth_results(ctx)
    if res.get("dmarc") in ("pass", "bestguesspass"):
        return True
    s_root = sender.root
    if res.get("dkim") == "pass" and any(domains.root(d) == s_root for d in dkim_domains(ctx)):
        return True
    rp = ctx.return_path
    return res.get("spf") == "pass" and rp is not None and rp.root == s_root


def brand_of_sender(ctx: MailContext) -> str:
    """The brand (or protected domain) whose own domain the From address is on, or ''."""
    sender = ctx.sender
    if sender is None or not sender.domain:
        return ""
    cfg = ctx.config
    if sender.root in cfg.free_email:
        return ""  # anyone can have a mailbox there: the provider's brand is not claimed
    if domains.within(sender.domain, cfg.protected_domains):
        return sender.root
    for brand, owned in cfg.brands.items():
        if owned and (sender.root in owned or domains.within(sender.domain, owned)):
            return brand
    return ""


def check_brand_auth(ctx: MailContext) -> list[Reason]:
    """A From on a brand's own domain that nothing authenticates: the brand cannot be taken at its
    word (forged senders of old mail, internal relays and stripping gateways all look like this)."""
    brand = brand_of_sender(ctx)
    if not brand or sender_authenticated(ctx):
        return []
    assert ctx.sender is not None
    res = auth_results(ctx)
    shown = ", ".join(f"{k}={v}" for k, v in res.items()) or "no authentication results at all"
    return [
        reason(
            ctx.config,
            "auth.brand_unauthenticated",
            [f"From {ctx.sender.address} speaks as {brand!r}", shown],
        )
    ]
