"""ATT&CK tactics: their ids and their kill-chain order, in one place.

Every stage that orders or names tactics (story stages, scoring, the demo, the tactic of a
Sigma tag) reads this table, so a tactic added here is known everywhere at once. Keys are
the Sigma tag's name with ``_`` for ``-`` (``attack.lateral-movement`` -> ``lateral_movement``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tactic:
    """One ATT&CK tactic: ``lateral_movement``, ``TA0008``, ``Lateral Movement``."""

    key: str
    id: str
    name: str

    @property
    def shortname(self) -> str:
        """ATT&CK's (and the Navigator's) form: ``lateral-movement``."""
        return self.key.replace("_", "-")


# In ATT&CK's matrix order, which is the kill-chain order stories and scores follow.
TACTICS: tuple[Tactic, ...] = (
    Tactic("reconnaissance", "TA0043", "Reconnaissance"),
    Tactic("resource_development", "TA0042", "Resource Development"),
    Tactic("initial_access", "TA0001", "Initial Access"),
    Tactic("execution", "TA0002", "Execution"),
    Tactic("persistence", "TA0003", "Persistence"),
    Tactic("privilege_escalation", "TA0004", "Privilege Escalation"),
    Tactic("defense_evasion", "TA0005", "Defense Evasion"),
    Tactic("credential_access", "TA0006", "Credential Access"),
    Tactic("discovery", "TA0007", "Discovery"),
    Tactic("lateral_movement", "TA0008", "Lateral Movement"),
    Tactic("collection", "TA0009", "Collection"),
    Tactic("command_and_control", "TA0011", "Command and Control"),
    Tactic("exfiltration", "TA0010", "Exfiltration"),
    Tactic("impact", "TA0040", "Impact"),
)
TACTIC_ORDER: tuple[str, ...] = tuple(t.key for t in TACTICS)
TACTIC_BY_KEY: dict[str, Tactic] = {t.key: t for t in TACTICS}
_RANK = {key: rank for rank, key in enumerate(TACTIC_ORDER)}


def tactic_rank(key: str) -> int:
    """Position of a tactic in the kill chain; unknown tactics come after every known one."""
    return _RANK.get(key, len(_RANK))


def tactic_id(key: str) -> str | None:
    """ATT&CK id (``TA0008``) of a tactic key (``lateral_movement``)."""
    t = TACTIC_BY_KEY.get(key)
    return t.id if t else None
