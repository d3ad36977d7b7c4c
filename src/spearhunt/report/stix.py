"""A STIX 2.1 bundle of a case's indicators: one campaign per story, indicators with STIX
patterns for file hashes, URLs, domains, IPs and e-mail addresses, ``indicates`` relationships
to the campaigns, and the ATT&CK techniques the campaigns ``use``.

Ids are derived from the content, so the same case gives the same bundle (and re-imports merge).
Plain dicts are written; tests parse them with the ``stix2`` library and its validator.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from spearhunt import __version__
from spearhunt.report.attack import is_technique, matrix
from spearhunt.report.document import CaseReport, Indicator

NAMESPACE = uuid.UUID("5b1f4f4e-9c1a-4d7e-9a36-7d3c5a2b9e11")  # spearhunt's, fixed forever
PATTERNS = {
    "url": "url:value",
    "domain": "domain-name:value",
    "ipv4": "ipv4-addr:value",
    "ipv6": "ipv6-addr:value",
    "email": "email-addr:value",
    "filename": "file:name",
}
TYPES = {
    "url": "malicious-activity",
    "domain": "malicious-activity",
    "ipv4": "malicious-activity",
    "ipv6": "malicious-activity",
    "email": "malicious-activity",
    "file": "malicious-activity",
    "filename": "anomalous-activity",
}


def sid(kind: str, *key: str) -> str:
    """Deterministic STIX id shaped as the UUIDv4 STIX 2.1 asks of domain objects: the same
    content gives the same id, so re-imports merge instead of duplicating."""
    digest = hashlib.sha256(f"{NAMESPACE}|{kind}|{'|'.join(key)}".encode()).digest()
    return f"{kind}--{uuid.UUID(bytes=digest[:16], version=4)}"


def literal(value: str) -> str:
    """A STIX pattern string literal: quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern(ind: Indicator) -> str:
    """The STIX pattern of one indicator."""
    if ind.kind == "file":
        hashes = ind.hashes or (("SHA-256", ind.value),)
        return (
            "["
            + " OR ".join(f"file:hashes.{literal(alg)} = {literal(v.lower())}" for alg, v in hashes)
            + "]"
        )
    return f"[{PATTERNS[ind.kind]} = {literal(ind.value)}]"


def _ts(ts: dt.datetime | None) -> str:
    ts = ts or dt.datetime(1970, 1, 1)
    return ts.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def bundle(report: CaseReport) -> dict[str, Any]:
    """The bundle as a JSON-ready dict."""
    now = _ts(report.result_created or report.generated)
    identity = {
        "type": "identity",
        "spec_version": "2.1",
        "id": sid("identity", "spearhunt"),
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": "spearhunt",
        "identity_class": "system",
        "description": f"spearhunt {__version__} case report {report.name}",
    }
    objects: list[dict[str, Any]] = [identity]
    common = {
        "spec_version": "2.1",
        "created_by_ref": identity["id"],
        "created": now,
        "modified": now,
    }
    campaigns: dict[str, str] = {}
    m = matrix()
    techniques: dict[str, str] = {}
    for sr in report.stories if report.story_id else [_Bare(s) for s in report.result.stories]:
        story = sr.story
        cid = sid("campaign", report.name, story.id)
        campaigns[story.id] = cid
        camp = {
            "type": "campaign",
            "id": cid,
            **common,
            "name": f"{story.id}: {story.title}"[:250],
            "description": f"Score {story.score:.1f}. Patient zero {story.patient_zero.host}. "
            + "; ".join(f"{p.name} {p.points:.0f}: {p.detail}" for p in story.score_parts)[:1500],
            "objective": "espionage (suspected)" if story.exfiltration else "unknown",
        }
        if story.first_seen:
            camp["first_seen"] = _ts(story.first_seen)
        if story.last_seen and story.first_seen and story.last_seen >= story.first_seen:
            camp["last_seen"] = _ts(story.last_seen)
        objects.append(camp)
        for tech in (t.upper() for t in story.techniques if is_technique(t)):
            tid = techniques.get(tech)
            if tid is None:
                tid = techniques[tech] = sid("attack-pattern", tech)
                objects.append(
                    {
                        "type": "attack-pattern",
                        "id": tid,
                        **common,
                        "name": m.full_name(tech),
                        "external_references": [
                            {"source_name": "mitre-attack", "external_id": tech}
                        ],
                    }
                )
            objects.append(_rel("uses", cid, tid, common))
    for ind in report.indicators:
        if ind.kind != "file" and ind.kind not in PATTERNS:
            continue
        iid = sid("indicator", ind.kind, ind.value)
        objects.append(
            {
                "type": "indicator",
                "id": iid,
                **common,
                "name": f"{ind.kind} {ind.name or ind.value}"[:250],
                "description": "; ".join(ind.context)[:1000],
                "indicator_types": [TYPES.get(ind.kind, "anomalous-activity")],
                "pattern": pattern(ind),
                "pattern_type": "stix",
                "pattern_version": "2.1",
                "valid_from": now,
                "labels": ["spearhunt", *[f"story:{s}" for s in ind.stories]],
            }
        )
        for story_id in ind.stories:
            if story_id in campaigns:
                objects.append(_rel("indicates", iid, campaigns[story_id], common))
    return {
        "type": "bundle",
        "id": sid("bundle", report.name, report.scope, now),
        "objects": objects,
    }


def _rel(kind: str, src: str, dst: str, common: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "relationship",
        "id": sid("relationship", kind, src, dst),
        **common,
        "relationship_type": kind,
        "source_ref": src,
        "target_ref": dst,
    }


class _Bare:
    """A story without report extras, for the case bundle (every story gets a campaign)."""

    def __init__(self, story: Any) -> None:
        self.story = story
