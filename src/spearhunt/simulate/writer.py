"""Run a simulation: build the world, plan the campaign, stream noise day by day, write files."""

from __future__ import annotations

import gc
import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spearhunt.errors import SimulateError
from spearhunt.model.callbacks import Progress
from spearhunt.simulate.clock import Clock
from spearhunt.simulate.config import SOURCES, SimulationConfig, Variant, parse_variant
from spearhunt.simulate.context import Sim
from spearhunt.simulate.endpoint import write_lines
from spearhunt.simulate.noise import NAMES, noise_day
from spearhunt.simulate.world import World, build_world
from spearhunt.simulate.zeek import LOGS, close_logs, open_logs

log = logging.getLogger(__name__)

SYSMON_CHANNEL = '"Channel":"Microsoft-Windows-Sysmon/Operational"'


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """What a simulation wrote and where: paths, counts per source, the variant and truth.

    Sources left out by ``config.sources`` count 0 (``network_records`` is empty) and have no
    path.
    """

    out_dir: Path
    config: SimulationConfig
    variant: Variant
    endpoint_events: int
    network_records: dict[str, int]
    mails: int
    malicious_mails: int
    paths: dict[str, Path]
    truth: dict[str, Any] = field(repr=False)

    @property
    def truth_path(self) -> Path:
        """The answer key."""
        return self.paths["truth"]

    @property
    def total_records(self) -> int:
        """Endpoint events plus Zeek records plus mails."""
        return self.endpoint_events + sum(self.network_records.values()) + self.mails


# The folder each source writes (also its key in SimulationResult.paths).
_FOLDERS = {"endpoint": "endpoint", "zeek": "network", "mail": "mail"}


