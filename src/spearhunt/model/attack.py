"""ATT&CK tactics: their ids and their kill-chain order, in one place.

Every stage that orders or names tactics (story stages, scoring, the demo, the tactic of a
Sigma tag) reads this table, so a tactic added here is known everywhere at once. Keys are
the Sigma tag's name with ``_`` for ``-`` (``attack.lateral-movement`` -> ``lateral_movement``).

The table follows ATT&CK Enterprise v19, the version SigmaHQ's rules tag: v19 retired Defense
Evasion and split it into Stealth (which kept TA0005) and Defense Impairment (TA0112), and
moved the Impair Defenses family to new ids (T1562.001 -> T1685, T1070.001 -> T1685.005 ...).
Older rule sets keep working: ``defense_evasion`` is read as Stealth, or as Defense Impairment
for a rule whose techniques are all of that tactic, and revoked technique ids are read as the
ids that replaced them (``current_technique``).
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
    Tactic("stealth", "TA0005", "Stealth"),
    Tactic("defense_impairment", "TA0112", "Defense Impairment"),
    Tactic("credential_access", "TA0006", "Credential Access"),
    Tactic("discovery", "TA0007", "Discovery"),
    Tactic("lateral_movement", "TA0008", "Lateral Movement"),
    Tactic("collection", "TA0009", "Collection"),
    Tactic("command_and_control", "TA0011", "Command and Control"),
    Tactic("exfiltration", "TA0010", "Exfiltration"),
    Tactic("impact", "TA0040", "Impact"),
)
ATTACK_VERSION = "19"  # the Enterprise release the table (and every Navigator layer) follows
TACTIC_ORDER: tuple[str, ...] = tuple(t.key for t in TACTICS)
TACTIC_BY_KEY: dict[str, Tactic] = {t.key: t for t in TACTICS}
_RANK = {key: rank for rank, key in enumerate(TACTIC_ORDER)}


# Tactics of older ATT&CK releases that rule sets (and cases stored before) still name, with
# the tactic that took their place.
LEGACY_TACTICS: dict[str, str] = {"defense_evasion": "stealth"}

# Technique ids ATT&CK revoked (v19; T1574.002 in v17), with the ids that replaced them.
REVOKED: dict[str, str] = {
    "T1562": "T1685",
    "T1562.001": "T1685",
    "T1562.002": "T1685.001",
    "T1562.003": "T1690",
    "T1562.004": "T1686",
    "T1562.006": "T1685",
    "T1562.007": "T1686.001",
    "T1562.008": "T1685.002",
    "T1562.009": "T1688",
    "T1562.010": "T1689",
    "T1562.011": "T1685.003",
    "T1562.012": "T1685.004",
    "T1562.013": "T1686.002",
    "T1070.001": "T1685.005",
    "T1070.002": "T1685.006",
    "T1656": "T1684.001",
    "T1672": "T1684.002",
    "T1574.002": "T1574.001",
}

# Techniques (and their sub-techniques) ATT&CK v19 files under Defense Impairment: a rule of
# an older set tagged defense_evasion with only these is read as Defense Impairment.
DEFENSE_IMPAIRMENT_TECHNIQUES = frozenset(
    {
        "T1207",
        "T1222",
        "T1553",
        "T1578",
        "T1599",
        "T1600",
        "T1601",
        "T1647",
        "T1666",
        "T1685",
        "T1686",
        "T1687",
        "T1688",
        "T1689",
        "T1690",
    }
)


def tactic_key(name: str) -> str:
    """A tactic as a key of the table: ``Lateral-Movement`` -> ``lateral_movement``, a legacy
    tactic -> the tactic that took its place."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    return LEGACY_TACTICS.get(key, key)


def current_technique(technique: str) -> str:
    """The id ATT&CK uses today for a technique id (``T1562.001`` -> ``T1685``)."""
    tid = technique.upper()
    return REVOKED.get(tid, tid)


def legacy_defense_evasion(techniques: tuple[str, ...]) -> tuple[str, ...]:
    """What an older rule's ``defense_evasion`` tag means in v19, from its (current)
    technique ids: Defense Impairment for those of that tactic, Stealth for the others (or
    for a rule that names none)."""
    impair = [t for t in techniques if t.split(".")[0] in DEFENSE_IMPAIRMENT_TECHNIQUES]
    out = []
    if len(impair) < len(techniques) or not techniques:
        out.append("stealth")
    if impair:
        out.append("defense_impairment")
    return tuple(out)


def tactic_rank(key: str) -> int:
    """Position of a tactic in the kill chain; unknown tactics come after every known one."""
    return _RANK.get(tactic_key(key), len(_RANK))


def tactic_id(key: str) -> str | None:
    """ATT&CK id (``TA0008``) of a tactic key (``lateral_movement``)."""
    t = TACTIC_BY_KEY.get(tactic_key(key))
    return t.id if t else None
