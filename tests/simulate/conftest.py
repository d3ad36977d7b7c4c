"""Simulations shared by the simulator tests: one per variant of a covering set, plus seeds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
import pytest

from spearhunt.simulate import SimulationConfig, SimulationResult, all_variants, simulate

SMALL = {"hosts": 10, "users": 14, "days": 5, "noise": 40}
VARIANTS = [v.name for v in all_variants()]


def read_zeek(path: Path) -> tuple[list[str], list[dict[str, str]], list[str]]:
    """(fields, rows, header lines) of a Zeek TSV log."""
    fields: list[str] = []
    rows: list[dict[str, str]] = []
    header: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            header.append(line)
            if line.startswith("#fields\t"):
                fields = line.split("\t")[1:]
            continue
        values = line.split("\t")
        assert len(values) == len(fields), f"{path.name}: {len(values)} columns, want {len(fields)}"
        rows.append(dict(zip(fields, values, strict=True)))
    return fields, rows, header


@dataclass
class Sim:
    """A finished simulation with lazy readers for its files."""

    result: SimulationResult

    @property
    def out(self) -> Path:
        return self.result.out_dir

    @property
    def truth(self) -> dict[str, Any]:
        return self.result.truth

    @cached_property
    def endpoint(self) -> dict[str, list[dict[str, Any]]]:
        return {
            p.stem: [orjson.loads(line) for line in p.read_bytes().splitlines()]
            for p in sorted((self.out / "endpoint").glob("*.jsonl"))
        }

    @cached_property
    def by_id(self) -> dict[str, dict[str, Any]]:
        return {ev["SpearhuntEventId"]: ev for evs in self.endpoint.values() for ev in evs}

    @cached_property
    def zeek(self) -> dict[str, list[dict[str, str]]]:
        return {
            name: read_zeek(self.out / "network" / f"{name}.log")[1]
            for name in ("conn", "dns", "http", "ssl")
        }

    def events(self, host: str, **match: Any) -> Iterator[dict[str, Any]]:
        for ev in self.endpoint[host]:
            if all(ev.get(k) == v for k, v in match.items()):
                yield ev

    @property
    def malicious_ids(self) -> set[str]:
        return {e["id"] for e in self.truth["events"]}


def run(tmp: Path, **kw: Any) -> Sim:
    cfg = SimulationConfig(**{**SMALL, **kw})
    return Sim(simulate(tmp, cfg))


CASES = [(11, name) for name in VARIANTS] + [(seed, None) for seed in (1, 2, 3)]


@pytest.fixture(scope="session", params=CASES, ids=[f"{s}-{v or 'seeded'}" for s, v in CASES])
def any_sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Sim:
    """Small simulations: one per variant of the covering set, and a few seeds."""
    seed, variant = request.param
    return run(tmp_path_factory.mktemp("sim"), seed=seed, variant=variant)
