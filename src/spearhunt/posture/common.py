"""Small helpers the controls share: stories touching a host, an account or an address,
scores and status words."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from spearhunt.model.story import Story
from spearhunt.posture.identity import same_person

# ATT&CK technique -> (protocol, port) of the lateral movements spearhunt's stories name.
MOVE_PORTS: dict[str, tuple[str, int]] = {
    "T1021.001": ("RDP", 3389),
    "T1021.002": ("SMB", 445),
    "T1021.003": ("DCOM/RPC", 135),
    "T1021.004": ("SSH", 22),
    "T1021.006": ("WinRM", 5985),
    "T1047": ("WMI/RPC", 135),
    "T1569.002": ("SMB (service)", 445),
    "T1570": ("SMB", 445),
    "T1053.005": ("RPC (task)", 135),
}
ADMIN_PORTS: dict[int, str] = {
    22: "SSH",
    135: "RPC",
    139: "SMB",
    445: "SMB",
    3389: "RDP",
    5985: "WinRM",
    5986: "WinRM",
    5900: "VNC",
}


def story_hosts(story: Story) -> set[str]:
    """Short names of every host in a story."""
    return {h.host for h in story.hosts} | {story.patient_zero.host}


def stories_of_host(stories: Sequence[Story], host: str | None) -> tuple[str, ...]:
    """Ids of the stories a host is part of."""
    if not host:
        return ()
    return tuple(s.id for s in stories if host in story_hosts(s))


def story_accounts(story: Story) -> set[str]:
    """Accounts named in a story (its users, the accounts of its moves, patient zero's user)."""
    out = {u for u in story.users if u}
    out |= {h.account for h in story.hosts if h.account}
    if story.patient_zero.user:
        out.add(story.patient_zero.user)
    return out


def stories_of_account(stories: Sequence[Story], account: str | None) -> tuple[str, ...]:
    """Ids of the stories whose accounts include this person."""
    if not account:
        return ()
    return tuple(s.id for s in stories if any(same_person(account, a) for a in story_accounts(s)))


def story_ips(story: Story) -> set[str]:
    """Outside addresses a story talks to (C2 beacons, exfiltration)."""
    out = {b.ip for b in story.beacons if b.ip}
    out |= {x.ip for x in story.exfiltration if x.ip}
    return out


def stories_of_ip(stories: Sequence[Story], ip: str | None) -> tuple[str, ...]:
    """Ids of the stories that talk to this address."""
    if not ip:
        return ()
    return tuple(s.id for s in stories if ip in story_ips(s))


def merge(*ids: Iterable[str]) -> tuple[str, ...]:
    """Story ids, each once, in first-seen order."""
    return tuple(dict.fromkeys(i for group in ids for i in group))


def pct(part: float, whole: float) -> int:
    """A 0-100 score (100 when there is nothing to judge)."""
    return 100 if whole <= 0 else max(0, min(100, round(100 * part / whole)))


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 host``, ``3 hosts``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
