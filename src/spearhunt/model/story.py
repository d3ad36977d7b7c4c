"""Campaign stories: the frozen result of correlation, and the JSON document renderers read.

``CorrelationResult.to_dict`` is the output contract of ``spearhunt correlate --format json``
(issue 5); ``CorrelationResult.from_dict`` reads a saved document back, so reports can be
rendered from a stored result without correlating again. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spearhunt.model.times import iso_utc as iso

SCHEMA = "spearhunt.correlate/1"


def parse_iso(text: str | None) -> datetime | None:
    """Inverse of :func:`spearhunt.model.times.iso_utc`."""
    if not text:
        return None
    return datetime.fromisoformat(text.removesuffix("Z"))


@dataclass(frozen=True, slots=True)
class ScorePart:
    """One explainable part of a story's score."""

    name: str
    points: float
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "points": round(self.points, 2), "detail": self.detail}


@dataclass(frozen=True, slots=True)
class PatientZero:
    """Where the story started: the first host, its user, and the mail when one started it."""

    host: str
    user: str | None = None
    message_id: str | None = None
    mail_subject: str | None = None
    mail_sender: str | None = None
    mail_verdict: str | None = None
    attachment: str | None = None
    attachment_sha256: str | None = None
    first_seen: datetime | None = None
    how: str = ""  # the link that tied the mail to the host, or "first alert"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "host": self.host,
            "user": self.user,
            "message_id": self.message_id,
            "mail_subject": self.mail_subject,
            "mail_sender": self.mail_sender,
            "mail_verdict": self.mail_verdict,
            "attachment": self.attachment,
            "attachment_sha256": self.attachment_sha256,
            "first_seen": iso(self.first_seen),
            "how": self.how,
        }


@dataclass(frozen=True, slots=True)
class HostReach:
    """A host in a story and how the intruder got there."""

    host: str
    reached_from: str | None  # None for patient zero
    via: str | None  # ATT&CK technique id of the move
    first_seen: datetime | None
    account: str | None = None
    how: str = ""
    alerts: int = 0
    criticality: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "host": self.host,
            "reached_from": self.reached_from,
            "via": self.via,
            "first_seen": iso(self.first_seen),
            "account": self.account,
            "how": self.how,
            "alerts": self.alerts,
            "criticality": self.criticality,
        }


@dataclass(frozen=True, slots=True)
class ExfilFlow:
    """Data that left (or was seen leaving) a host for an external destination."""

    host: str
    destination: str  # domain when known, else IP
    bytes: int
    first_seen: datetime | None
    last_seen: datetime | None
    ip: str | None = None
    domain: str | None = None
    channel: str = "tcp"  # tcp, dns
    connections: int = 0
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "host": self.host,
            "destination": self.destination,
            "bytes": self.bytes,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "ip": self.ip,
            "domain": self.domain,
            "channel": self.channel,
            "connections": self.connections,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class Destination:
    """An outside address a story's hosts talked to, and why it belongs to the story."""

    ip: str | None
    domain: str | None
    why: str  # beacon, exfiltration, alerted process (<image>)
    first_seen: datetime | None
    host: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "ip": self.ip,
            "domain": self.domain,
            "why": self.why,
            "first_seen": iso(self.first_seen),
            "host": self.host,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Destination:
        """Read back from the JSON form."""
        return cls(
            d.get("ip"),
            d.get("domain"),
            d.get("why", ""),
            parse_iso(d.get("first_seen")),
            d.get("host"),
        )


@dataclass(frozen=True, slots=True)
class Beacon:
    """Periodic connections from a host to one destination, scored like RITA (0..1)."""

    host: str
    destination: str
    ip: str | None
    score: float
    connections: int
    interval_s: float
    first_seen: datetime | None
    last_seen: datetime | None
    parts: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "host": self.host,
            "destination": self.destination,
            "ip": self.ip,
            "score": round(self.score, 3),
            "connections": self.connections,
            "interval_s": round(self.interval_s, 1),
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "parts": {k: round(v, 3) for k, v in self.parts},
        }


def _beacon(b: dict[str, Any]) -> Beacon:
    return Beacon(
        **{
            **b,
            "first_seen": parse_iso(b["first_seen"]),
            "last_seen": parse_iso(b["last_seen"]),
            "parts": tuple(b.get("parts", {}).items()),
        }
    )


