"""Render mail verdicts: JSON (exact), JSONL (exact), table (defanged for people)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import orjson

from spearhunt.model.mail import MailFailure, MailSummary, MailVerdict

FORMATS = ("table", "json", "jsonl")
_SCHEME = re.compile(r"(?i)\b(http|https|ftp)://")


def defang(value: str) -> str:
    """hxxp://evil[.]example style: safe to paste, not clickable."""
    value = _SCHEME.sub(lambda m: m.group(1).lower().replace("t", "x", 2) + "://", value)
    value = value.replace("@", "[@]") if "://" not in value else value
    return re.sub(r"(?<=[\w\]])\.(?=[\w\[])", "[.]", value)


# What can be clicked or pasted as an indicator inside free text: URLs, mail addresses, IPv4
# addresses and host names under a public suffix. Anything else (attachment names, rule ids,
# YARA rule names, file paths) is shown as it is.
_URL = re.compile(r"(?i)\b(?:https?|ftp)://[^\s<>\"']+")
_ADDRESS = re.compile(r"(?i)\b[\w.+-]+@(?:[a-z0-9-]+\.)+[a-z0-9-]{2,}\b")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_HOST = re.compile(
    r"(?i)(?<![\w.@/\\-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z][a-z0-9-]+\b(?![\w-]|\.\w)"
)
_IOC = re.compile(
    "|".join(
        f"(?:{r.pattern[4:] if r.pattern.startswith('(?i)') else r.pattern})"
        for r in (_URL, _ADDRESS, _IPV4, _HOST)
    ),
    re.IGNORECASE,
)


def _is_host(text: str) -> bool:
    from spearhunt.detect.mail.domains import split

    return bool(split(text)[2]) and bool(split(text)[1])


def defang_text(text: str, hosts: bool = True) -> str:
    """Defang the indicators inside free text (evidence, reasons), nothing else: a rule id
    (``hdr.freemail_org_name``) or a file name (``invoice.docm``) stays readable. With
    ``hosts=False`` (a file name: ``archive.zip`` is a name before it is a host) only URLs,
    addresses and IPs are defanged."""

    def one(m: re.Match[str]) -> str:
        value = m.group(0)
        if _URL.fullmatch(value) or _ADDRESS.fullmatch(value) or _IPV4.fullmatch(value):
            return defang(value)
        return defang(value) if hosts and _is_host(value) else value

    return _IOC.sub(one, text)


def summarize(verdicts: Iterable[MailVerdict], failures: Iterable[MailFailure] = ()) -> MailSummary:
    """Counts by verdict plus the per-file errors."""
    items = list(verdicts)
    return MailSummary(
        total=len(items), verdicts=dict(Counter(v.verdict for v in items)), errors=tuple(failures)
    )


def to_json(verdicts: list[MailVerdict], summary: MailSummary) -> bytes:
    """``{"messages": [...], "summary": {...}}``."""
    doc = {"messages": [v.to_dict() for v in verdicts], "summary": summary.to_dict()}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


def to_jsonl_line(verdict: MailVerdict) -> bytes:
    """One mail per line."""
    return orjson.dumps(verdict.to_dict()) + b"\n"


def to_text(verdict: MailVerdict) -> str:
    """A human block for one mail, IOCs defanged."""
    lines = [
        f"{verdict.verdict.upper():<10} score {verdict.score:<4} {verdict.file}",
        f"  From:    {defang(verdict.sender)}",
        f"  Subject: {verdict.subject}",
    ]
    if verdict.reported_by:
        lines.append(f"  Reported by: {defang(verdict.reported_by)}")
    for r in verdict.reasons:
        attack = f" [{r.attack}]" if r.attack else ""
        where = "" if r.where == "message" else f" in {defang_text(r.where)}"
        lines.append(f"  - {r.severity:<8} +{r.score:<3} {r.title}{attack}{where}")
        lines.extend(f"        {defang_text(e)}" for e in r.evidence[:3])
    lines.extend(
        f"  * {'  ' * att.depth}{defang_text(att.name, hosts=False)} ({att.type}, {att.size} B) "
        f"sha256 {att.sha256}"
        for att in verdict.all_attachments()
    )
    shown = [i for i in verdict.iocs if i.kind in ("sender", "reply_to", "ip", "url", "domain")][
        :15
    ]
    if shown:
        lines.append("  IOCs: " + ", ".join(f"{i.kind}={defang(i.value)}" for i in shown))
    return "\n".join(lines)


def summary_text(summary: MailSummary) -> str:
    """One-line run summary plus errors."""
    counts = ", ".join(
        f"{k} {summary.verdicts.get(k, 0)}" for k in ("malicious", "suspicious", "clean")
    )
    lines = [f"{summary.total} mails: {counts}; {len(summary.errors)} unreadable"]
    lines.extend(f"  error: {e.file}: {e.error}" for e in summary.errors)
    return "\n".join(lines)
