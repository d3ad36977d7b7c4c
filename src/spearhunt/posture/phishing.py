"""Phishing awareness and reporting: who else got the campaign, who reported it and how fast,
who opened it, who opened it and never reported.

The campaign is the case's malicious or suspicious mail (sender, subject, attachment names
and hashes); message-trace rows from the same sender or with the same subject are its other
deliveries; a report is a message from an internal user to a reporting mailbox (``phish@``,
``report-phishing@``, ...) whose subject carries the campaign's. The lure was opened where the
case's endpoint events touch the attachment by name.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from spearhunt.model.posture import CaseMail, ControlResult, Finding, HostEvent, TraceRow, unknown
from spearhunt.model.story import Story
from spearhunt.posture.common import merge, pct, plural, stories_of_host
from spearhunt.posture.identity import local, same_person

CONTROL = "phishing_reporting"
REPORT_BOXES = re.compile(
    r"^(report[-_.]?)?(phish|phishing|spam|abuse|security|soc|cert|csirt|suspicious)([-_.]?reports?)?$"
)
_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|tr|sv|vs)\s*:\s*|\[[^\]]{0,40}\]\s*)+", re.I)


def subject_key(subject: str) -> str:
    """A subject without reply/forward prefixes or tags, case and spaces folded."""
    return " ".join(_PREFIX.sub("", subject or "").lower().split())


def is_report_box(address: str) -> bool:
    """Whether an address is a phishing-report mailbox by its local part."""
    return bool(REPORT_BOXES.match(local(address)))


@dataclass(frozen=True, slots=True)
class Delivery:
    """The campaign reaching one recipient, and what the recipient did."""

    recipient: str
    delivered: datetime | None
    reported: datetime | None = None
    opened: datetime | None = None
    host: str | None = None


def assess(
    mails: Sequence[CaseMail],
    traces: Sequence[TraceRow] | None,
    opened: Sequence[HostEvent],
    stories: Sequence[Story],
    host_owner: dict[str, str] | None = None,
) -> ControlResult:
    """Judge reporting; ``traces`` None means no message trace was given. ``host_owner`` maps a
    host to its user where the case knows it (patient zero's user)."""
    campaign = [m for m in mails if m.verdict in ("malicious", "suspicious")]
    inputs = ("case mail", *(("message trace",) if traces is not None else ()))
    if not campaign:
        return unknown(
            CONTROL,
            "no malicious or suspicious mail in the case (run spearhunt mail --store on the "
            "reported mail) to define the campaign",
            inputs,
        )
    senders = {m.sender for m in campaign if m.sender}
    subjects = {subject_key(m.subject) for m in campaign if subject_key(m.subject)}
    owners = dict(host_owner or {})
    # deliveries: from the trace when given, else the case's own recipients
    deliveries: dict[str, Delivery] = {}
    reports: dict[str, datetime | None] = {}
    for m in campaign:
        for r in m.recipients:
            deliveries.setdefault(r, Delivery(r, m.received))
    for row in traces or ():
        key = subject_key(row.subject)
        if is_report_box(row.recipient):
            if any(s and s in key for s in subjects) and not is_report_box(row.sender):
                first = reports.get(row.sender)
                if first is None or (row.time and row.time < first):
                    reports[row.sender] = row.time
            continue
        if row.sender in senders or (key and key in subjects):
            if row.status.lower().startswith(("fail", "bounce", "reject", "quarantin", "filtered")):
                continue
            old = deliveries.get(row.recipient)
            when = (
                row.time
                if old is None or old.delivered is None
                else min(old.delivered, row.time or old.delivered)
            )
            deliveries[row.recipient] = Delivery(row.recipient, when)
    # opened: a host touching the attachment, tied to a recipient through its user
    opened_by: dict[str, tuple[datetime | None, str]] = {}
    for ev in opened:
        user = ev.user or owners.get(ev.host, "")
        rcpt = next((r for r in deliveries if same_person(r, user)), None) if user else None
        if rcpt is None:
            rcpt = next(
                (r for r in deliveries if owners.get(ev.host) and same_person(r, owners[ev.host])),
                None,
            )
        if rcpt is None:
            continue
        old_open = opened_by.get(rcpt)
        if old_open is None or (ev.time and old_open[0] and ev.time < old_open[0]):
            opened_by[rcpt] = (ev.time, ev.host)
    rows: list[Delivery] = []
    for r, d in sorted(deliveries.items()):
        rep = next((t for who, t in reports.items() if same_person(who, r)), None)
        seen = opened_by.get(r)
        rows.append(
            Delivery(r, d.delivered, rep, seen[0] if seen else None, seen[1] if seen else None)
        )
    return _judge(rows, reports, campaign, stories, traces is not None, inputs)


def _judge(
    rows: list[Delivery],
    reports: dict[str, datetime | None],
    campaign: list[CaseMail],
    stories: Sequence[Story],
    traced: bool,
    inputs: tuple[str, ...],
) -> ControlResult:
    findings: list[Finding] = []
    lure = campaign[0]
    story_ids = tuple(
        s.id for s in stories if s.patient_zero.message_id in {m.message_id for m in campaign}
    )
    reporters = [d for d in rows if d.reported is not None]
    opened = [d for d in rows if d.opened is not None]
    silent_open = [d for d in opened if d.reported is None or (d.opened and d.reported > d.opened)]
    first_report = min((t for t in reports.values() if t), default=None)
    first_delivery = min((d.delivered for d in rows if d.delivered), default=None)
    delays = [
        (d.reported - d.delivered).total_seconds() / 60
        for d in reporters
        if d.reported and d.delivered and d.reported >= d.delivered
    ]
    for d in silent_open:
        never = d.reported is None
        findings.append(
            Finding(
                "high" if never else "medium",
                f"{d.recipient} opened the lure on {d.host}"
                + (
                    " and never reported it"
                    if never
                    else f" before reporting it ({_ago(d.opened, d.reported)} later)"
                ),
                host=d.host,
                account=d.recipient,
                evidence=(
                    f"opened {_iso(d.opened)}",
                    f"delivered {_iso(d.delivered)}",
                    f"subject {lure.subject!r}",
                ),
                stories=merge(story_ids, stories_of_host(stories, d.host)),
                kind="opened_not_reported" if never else "opened_before_report",
            )
        )
    others = [d for d in rows if d.reported is None and d.opened is None]
    if traced and len(rows) > 1:
        findings.append(
            Finding(
                "medium" if others else "info",
                f"the campaign reached {plural(len(rows), 'mailbox', 'mailboxes')}; "
                f"{plural(len(reporters), 'recipient')} reported it",
                evidence=tuple(
                    f"{d.recipient}: delivered {_iso(d.delivered)}"
                    + (f", reported {_iso(d.reported)}" if d.reported else ", not reported")
                    + (f", opened on {d.host}" if d.opened else "")
                    for d in rows[:50]
                ),
                stories=story_ids,
                kind="campaign_recipients",
            )
        )
    if traced and first_report is None:
        findings.append(
            Finding(
                "high",
                "nobody reported the campaign",
                evidence=(f"sender {lure.sender}", f"subject {lure.subject!r}"),
                stories=story_ids,
                kind="not_reported",
            )
        )
    figures: list[tuple[str, str]] = [("recipients", str(len(rows))), ("opened", str(len(opened)))]
    if traced:
        rate = len(reporters) / len(rows) if rows else 0.0
        figures += [
            ("reporters", str(len(reporters))),
            ("report_rate", f"{rate:.2f}"),
            ("median_minutes_to_report", f"{statistics.median(delays):.0f}" if delays else "-"),
            (
                "minutes_to_first_report",
                f"{(first_report - first_delivery).total_seconds() / 60:.0f}"
                if first_report and first_delivery
                else "-",
            ),
            ("opened_before_reported", str(len(silent_open))),
        ]
    if not traced:
        return ControlResult(
            CONTROL,
            "unknown",
            0,
            f"reporting not measured: give --message-trace to see who else got the campaign and "
            f"who reported it; the case shows the lure opened by {plural(len(opened), 'recipient')}",
            inputs,
            tuple(findings),
            tuple(figures),
        )
    rate = len(reporters) / len(rows) if rows else 0.0
    score = max(
        0, pct(len(reporters), len(rows)) - 25 * len([d for d in silent_open if d.reported is None])
    )
    if reporters and not silent_open and rate >= 0.5:
        status = "pass"
    elif not reporters or any(d.reported is None for d in silent_open):
        status = "fail"
    else:
        status = "partial"
    summary = (
        f"{plural(len(rows), 'recipient')}, {len(reporters)} reported ({rate:.0%})"
        + (
            f", first report {_ago(first_delivery, first_report)} after delivery"
            if first_report and first_delivery
            else ""
        )
        + f"; {len(silent_open)} opened the lure before reporting it or without reporting"
    )
    return ControlResult(CONTROL, status, score, summary, inputs, tuple(findings), tuple(figures))


def _iso(ts: datetime | None) -> str:
    return ts.isoformat(timespec="seconds") + "Z" if ts else "?"


def _ago(a: datetime | None, b: datetime | None) -> str:
    if not a or not b:
        return "?"
    minutes = int((b - a).total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"
