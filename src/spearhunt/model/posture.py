"""What ``spearhunt posture`` reads and what it concludes, as frozen values (no I/O).

Input records (sign-ins, software, KEV entries, CVE ranges, message-trace rows, the zones
policy) come out of ``ingest.posture``; the assessment (``posture/``) turns them and the case
into ``PostureResult``, whose ``to_dict`` is the JSON contract of ``spearhunt posture
--format json`` and which ``from_dict`` reads back for the report.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from spearhunt.model.story import Story

SCHEMA = "spearhunt.posture/1"
CONTROLS = ("phishing_reporting", "mfa", "segmentation", "patching", "detection_coverage")
STATUSES = ("pass", "partial", "fail", "unknown")
SEVERITIES = ("critical", "high", "medium", "low", "info")
TITLES = {
    "phishing_reporting": "Phishing awareness and reporting",
    "mfa": "Multi-factor authentication",
    "segmentation": "Network segmentation",
    "patching": "Timely patching",
    "detection_coverage": "Advanced detection (EDR and logging)",
}

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network


# ---- inputs ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SignIn:
    """One sign-in from an identity provider's log."""

    time: datetime | None
    account: str  # UPN or login, lowercased
    ip: str | None
    success: bool
    factors: str  # "multi", "single" or "unknown"
    app: str = ""
    client: str = ""  # client app / protocol as the provider names it
    legacy: bool = False  # IMAP, POP, SMTP AUTH, ActiveSync, other legacy clients
    provider: str = ""  # entra, okta
    source: str = ""


@dataclass(frozen=True, slots=True)
class Software:
    """One installed product on one host (from an inventory)."""

    host: str  # short host name, lowercased
    name: str
    version: str
    vendor: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class KevEntry:
    """One entry of CISA's Known Exploited Vulnerabilities catalog."""

    cve: str
    vendor: str
    product: str
    name: str = ""
    date_added: date | None = None
    due: date | None = None
    ransomware: bool = False


@dataclass(frozen=True, slots=True)
class VersionRange:
    """An affected range of one product in a CVE JSON 5 record."""

    cve: str
    vendor: str
    product: str
    version: str  # the first affected version ("0" or "*" for any)
    less_than: str | None = None
    less_equal: str | None = None
    status: str = "affected"


@dataclass(frozen=True, slots=True)
class TraceRow:
    """One delivery of one message to one recipient (a message-trace line)."""

    time: datetime | None
    sender: str
    recipient: str
    subject: str
    message_id: str = ""
    status: str = ""  # Delivered, Failed, sent, bounced ...
    size: int | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class Allow:
    """One ``allow`` line of the zones file: flows from one zone to another on these ports."""

    src: str
    dst: str
    ports: frozenset[int] | None  # None: any port


@dataclass(frozen=True, slots=True)
class ZonePolicy:
    """The zones file: named address ranges and the flows allowed between them."""

    zones: tuple[tuple[str, tuple[IPNet, ...]], ...]
    allow: tuple[Allow, ...]
    source: str = ""
    default: bool = False  # derived from host roles, not read from a file

    def zone_of(self, ip: str) -> str | None:
        """The zone of the most specific range holding ``ip`` (None when none does)."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        best: tuple[int, str] | None = None
        for name, nets in self.zones:
            for net in nets:
                fits = addr.version == net.version and addr in net
                if fits and (best is None or net.prefixlen > best[0]):
                    best = (net.prefixlen, name)
        return best[1] if best else None

    def allows(self, src: str, dst: str, port: int | None) -> Allow | None:
        """The allow line permitting the flow, if any (a flow inside one zone is allowed)."""
        if src == dst:
            return Allow(src, dst, None)
        for rule in self.allow:
            port_ok = rule.ports is None or (port is not None and port in rule.ports)
            if rule.src == src and rule.dst == dst and port_ok:
                return rule
        return None


# ---- result ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a control found, with the evidence and the stories it touches."""

    severity: str
    title: str
    host: str | None = None
    account: str | None = None
    evidence: tuple[str, ...] = ()
    stories: tuple[str, ...] = ()
    kind: str = ""  # a stable key of the finding's type (single_factor, legacy_protocol, ...)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "severity": self.severity,
            "title": self.title,
            "host": self.host,
            "account": self.account,
            "evidence": list(self.evidence),
            "stories": list(self.stories),
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        """Read back."""
        return cls(
            severity=str(d["severity"]),
            title=str(d["title"]),
            host=d.get("host"),
            account=d.get("account"),
            evidence=tuple(d.get("evidence", ())),
            stories=tuple(d.get("stories", ())),
            kind=str(d.get("kind", "")),
        )


@dataclass(frozen=True, slots=True)
class StepVerdict:
    """For one step of a story: would this control have stopped (or shown) it."""

    story: str
    step: str  # "initial access: mail to j.miller", "ws-003 -> fs-01 (T1021.006)"
    control: str
    # "would have stopped", "could have stopped", "would have shown", "did not stop", "blind",
    # "unknown"
    verdict: str
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "story": self.story,
            "step": self.step,
            "control": self.control,
            "verdict": self.verdict,
            "why": self.why,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepVerdict:
        """Read back."""
        return cls(**{k: str(d.get(k, "")) for k in ("story", "step", "control", "verdict", "why")})


