"""Mail triage results: reasons, IOCs, attachment reports and the per-mail verdict. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "low", "medium", "high", "critical")
VERDICTS = ("clean", "suspicious", "malicious")


@dataclass(frozen=True, slots=True)
class Reason:
    """One thing that counted towards a verdict, with the evidence that shows it."""

    id: str
    title: str
    severity: str
    score: int
    evidence: tuple[str, ...] = ()
    attack: str | None = None
    where: str = "message"  # "message", or the attachment path it was found in

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reason:
        """Read a reason back from its JSON form."""
        return cls(
            id=d["id"],
            title=d["title"],
            severity=d["severity"],
            score=int(d["score"]),
            evidence=tuple(d.get("evidence", ())),
            attack=d.get("attack"),
            where=d.get("where", "message"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the reason."""
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "score": self.score,
            "evidence": list(self.evidence),
            "attack": self.attack,
            "where": self.where,
        }


@dataclass(frozen=True, slots=True)
class Ioc:
    """An indicator taken from a mail: exact value, never defanged here."""

    kind: str  # sender, reply_to, return_path, ip, url, domain, filename, sha256, md5, sha1
    value: str

    def to_dict(self) -> dict[str, str]:
        """JSON form of the indicator."""
        return {"kind": self.kind, "value": self.value}


@dataclass(frozen=True, slots=True)
class AttachmentReport:
    """One attachment, archive member or embedded object, with what was found in it."""

    name: str
    sha256: str
    md5: str
    sha1: str
    size: int
    type: str
    depth: int
    parent: str | None
    findings: tuple[Reason, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()  # facts (has_vba=1, ...) that are not scored
    children: tuple[AttachmentReport, ...] = ()

    def walk(self) -> tuple[AttachmentReport, ...]:
        """This report and every descendant, depth first."""
        out: list[AttachmentReport] = [self]
        for child in self.children:
            out.extend(child.walk())
        return tuple(out)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AttachmentReport:
        """Read an attachment report (and its children) back from its JSON form."""
        return cls(
            name=d["name"],
            sha256=d["sha256"],
            md5=d["md5"],
            sha1=d["sha1"],
            size=int(d["size"]),
            type=d["type"],
            depth=int(d["depth"]),
            parent=d.get("parent"),
            findings=tuple(Reason.from_dict(r) for r in d.get("findings", ())),
            properties=tuple((str(k), str(v)) for k, v in d.get("properties", {}).items()),
            children=tuple(cls.from_dict(c) for c in d.get("children", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form, children nested."""
        return {
            "name": self.name,
            "sha256": self.sha256,
            "md5": self.md5,
            "sha1": self.sha1,
            "size": self.size,
            "type": self.type,
            "depth": self.depth,
            "parent": self.parent,
            "findings": [r.to_dict() for r in self.findings],
            "properties": dict(self.properties),
            "children": [c.to_dict() for c in self.children],
        }


@dataclass(frozen=True, slots=True)
class MailVerdict:
    """The explained verdict for one mail (the inner one when a report wrapped it)."""

    file: str
    message_id: str | None
    subject: str
    sender: str
    to: tuple[str, ...]
    date: str | None
    verdict: str
    score: int
    reasons: tuple[Reason, ...] = ()
    iocs: tuple[Ioc, ...] = ()
    attachments: tuple[AttachmentReport, ...] = ()
    cc: tuple[str, ...] = ()
    reported_by: str | None = None  # the reporter's From when the mail came forwarded as attachment
    warnings: tuple[str, ...] = ()

    def all_attachments(self) -> tuple[AttachmentReport, ...]:
        """Every attachment report, nested ones included."""
        out: list[AttachmentReport] = []
        for att in self.attachments:
            out.extend(att.walk())
        return tuple(out)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MailVerdict:
        """Read a verdict back from its JSON form (as the case store keeps it)."""
        return cls(
            file=d["file"],
            message_id=d.get("message_id"),
            subject=d.get("subject", ""),
            sender=d.get("from", ""),
            to=tuple(d.get("to", ())),
            date=d.get("date"),
            verdict=d["verdict"],
            score=int(d["score"]),
            reasons=tuple(Reason.from_dict(r) for r in d.get("reasons", ())),
            iocs=tuple(Ioc(i["kind"], i["value"]) for i in d.get("iocs", ())),
            attachments=tuple(AttachmentReport.from_dict(a) for a in d.get("attachments", ())),
            cc=tuple(d.get("cc", ())),
            reported_by=d.get("reported_by"),
            warnings=tuple(d.get("warnings", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON output contract of one mail."""
        return {
            "file": self.file,
            "message_id": self.message_id,
            "subject": self.subject,
            "from": self.sender,
            "to": list(self.to),
            "cc": list(self.cc),
            "date": self.date,
            "verdict": self.verdict,
            "score": self.score,
            "reasons": [r.to_dict() for r in self.reasons],
            "iocs": [i.to_dict() for i in self.iocs],
            "attachments": [a.to_dict() for a in self.attachments],
            "reported_by": self.reported_by,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class MailFailure:
    """A file (or mbox entry) that could not be analysed at all."""

    file: str
    error: str

    def to_dict(self) -> dict[str, str]:
        """JSON form of the failure."""
        return {"file": self.file, "error": self.error}


@dataclass(frozen=True, slots=True)
class MailSummary:
    """Counts over one run."""

    total: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    errors: tuple[MailFailure, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the summary."""
        return {
            "total": self.total,
            "verdicts": {v: self.verdicts.get(v, 0) for v in VERDICTS},
            "errors": [e.to_dict() for e in self.errors],
        }
