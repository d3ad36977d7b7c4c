"""ATT&CK names and matrix placement for reports (technique names and tactics).

Tactics, their ids and their order are ``model.attack``'s; the technique table is data
(``attack.yaml``); a technique it does not list is still reported, placed under the tactics
its rule tagged.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from spearhunt.model.attack import TACTICS, Tactic, current_technique, tactic_key

TECHNIQUE_ID = re.compile(r"^T\d{4}(?:\.\d{3})?$")
# Points per rule level; a technique's score grows with its worst level and (slowly) its count.
LEVEL_POINTS = {"informational": 1.0, "low": 2.0, "medium": 4.0, "high": 7.0, "critical": 10.0}


@dataclass(frozen=True, slots=True)
class Matrix:
    """Tactics in kill-chain order and the technique table."""

    tactics: tuple[Tactic, ...]
    names: dict[str, str]
    placement: dict[str, tuple[str, ...]]

    def tactic(self, key: str) -> Tactic | None:
        """The tactic with this key (``lateral_movement`` or ``lateral-movement``)."""
        key = tactic_key(key)
        return next((t for t in self.tactics if t.key == key), None)

    def order(self, key: str) -> int:
        """Kill-chain position of a tactic (unknown ones last)."""
        key = tactic_key(key)
        return next((i for i, t in enumerate(self.tactics) if t.key == key), len(self.tactics))

    def name(self, technique: str) -> str:
        """``Spearphishing Attachment`` for ``T1566.001``; the id itself when unknown."""
        tid = current_technique(technique)
        return self.names.get(tid, tid)

    def full_name(self, technique: str) -> str:
        """``Phishing: Spearphishing Attachment`` for a sub-technique, as ATT&CK writes it."""
        tid = current_technique(technique)
        if "." in tid and tid.split(".")[0] in self.names and tid in self.names:
            return f"{self.names[tid.split('.')[0]]}: {self.names[tid]}"
        return self.name(tid)

    def place(self, technique: str, tagged: Iterable[str] = ()) -> tuple[str, ...]:
        """Tactics a technique shows under: ATT&CK's tactics the rule also tagged, else ATT&CK's
        own, else the rule's tags (unknown technique)."""
        tagged_keys = [tactic_key(t) for t in tagged]
        tid = current_technique(technique)
        own = self.placement.get(tid) or self.placement.get(tid.split(".")[0])
        if own:
            both = tuple(t for t in own if t in tagged_keys)
            return both or own
        return tuple(t for t in tagged_keys if self.tactic(t)) or ()


def is_technique(text: str) -> bool:
    """``T1059`` or ``T1059.001``: anything else in a technique field is not passed on."""
    return bool(TECHNIQUE_ID.match(text.upper()))


@functools.cache
def matrix() -> Matrix:
    """The ATT&CK table, loaded once."""
    doc = yaml.safe_load((Path(__file__).with_name("attack.yaml")).read_text(encoding="utf-8"))
    names = {tid: v[0] for tid, v in doc["techniques"].items()}
    placement = {tid: tuple(v[1].split()) for tid, v in doc["techniques"].items()}
    return Matrix(TACTICS, names, placement)


def technique_score(level: str, count: int) -> float:
    """Navigator score: level points times log2(1 + count), one decimal."""
    return round(LEVEL_POINTS.get(level, 1.0) * math.log2(1 + max(count, 1)), 1)