@dataclass(frozen=True, slots=True)
class ControlResult:
    """One defence, judged."""

    control: str
    status: str
    score: int  # 0-100; 0 when unknown
    summary: str
    inputs: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    figures: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The contract of one control."""
        return {
            "control": self.control,
            "title": TITLES.get(self.control, self.control),
            "status": self.status,
            "score": self.score,
            "summary": self.summary,
            "inputs": list(self.inputs),
            "figures": dict(self.figures),
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ControlResult:
        """Read back."""
        return cls(
            control=str(d["control"]),
            status=str(d["status"]),
            score=int(d.get("score", 0)),
            summary=str(d.get("summary", "")),
            inputs=tuple(d.get("inputs", ())),
            findings=tuple(Finding.from_dict(f) for f in d.get("findings", ())),
            figures=tuple((str(k), str(v)) for k, v in d.get("figures", {}).items()),
        )


def unknown(control: str, needs: str, inputs: tuple[str, ...] = ()) -> ControlResult:
    """A control with nothing to judge it: says which input would measure it."""
    return ControlResult(control, "unknown", 0, f"not measured: {needs}", inputs)


@dataclass(frozen=True, slots=True)
class PostureResult:
    """The five controls, the per-story step table, and the coverage layer's scores."""

    controls: tuple[ControlResult, ...]
    steps: tuple[StepVerdict, ...] = ()
    coverage: tuple[tuple[str, int, str], ...] = ()  # (technique, rules that could fire, note)
    created: datetime | None = None
    version: str = ""
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def control(self, name: str) -> ControlResult | None:
        """One control by name."""
        return next((c for c in self.controls if c.control == name), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: ``{"controls": [...]}`` plus the step table and context."""
        return {
            "schema": SCHEMA,
            "version": self.version,
            "created": self.created.isoformat(timespec="seconds") + "Z" if self.created else None,
            "controls": [c.to_dict() for c in self.controls],
            "steps": [s.to_dict() for s in self.steps],
            "coverage": [{"technique": t, "rules": n, "note": w} for t, n, w in self.coverage],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PostureResult:
        """Read a saved document back."""
        created = d.get("created")
        return cls(
            controls=tuple(ControlResult.from_dict(c) for c in d.get("controls", ())),
            steps=tuple(StepVerdict.from_dict(s) for s in d.get("steps", ())),
            coverage=tuple(
                (str(c["technique"]), int(c["rules"]), str(c.get("note", "")))
                for c in d.get("coverage", ())
            ),
            created=datetime.fromisoformat(created.removesuffix("Z")) if created else None,
            version=str(d.get("version", "")),
            warnings=tuple(d.get("warnings", ())),
        )


# ---- what the case holds, as posture reads it -----------------------------------------------
@dataclass(frozen=True, slots=True)
class CaseMail:
    """A triaged mail of the case (the reported mailbox)."""

    message_id: str
    subject: str
    sender: str
    recipients: tuple[str, ...]
    verdict: str
    received: datetime | None = None
    attachments: tuple[tuple[str, str], ...] = ()  # (name, sha256)
    urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Flow:
    """Connections from one address to another on one port, aggregated."""

    src_ip: str
    dst_ip: str
    port: int | None
    proto: str
    count: int
    first_seen: datetime | None
    src_host: str | None = None
    dst_host: str | None = None
    seen_by: str = ""  # zeek, sysmon, wfp


@dataclass(frozen=True, slots=True)
class RemoteLogon:
    """A remote or explicit-credential logon seen in Windows logs."""

    time: datetime | None
    host: str
    account: str
    kind: str  # rdp (4624 type 10), explicit (4648), network (4624 type 3)
    src_ip: str | None = None


@dataclass(frozen=True, slots=True)
class HostSources:
    """What one host logged: events by (channel, event id), by hour, and command-line audit."""

    host: str
    channels: tuple[tuple[str, int, int], ...]  # (channel, event id, count)
    hours: tuple[datetime, ...] = ()  # hours (truncated) with at least one event
    cmdline_4688: int = 0  # 4688 events carrying a CommandLine


@dataclass(frozen=True, slots=True)
class HostEvent:
    """One event posture cares about on its own (log cleared, Sysmon stopped, a component run)."""

    time: datetime | None
    host: str
    channel: str
    event_id: int
    detail: str  # the field that matters (service name, image, state ...)
    version: str = ""  # FileVersion where Sysmon gives it
    user: str = ""


@dataclass(frozen=True, slots=True)
class CaseView:
    """Everything posture reads from a case store, as plain values."""

    stories: tuple[Story, ...] = ()
    mails: tuple[CaseMail, ...] = ()
    flows: tuple[Flow, ...] = ()
    logons: tuple[RemoteLogon, ...] = ()
    privileged: frozenset[str] = frozenset()  # accounts with a 4672 special logon
    hosts: tuple[HostSources, ...] = ()
    tamper: tuple[HostEvent, ...] = ()
    opened: tuple[HostEvent, ...] = ()  # events touching a case attachment by name
    running: tuple[HostEvent, ...] = ()  # process starts of watched components
    fired_techniques: frozenset[str] = frozenset()
    first: datetime | None = None
    last: datetime | None = None