@dataclass(frozen=True, slots=True)
class Stage:
    """One kill-chain tactic of a story with when it was seen."""

    tactic: str
    first_seen: datetime | None
    last_seen: datetime | None
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "tactic": self.tactic,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class Evidence:
    """One alert or linking event that supports a story."""

    kind: str  # alert, correlation, mail, event, network
    ts: datetime | None
    host: str | None
    what: str  # rule title, link description
    ref: str  # "alert:<eid>:<rule_id>", "event:<eid>", "mail:<message-id>", "net:<uid>"
    level: str | None = None
    tactics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "kind": self.kind,
            "ts": iso(self.ts),
            "host": self.host,
            "what": self.what,
            "ref": self.ref,
            "level": self.level,
            "tactics": list(self.tactics),
            "techniques": list(self.techniques),
        }


@dataclass(frozen=True, slots=True)
class EvidenceLine:
    """Evidence items of one kind, host and description collapsed to one line: a rule that
    fired 98 times is one line with its count and span, not 98 items."""

    kind: str
    host: str | None
    what: str
    level: str | None
    count: int
    first: datetime | None
    last: datetime | None
    ref: str  # the first item's
    tactics: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "kind": self.kind,
            "host": self.host,
            "what": self.what,
            "level": self.level,
            "count": self.count,
            "first": iso(self.first),
            "last": iso(self.last),
            "ref": self.ref,
            "tactics": list(self.tactics),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvidenceLine:
        """Read back from the JSON form."""
        return cls(
            d["kind"],
            d.get("host"),
            d["what"],
            d.get("level"),
            int(d.get("count", 1)),
            parse_iso(d.get("first")),
            parse_iso(d.get("last")),
            d.get("ref", ""),
            tuple(d.get("tactics", ())),
        )


