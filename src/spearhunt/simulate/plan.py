"""The campaign's plan as the planners write it: the intrusion's records (steps, hops, exfil
flows), the shared bookkeeping of the planners, and the destinations they choose from.

``campaign`` (initial access to privilege escalation) and ``lateral`` (lateral movement,
staging, exfiltration) both build on this module and not on each other's.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from spearhunt.simulate.clock import US
from spearhunt.simulate.config import Variant
from spearhunt.simulate.context import HostState, Sim
from spearhunt.simulate.endpoint import Event
from spearhunt.simulate.world import Host, User

EXFIL_DOMAINS = (
    "files.secure-docs-share.example.com",
    "upload.cloud-sync-backup.example.net",
    "drop.teaming-archive.example.org",
)
TUNNEL_DOMAINS = ("ns-cache.example.net", "resolver-metrics.example.org", "dnsstat.example.com")


@dataclass(frozen=True, slots=True)
class Lure:
    """The spear-phishing mail and its attachment."""

    filename: str
    data: bytes
    content_type: str
    subject: str
    sender_name: str
    sender: str
    reply_to: str
    partner: str
    message_id: str
    sent: int

    @property
    def sha256(self) -> str:
        """Lower-case hex SHA256 of the attachment."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def md5(self) -> str:
        """Lower-case hex MD5 of the attachment."""
        return hashlib.md5(self.data).hexdigest()


@dataclass(slots=True)
class Step:
    """Malicious endpoint events on one host, with their stage and ATT&CK technique."""

    stage: str
    technique: str
    host: str
    user: str
    events: list[Event]
    note: str = ""


@dataclass(slots=True)
class NetStep:
    """Malicious network records (Zeek uids) with their stage and technique."""

    stage: str
    technique: str
    host: str
    records: list[tuple[str, str, int]]  # (log, uid, ts)
    note: str = ""


@dataclass(slots=True)
class Hop:
    """One lateral movement: the attacker reached ``host`` from ``from_host``."""

    host: str
    from_host: str
    technique: str
    first_seen: int
    account: str


@dataclass(slots=True)
class ExfilFlow:
    """Data leaving the network from ``host`` to an outside destination."""

    host: str
    domain: str
    ip: str
    bytes: int
    first_seen: int
    last_seen: int
    channel: str


@dataclass(slots=True)
class Campaign:
    """The planned intrusion and everything needed to write mail and truth."""

    variant: Variant
    victim: User
    victim_host: Host
    admin: User
    lure: Lure
    c2_domain: str
    c2_ip: str
    staging_host: Host
    implant_sha256: str = ""
    steps: list[Step] = field(default_factory=list)
    net_steps: list[NetStep] = field(default_factory=list)
    hops: list[Hop] = field(default_factory=list)
    exfil: list[ExfilFlow] = field(default_factory=list)
    beacons: list[int] = field(default_factory=list)
    beacon_interval: int = 0
    archive_tool: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class PlanWriter:
    """What every planner of the campaign shares: the run, the variant, a seeded random source,
    the campaign being written, and how a malicious step or network record is noted."""

    def __init__(self, sim: Sim, variant: Variant) -> None:
        self.sim = sim
        self.variant = variant
        self.rng = random.Random(f"{sim.cfg.seed}:campaign:{variant.name}")
        self.c: Campaign | None = None

    # ---- bookkeeping -------------------------------------------------------------------
    @contextmanager
    def step(
        self, hs: HostState, stage: str, technique: str, user: str, note: str = ""
    ) -> Iterator[None]:
        """Record every event appended to ``hs`` inside the block as one malicious step."""
        mark = len(hs.log.buffer)
        yield
        events = [ev for _, _, ev in hs.log.buffer[mark:]]
        assert self.c is not None
        if events:
            self.c.steps.append(Step(stage, technique, hs.host.name, user, events, note))

    def net(
        self,
        stage: str,
        technique: str,
        host: Host,
        records: list[tuple[str, str | None, int]],
        note: str = "",
    ) -> None:
        """Record malicious Zeek records (only made when Zeek is generated); a None uid is a
        lookup the host's DNS cache answered, which the sensor did not see."""
        assert self.c is not None
        seen = [(log, uid, ts) for log, uid, ts in records if uid is not None]
        self.c.net_steps.append(NetStep(stage, technique, host.name, seen, note))

    def secs(self, lo: float, hi: float) -> int:
        """A random delay in microseconds."""
        return int((lo + self.rng.random() * (hi - lo)) * US)