def check_out_dir(out_dir: Path, *, force: bool) -> None:
    """Raise ``SimulateError`` unless ``out_dir`` can take a simulation."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SimulateError("exists and is not a folder", where=str(out_dir))
    if not force and out_dir.exists() and any(out_dir.iterdir()):
        raise SimulateError("folder is not empty (use --force to overwrite)", where=str(out_dir))


def prepare_out_dir(out_dir: Path, *, force: bool, sources: tuple[str, ...] = SOURCES) -> None:
    """Create ``out_dir`` and the folders of ``sources``; refuse a non-empty one unless
    ``force`` (then clear what we own)."""
    check_out_dir(out_dir, force=force)
    if out_dir.exists() and any(out_dir.iterdir()):
        for source, sub in _FOLDERS.items():
            folder = out_dir / sub
            if folder.is_dir():
                for child in folder.iterdir():
                    if child.is_file():
                        child.unlink()
                if source not in sources and not any(folder.iterdir()):
                    folder.rmdir()  # an empty folder would read as "no records"
        posture = out_dir / "posture"
        if posture.is_dir():
            for child in sorted(posture.rglob("*"), reverse=True):
                child.unlink() if child.is_file() else child.rmdir()
            posture.rmdir()  # written again only when every source is
        for name in ("truth.json", "README.txt"):
            (out_dir / name).unlink(missing_ok=True)
    for source in sources:
        (out_dir / _FOLDERS[source]).mkdir(parents=True, exist_ok=True)


def simulate(
    out_dir: Path | str,
    config: SimulationConfig | None = None,
    *,
    force: bool = False,
    on_progress: Progress | None = None,
) -> SimulationResult:
    """Write a complete simulated intrusion into ``out_dir`` and return what was written."""
    cfg = config or SimulationConfig()
    cfg.validate()
    out = Path(out_dir)
    sources = cfg.sources
    prepare_out_dir(out, force=force, sources=sources)
    variant = parse_variant(cfg.variant, random.Random(f"variant:{cfg.seed}"))
    world = build_world(cfg.seed, cfg.hosts, cfg.users)
    clock = Clock(cfg.start, cfg.days)
    sim = Sim(cfg, world, clock)
    sim.ext.reserve(NAMES)
    from spearhunt.simulate.campaign import plan_campaign
    from spearhunt.simulate.mail import write_mail
    from spearhunt.simulate.truth import build_truth, write_readme, write_truth

    # The campaign is planned whatever is generated: mail, endpoint and network all show it.
    campaign = plan_campaign(sim, variant)
    from spearhunt.simulate.posture import no_sysmon_hosts, write_posture

    no_sysmon = no_sysmon_hosts(sim, campaign)
    mails = write_mail(sim, campaign, out / "mail") if "mail" in sources else None
    endpoint_events = 0
    if "endpoint" in sources or "zeek" in sources:
        # Zeek alone still runs the endpoint activity (its records hang from the same draws)
        # but neither finalizes nor writes the events.
        with _gc_paused():
            endpoint_events = _write_logs(sim, out, on_progress, frozenset(no_sysmon))
    truth = build_truth(sim, campaign, variant, mails)
    if set(sources) == set(SOURCES):  # the posture inputs describe the whole intrusion
        truth["posture"] = write_posture(sim, campaign, out / "posture", no_sysmon)
    paths = {_FOLDERS[source]: out / _FOLDERS[source] for source in sources}
    paths |= {"truth": out / "truth.json", "readme": out / "README.txt"}
    write_truth(truth, paths["truth"])
    write_readme(sim, variant, paths["readme"])
    return SimulationResult(
        out_dir=out,
        config=cfg,
        variant=variant,
        endpoint_events=endpoint_events,
        network_records=dict(sim.net.counts) if sim.net is not None else {},
        mails=mails.total if mails else 0,
        malicious_mails=mails.malicious if mails else 0,
        paths=paths,
        truth=truth,
    )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the logs are written.

    The buffers hold millions of short-lived tuples and no reference cycles; the collector's
    passes over them cost several percent of the run and free nothing (memory is released by
    reference counting as each day is written).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _write_logs(
    sim: Sim, out: Path, on_progress: Progress | None, no_sysmon: frozenset[str] = frozenset()
) -> int:
    """Run the noise day by day and write each day's endpoint events and Zeek records (of the
    sources generated); the number of endpoint events written. Hosts in ``no_sysmon`` lose
    their Sysmon events (a fleet where the sensor never got installed everywhere)."""
    cfg, clock, net = sim.cfg, sim.clock, sim.net
    per_day = cfg.noise * cfg.scale
    states = list(sim.hosts.values())
    endpoint = "endpoint" in cfg.sources
    files = {
        name: (out / "endpoint" / f"{name}.jsonl").open("wb")
        for name in (sim.hosts if endpoint else ())
    }
    net_files = open_logs(out / "network", clock) if net is not None else {}
    total = 0
    try:
        for day in range(cfg.days):
            for hs in states:
                noise_day(
                    sim, hs, day, per_day, random.Random(f"{cfg.seed}:noise:{hs.host.name}:{day}")
                )
            until = clock.day_start(day + 1) if day < cfg.days - 1 else None
            for hs in states:
                if not endpoint:
                    hs.log.drop(until)
                    continue
                lines = hs.log.finalize(until)
                if hs.host.name in no_sysmon:
                    lines = [ln for ln in lines if SYSMON_CHANNEL not in ln]
                write_lines(files[hs.host.name], lines)
                total += len(lines)
            if net is not None:
                net.flush(net_files, until)
            if on_progress is not None:
                on_progress(
                    day + 1,
                    cfg.days,
                    f"day {day + 1}: {total:,} events" if endpoint else f"day {day + 1}",
                )
    finally:
        for fh in files.values():
            fh.close()
        if net_files:
            close_logs(net_files, clock)
    return total


def world_of(result: SimulationResult) -> World:
    """Rebuild the world of a finished simulation (same seed, same sizes)."""
    return build_world(result.config.seed, result.config.hosts, result.config.users)


__all__ = ["LOGS", "SimulationResult", "prepare_out_dir", "simulate", "world_of"]