@dataclass(frozen=True, slots=True)
class Story:
    """One campaign story: who was hit first, how the intruder moved, what left."""

    id: str
    score: float
    score_parts: tuple[ScorePart, ...]
    patient_zero: PatientZero
    hosts: tuple[HostReach, ...]
    exfiltration: tuple[ExfilFlow, ...]
    stages: tuple[Stage, ...]
    techniques: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    users: tuple[str, ...] = ()
    beacons: tuple[Beacon, ...] = ()
    staged: tuple[str, ...] = ()  # archive/staging paths seen on story hosts
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    title: str = ""
    destinations: tuple[Destination, ...] = ()
    key_evidence: tuple[EvidenceLine, ...] = ()  # what tells the story, in time order

    @property
    def alert_ids(self) -> tuple[str, ...]:
        """Refs of the alerts behind the story."""
        return tuple(e.ref for e in self.evidence if e.kind in ("alert", "correlation"))

    def to_dict(self) -> dict[str, Any]:
        """The output contract of one story."""
        return {
            "id": self.id,
            "title": self.title,
            "score": round(self.score, 2),
            "score_parts": [p.to_dict() for p in self.score_parts],
            "patient_zero": self.patient_zero.to_dict(),
            "hosts": [h.to_dict() for h in self.hosts],
            "users": list(self.users),
            "exfiltration": [x.to_dict() for x in self.exfiltration],
            "beacons": [b.to_dict() for b in self.beacons],
            "destinations": [x.to_dict() for x in self.destinations],
            "staged": list(self.staged),
            "stages": [s.to_dict() for s in self.stages],
            "techniques": list(self.techniques),
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "evidence": [e.to_dict() for e in self.evidence],
            "key_evidence": [x.to_dict() for x in self.key_evidence],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Story:
        """Read a story back from its JSON form."""
        pz = dict(d["patient_zero"])
        pz["first_seen"] = parse_iso(pz.get("first_seen"))
        return cls(
            id=d["id"],
            score=float(d["score"]),
            title=d.get("title", ""),
            score_parts=tuple(ScorePart(**p) for p in d["score_parts"]),
            patient_zero=PatientZero(**pz),
            hosts=tuple(
                HostReach(**{**h, "first_seen": parse_iso(h["first_seen"])}) for h in d["hosts"]
            ),
            users=tuple(d.get("users", ())),
            exfiltration=tuple(
                ExfilFlow(
                    **{
                        **x,
                        "first_seen": parse_iso(x["first_seen"]),
                        "last_seen": parse_iso(x["last_seen"]),
                        "reasons": tuple(x.get("reasons", ())),
                    }
                )
                for x in d["exfiltration"]
            ),
            beacons=tuple(_beacon(b) for b in d.get("beacons", ())),
            destinations=tuple(Destination.from_dict(x) for x in d.get("destinations", ())),
            key_evidence=tuple(EvidenceLine.from_dict(x) for x in d.get("key_evidence", ())),
            staged=tuple(d.get("staged", ())),
            stages=tuple(
                Stage(
                    s["tactic"],
                    parse_iso(s["first_seen"]),
                    parse_iso(s["last_seen"]),
                    s.get("count", 0),
                )
                for s in d["stages"]
            ),
            techniques=tuple(d["techniques"]),
            first_seen=parse_iso(d.get("first_seen")),
            last_seen=parse_iso(d.get("last_seen")),
            evidence=tuple(
                Evidence(
                    e["kind"],
                    parse_iso(e["ts"]),
                    e["host"],
                    e["what"],
                    e["ref"],
                    e.get("level"),
                    tuple(e.get("tactics", ())),
                    tuple(e.get("techniques", ())),
                )
                for e in d["evidence"]
            ),
        )


@dataclass(frozen=True, slots=True)
class CorrelationHit:
    """A Sigma correlation rule that fired on a group of detections."""

    rule_id: str
    title: str
    level: str
    kind: str  # event_count, value_count, temporal, temporal_ordered
    group: tuple[tuple[str, str], ...]
    first_seen: datetime | None
    last_seen: datetime | None
    count: int
    hosts: tuple[str, ...]
    detections: tuple[str, ...]  # "<eid>:<rule_id>" of the member detections
    tags: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CorrelationHit:
        """Read a hit back from its JSON form."""
        return cls(
            rule_id=d["rule_id"],
            title=d["title"],
            level=d["level"],
            kind=d.get("type", ""),
            group=tuple((str(k), str(v)) for k, v in d.get("group", {}).items()),
            first_seen=parse_iso(d.get("first_seen")),
            last_seen=parse_iso(d.get("last_seen")),
            count=int(d.get("count", 0)),
            hosts=tuple(d.get("hosts", ())),
            detections=tuple(d.get("detections", ())),
            tags=tuple(d.get("tags", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "level": self.level,
            "type": self.kind,
            "group": dict(self.group),
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "count": self.count,
            "hosts": list(self.hosts),
            "detections": list(self.detections),
            "tags": list(self.tags),
        }


@dataclass(frozen=True, slots=True)
class Unassigned:
    """High or critical detections of one rule on one host that are in no story."""

    host: str
    rule_title: str
    level: str
    count: int
    first: datetime | None
    last: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "host": self.host,
            "rule_title": self.rule_title,
            "level": self.level,
            "count": self.count,
            "first": iso(self.first),
            "last": iso(self.last),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Unassigned:
        """Read back from the JSON form."""
        return cls(
            d["host"],
            d["rule_title"],
            d["level"],
            int(d["count"]),
            parse_iso(d.get("first")),
            parse_iso(d.get("last")),
        )


@dataclass(frozen=True, slots=True)
class CorrelationResult:
    """Everything a correlation run produced: the document every renderer reads."""

    stories: tuple[Story, ...]
    correlations: tuple[CorrelationHit, ...] = ()
    beacons: tuple[Beacon, ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()
    counts: tuple[tuple[str, int], ...] = ()
    version: str = ""
    schema: str = SCHEMA
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    unassigned: tuple[Unassigned, ...] = ()  # high/critical detections in no story

    def story(self, story_id: str) -> Story | None:
        """The story with this id (or a unique id prefix)."""
        hits = [s for s in self.stories if s.id == story_id or s.id.startswith(story_id)]
        return hits[0] if len(hits) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON output contract: ``{"stories": [...]}`` sorted by score, plus context."""
        return {
            "schema": self.schema,
            "version": self.version,
            "stories": [s.to_dict() for s in self.stories],
            "correlations": [c.to_dict() for c in self.correlations],
            "beacons": [b.to_dict() for b in self.beacons],
            "unassigned": [u.to_dict() for u in self.unassigned],
            "parameters": dict(self.parameters),
            "counts": dict(self.counts),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CorrelationResult:
        """Read a saved result document back (stories, parameters and counts)."""
        return cls(
            stories=tuple(Story.from_dict(s) for s in d.get("stories", ())),
            correlations=tuple(CorrelationHit.from_dict(c) for c in d.get("correlations", ())),
            beacons=tuple(_beacon(b) for b in d.get("beacons", ())),
            parameters=tuple((k, str(v)) for k, v in d.get("parameters", {}).items()),
            counts=tuple((k, int(v)) for k, v in d.get("counts", {}).items()),
            version=d.get("version", ""),
            schema=d.get("schema", SCHEMA),
            unassigned=tuple(Unassigned.from_dict(u) for u in d.get("unassigned", ())),
        )
