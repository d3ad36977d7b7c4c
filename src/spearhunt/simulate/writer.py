"""Run a simulation: build the world, plan the campaign, stream noise day by day, write files."""

from __future__ import annotations

import gc
import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spearhunt.errors import SimulateError
from spearhunt.simulate.clock import Clock
from spearhunt.simulate.config import SimulationConfig, Variant, parse_variant
from spearhunt.simulate.context import Sim
from spearhunt.simulate.endpoint import write_lines
from spearhunt.simulate.noise import NAMES, noise_day
from spearhunt.simulate.world import World, build_world
from spearhunt.simulate.zeek import LOGS, close_logs, open_logs

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int | None, str], None]


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """What a simulation wrote and where: paths, counts per source, the variant and truth."""

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


def prepare_out_dir(out_dir: Path, *, force: bool) -> None:
    """Create ``out_dir``; refuse a non-empty one unless ``force`` (then clear what we own)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SimulateError("exists and is not a folder", where=str(out_dir))
    if out_dir.exists() and any(out_dir.iterdir()):
        if not force:
            raise SimulateError("folder is not empty (use --force to overwrite)", where=str(out_dir))
        for sub in ("mail", "endpoint", "network"):
            folder = out_dir / sub
            if folder.is_dir():
                for child in folder.iterdir():
                    if child.is_file():
                        child.unlink()
        for name in ("truth.json", "README.txt"):
            (out_dir / name).unlink(missing_ok=True)
    for sub in ("mail", "endpoint", "network"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)


def simulate(out_dir: Path | str, config: SimulationConfig | None = None, *,
             force: bool = False, on_progress: ProgressFn | None = None) -> SimulationResult:
    """Write a complete simulated intrusion into ``out_dir`` and return what was written."""
    cfg = config or SimulationConfig()
    cfg.validate()
    out = Path(out_dir)
    prepare_out_dir(out, force=force)
    variant = parse_variant(cfg.variant, random.Random(f"variant:{cfg.seed}"))
    world = build_world(cfg.seed, cfg.hosts, cfg.users)
    clock = Clock(cfg.start, cfg.days)
    sim = Sim(cfg, world, clock)
    sim.ext.reserve(NAMES)
    from spearhunt.simulate.campaign import plan_campaign
    from spearhunt.simulate.mail import write_mail
    from spearhunt.simulate.truth import build_truth, write_readme, write_truth

    campaign = plan_campaign(sim, variant)
    mails = write_mail(sim, campaign, out / "mail")
    with _gc_paused():
        endpoint_events = _write_logs(sim, out, on_progress)
    truth = build_truth(sim, campaign, variant, mails)
    paths = {"mail": out / "mail", "endpoint": out / "endpoint", "network": out / "network",
             "truth": out / "truth.json", "readme": out / "README.txt"}
    write_truth(truth, paths["truth"])
    write_readme(sim, variant, paths["readme"])
    return SimulationResult(
        out_dir=out, config=cfg, variant=variant, endpoint_events=endpoint_events,
        network_records=dict(sim.net.counts) if sim.net is not None else {}, mails=mails.total,
        malicious_mails=mails.malicious, paths=paths, truth=truth,
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


def _write_logs(sim: Sim, out: Path, on_progress: ProgressFn | None) -> int:
    cfg, clock = sim.cfg, sim.clock
    per_day = cfg.noise * cfg.scale
    states = list(sim.hosts.values())
    files = {name: (out / "endpoint" / f"{name}.jsonl").open("wb") for name in sim.hosts}
    net_files = open_logs(out / "network", clock)
    total = 0
    try:
        for day in range(cfg.days):
            for hs in states:
                noise_day(sim, hs, day, per_day,
                          random.Random(f"{cfg.seed}:noise:{hs.host.name}:{day}"))
            until = clock.day_start(day + 1) if day < cfg.days - 1 else None
            for hs in states:
                lines = hs.log.finalize(until)
                write_lines(files[hs.host.name], lines)
                total += len(lines)
            if sim.net is not None:
                sim.net.flush(net_files, until)
            if on_progress is not None:
                on_progress(day + 1, cfg.days, f"day {day + 1}: {total:,} events")
    finally:
        for fh in files.values():
            fh.close()
        close_logs(net_files, clock)
    return total


def world_of(result: SimulationResult) -> World:
    """Rebuild the world of a finished simulation (same seed, same sizes)."""
    return build_world(result.config.seed, result.config.hosts, result.config.users)


__all__ = ["LOGS", "SimulationResult", "prepare_out_dir", "simulate", "world_of"]
