"""Rules as the engine knows them, and what a rule found."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from spearhunt.model.attack import TACTIC_BY_KEY, current_technique, legacy_defense_evasion
from spearhunt.model.times import iso_utc

LEVELS = ("informational", "low", "medium", "high", "critical")
LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}

_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)


@lru_cache(maxsize=8192)
def attack_techniques(tags: tuple[str, ...]) -> tuple[str, ...]:
    """ATT&CK technique ids (``T1059.001``) named by Sigma tags, in tag order; an id ATT&CK
    revoked is given as the id that replaced it (``attack.t1562.001`` -> ``T1685``)."""
    out = []
    for tag in tags:
        m = _TECHNIQUE.match(tag)
        if m:
            out.append(current_technique(m.group(1)))
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=8192)
def attack_tactics(tags: tuple[str, ...]) -> tuple[str, ...]:
    """ATT&CK tactic names (``lateral_movement``) named by Sigma tags, in tag order; an older
    rule's ``defense-evasion`` is read as ATT&CK v19 reads it (``legacy_defense_evasion``)."""
    out: list[str] = []
    for tag in tags:
        low = tag.lower()
        if low.startswith("attack."):
            name = low[len("attack.") :].replace("-", "_")
            if name in TACTIC_BY_KEY:
                out.append(name)
            elif name == "defense_evasion":
                out.extend(legacy_defense_evasion(attack_techniques(tags)))
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What the engine knows about one Sigma rule, independent of how it is executed."""

    rule_id: str
    title: str
    level: str
    tags: tuple[str, ...] = ()
    source: str = ""  # file the rule came from
    status: str = ""
    description: str = ""
    author: str = ""
    falsepositives: tuple[str, ...] = ()
    # False for base rules of a correlation with 'generate: false': their matches feed the
    # correlation (and the case store) but are not alerts of their own.
    output: bool = True

    @property
    def techniques(self) -> tuple[str, ...]:
        """ATT&CK technique ids from the tags."""
        return attack_techniques(self.tags)

    @property
    def tactics(self) -> tuple[str, ...]:
        """ATT&CK tactic names from the tags."""
        return attack_tactics(self.tags)

    def output_dict(self) -> dict[str, Any]:
        """The rule's part of each of its detections in the JSON output contract."""
        return {
            "rule_id": self.rule_id,
            "rule_title": self.title,
            "level": self.level,
            "tags": list(self.tags),
            "tactics": list(self.tactics),
            "techniques": list(self.techniques),
        }

    def output_head(self) -> bytes:
        """``output_dict`` as JSON left open after a comma: the start of each of its
        detections' JSON text, which the event's part completes."""
        return orjson.dumps(self.output_dict())[:-1] + b","

    @property
    def level_rank(self) -> int:
        """Ordering of the level, informational lowest; unknown levels count as informational."""
        return LEVEL_RANK.get(self.level, 0)


@dataclass(frozen=True, slots=True)
class Detection:
    """One rule matching one event."""

    rule: RuleInfo
    timestamp: datetime | None
    computer: str | None
    channel: str | None
    event_id: int | None
    record_id: int | None
    source: str
    event: dict[str, Any] = field(default_factory=dict)
    event_key: int = 0  # the event's row id in its store, for joins by later stages

    def to_dict(self) -> dict[str, Any]:
        """The JSON output contract of one detection."""
        return {**self.rule.output_dict(), **self.event_dict()}

    def event_dict(self) -> dict[str, Any]:
        """The part of ``to_dict`` that is about the event, not the rule (in the same order;
        the DuckDB engine builds the same object in SQL: ``DuckEngine.output``)."""
        return {
            "timestamp": iso_utc(self.timestamp),
            "computer": self.computer,
            "channel": self.channel,
            "event_id": self.event_id,
            "record_id": self.record_id,
            "source": self.source,
            "event_key": self.event_key,
            "event": self.event,
        }
