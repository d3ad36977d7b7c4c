"""What to simulate: the size of the organisation, the noise volume and the attack variant."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from spearhunt.errors import SimulateError

# Each axis of the attack is chosen independently; a variant name joins one token per axis
# with "+", in any order (e.g. "template+rdp+cloud"); axes left out are drawn from the seed.
ACCESS = ("macro", "template", "iso")
PERSISTENCE = ("runkey", "schtask", "service", "wmisub")
LATERAL = ("psexec", "wmi", "rdp")
EXFIL = ("https", "dns", "cloud")
AXES: dict[str, tuple[str, ...]] = {
    "access": ACCESS,
    "persistence": PERSISTENCE,
    "lateral": LATERAL,
    "exfil": EXFIL,
}

VARIANT_HELP = (
    "initial access: macro (.docm with a VBA project), template (.docx with a remote template), "
    "iso (LNK inside an ISO); persistence: runkey, schtask, service, wmisub (WMI event "
    "subscription); lateral movement: psexec, wmi, rdp; exfiltration: https, dns (DNS "
    "tunnelling), cloud (rclone to a cloud-storage API). Join tokens with '+', e.g. "
    "'iso+wmi+dns'; axes left out are drawn from the seed."
)


@dataclass(frozen=True, slots=True)
class Variant:
    """One attack variant: a choice on each axis."""

    access: str
    persistence: str
    lateral: str
    exfil: str

    @property
    def name(self) -> str:
        """Canonical name, e.g. ``macro+runkey+psexec+https``."""
        return f"{self.access}+{self.persistence}+{self.lateral}+{self.exfil}"


def parse_variant(name: str | None, rng: random.Random) -> Variant:
    """Variant from a (possibly partial) name; missing axes are drawn from ``rng``.

    The draw order is fixed (access, persistence, lateral, exfil) and happens for every axis,
    so naming one axis does not change what the seed picks for the others.
    """
    drawn = {axis: rng.choice(values) for axis, values in AXES.items()}
    if not name:
        return Variant(**drawn)
    chosen: dict[str, str] = {}
    for raw in name.replace(",", "+").split("+"):
        token = raw.strip().lower()
        if not token:
            continue
        axis = next((a for a, values in AXES.items() if token in values), None)
        if axis is None:
            raise SimulateError(
                f"unknown variant token {token!r}; known: {VARIANT_HELP}", where="--variant"
            )
        if axis in chosen and chosen[axis] != token:
            raise SimulateError(
                f"two {axis} choices: {chosen[axis]!r} and {token!r}", where="--variant"
            )
        chosen[axis] = token
    return Variant(**{**drawn, **chosen})


def all_variants() -> list[Variant]:
    """A small set of variants that together cover every token of every axis."""
    width = max(len(v) for v in AXES.values())
    return [
        Variant(ACCESS[i % 3], PERSISTENCE[i % 4], LATERAL[i % 3], EXFIL[(i + i // 3) % 3])
        for i in range(width)
    ] + [
        Variant(ACCESS[i], PERSISTENCE[(i + 2) % 4], LATERAL[(i + 1) % 3], EXFIL[(i + 2) % 3])
        for i in range(3)
    ]


# The sources a simulation can write; ``--only`` picks some of them (all by default). Each
# source draws from its own random streams, so a source's files are the same bytes whichever
# others are generated with it.
SOURCES = ("endpoint", "zeek", "mail")


def parse_sources(values: list[str] | tuple[str, ...] | str | None) -> tuple[str, ...]:
    """The sources named in ``values`` (repeated options and comma lists), in canonical order;
    all of them when none are named."""
    if values is None:
        return SOURCES
    if isinstance(values, str):
        values = [values]
    named: set[str] = set()
    for value in values:
        for raw in value.split(","):
            token = raw.strip().lower()
            if not token:
                continue
            if token not in SOURCES:
                raise SimulateError(
                    f"unknown source {token!r}; choose from {', '.join(SOURCES)}", where="--only"
                )
            named.add(token)
    if not named:
        raise SimulateError(f"name at least one source of {', '.join(SOURCES)}", where="--only")
    return tuple(s for s in SOURCES if s in named)


# Shapes of the endpoint JSON Lines: Sigma field names at the top level, or evtx_dump's
# {"Event": {"System": ..., "EventData": ...}} objects (one per line).
ENDPOINT_FORMATS = ("flat", "evtx-json")


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """Knobs of one simulation. Everything generated follows from these and nothing else."""

    seed: int = 1
    hosts: int = 40
    users: int = 60
    days: int = 14
    noise: int = 200  # endpoint events per host per day, before --scale
    variant: str | None = None
    scale: int = 1
    start: date = field(default=date(2026, 3, 2))  # a Monday
    mail_per_user_day: float = 0.6
    endpoint_format: str = "flat"  # or "evtx-json": evtx_dump-style objects, one per line
    sources: tuple[str, ...] = SOURCES  # what to generate (see parse_sources)

    def validate(self) -> None:
        """Raise ``SimulateError`` when the knobs cannot make a coherent campaign."""
        if self.hosts < 6:
            raise SimulateError(
                "need at least 6 hosts (DC, file server, backup, 3 workstations)", where="--hosts"
            )
        if self.users < 4:
            raise SimulateError("need at least 4 users", where="--users")
        if self.days < 4:
            raise SimulateError("need at least 4 days for a plausible dwell time", where="--days")
        if self.days > 366:
            raise SimulateError("at most 366 days", where="--days")
        if self.noise < 0:
            raise SimulateError("noise cannot be negative", where="--noise")
        if self.scale < 1:
            raise SimulateError("scale must be at least 1", where="--scale")
        if self.hosts > 2000 or self.users > 5000:
            raise SimulateError("at most 2000 hosts and 5000 users", where="--hosts/--users")
        if self.endpoint_format not in ENDPOINT_FORMATS:
            raise SimulateError(
                f"endpoint format must be one of {', '.join(ENDPOINT_FORMATS)}",
                where="--endpoint-format",
            )
        if (
            not self.sources
            or any(s not in SOURCES for s in self.sources)
            or len(set(self.sources)) != len(self.sources)
        ):
            raise SimulateError(
                f"sources must be distinct names of {', '.join(SOURCES)}", where="--only"
            )


def demo_config(seed: int = 7, variant: str | None = None) -> SimulationConfig:
    """A small simulation for ``spearhunt demo`` and end-to-end tests (a few thousand events)."""
    return SimulationConfig(seed=seed, hosts=10, users=14, days=5, noise=60, variant=variant)
