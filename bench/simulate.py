"""Benchmark the campaign simulator: events/s, records/s and MB/s on one core.

    python bench/simulate.py [--only SOURCES] [--scale N] [--hosts N] [--days N] [--noise N]
                             [--endpoint-format flat|evtx-json]

Without --only it runs the simulation twice, each in a fresh interpreter: with all sources
(endpoint, Zeek, mail), then with the endpoint logs only (``--only endpoint``: Zeek and mail
are not generated at all), and prints both. The issue's bar is 200k endpoint events generated
per second on one core; the endpoint-only run measures exactly that, the first run what a full
simulation costs. With --only it runs those sources once, in this interpreter.

For each run: endpoint events, Zeek records, mails, CPU and wall time, and the rates per CPU
second. The default load is about a million endpoint events. Wall-clock varies on a shared
machine, so each run also times a baseline in the same process: ``orjson.dumps`` of as many
ready event dicts as the simulation wrote endpoint events (sampled from its own output). The
ratio simulate/baseline is comparable across runs and machines where the absolute rates are
not.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from spearhunt.errors import SimulateError
from spearhunt.simulate import SOURCES, SimulationConfig, parse_sources, simulate

SAMPLE = 20_000


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _sample(folder: Path) -> list[dict[str, Any]]:
    """Up to SAMPLE endpoint events as dicts, taken across hosts."""
    events: list[dict[str, Any]] = []
    files = sorted((folder / "endpoint").glob("*.jsonl"))
    per_file = SAMPLE // max(len(files), 1) + 1
    for path in files:
        with path.open("rb") as fh:
            for _, line in zip(range(per_file), fh, strict=False):
                events.append(orjson.loads(line))
    return events


def _baseline(events: list[dict[str, Any]], n: int) -> float:
    """CPU seconds to ``orjson.dumps`` ``n`` ready dicts (cycling through ``events``)."""
    dumps = orjson.dumps
    rounds, rest = divmod(n, len(events))
    cpu0 = time.process_time()
    for _ in range(rounds):
        for ev in events:
            dumps(ev)
    for ev in events[:rest]:
        dumps(ev)
    return time.process_time() - cpu0


def _measure(cfg: SimulationConfig) -> dict[str, Any]:
    """Run one simulation and its baseline; the figures as plain values."""
    with tempfile.TemporaryDirectory(prefix="spearhunt-bench-") as tmp:
        started = time.perf_counter()
        cpu0 = time.process_time()
        result = simulate(Path(tmp), cfg)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        size = _size(Path(tmp))
        sample = _sample(Path(tmp))
    ep = result.endpoint_events
    return {
        "sources": list(cfg.sources),
        "endpoint": ep,
        "zeek": sum(result.network_records.values()),
        "mails": result.mails,
        "cpu": cpu,
        "wall": wall,
        "bytes": size,
        "baseline": _baseline(sample, ep) if sample else None,
    }


def _report(fig: dict[str, Any]) -> None:
    ep, cpu, wall, base = fig["endpoint"], fig["cpu"], fig["wall"], fig["baseline"]
    total = ep + fig["zeek"] + fig["mails"]
    print(f"sources       {', '.join(fig['sources'])}")
    print(f"records       {total:,} (endpoint {ep:,}, zeek {fig['zeek']:,}, mail {fig['mails']:,})")
    print(f"wall / cpu    {wall:.2f} s / {cpu:.2f} s")
    if ep:
        print(
            f"endpoint/s    {ep / cpu:,.0f} endpoint events per CPU second ({ep / wall:,.0f} wall)"
        )
    print(f"records/s     {total / cpu:,.0f} records per CPU second ({total / wall:,.0f} wall)")
    print(
        f"MB/s          {fig['bytes'] / cpu / 1e6:,.1f} MB per CPU second "
        f"({fig['bytes'] / 1e6:,.0f} MB written)"
    )
    if base:
        print(
            f"baseline      orjson.dumps of {ep:,} ready event dicts: {base:.2f} s CPU "
            f"({ep / base:,.0f}/s)"
        )
        print(
            f"ratio         simulate / baseline = {cpu / base:.2f} (CPU time for the whole "
            f"simulation over CPU time to only serialize its endpoint events)"
        )


def main() -> None:
    """Run the simulation (all sources, then endpoint only; or the --only sources) and print
    the figures."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--hosts", type=int, default=40, help="hosts in the simulated network")
    ap.add_argument("--users", type=int, default=60, help="users in the simulated network")
    ap.add_argument("--days", type=int, default=7, help="days simulated")
    ap.add_argument(
        "--noise", type=int, default=200, help="benign endpoint events per host and day"
    )
    ap.add_argument("--scale", type=int, default=25, help="multiplier of the office noise")
    ap.add_argument("--seed", type=int, default=1, help="random seed")
    ap.add_argument("--variant", default="macro+psexec+https", help="the intrusion's variant")
    ap.add_argument(
        "--endpoint-format",
        default="flat",
        choices=("flat", "evtx-json"),
        help="shape of the endpoint events",
    )
    ap.add_argument(
        "--only",
        action="append",
        help=f"sources to generate ({', '.join(SOURCES)}; repeat or comma list); "
        "one run instead of the two",
    )
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # for the children
    args = ap.parse_args()
    extra = {} if args.endpoint_format == "flat" else {"endpoint_format": args.endpoint_format}
    try:
        cfg = SimulationConfig(
            seed=args.seed,
            hosts=args.hosts,
            users=args.users,
            days=args.days,
            noise=args.noise,
            scale=args.scale,
            variant=args.variant,
            sources=parse_sources(args.only),
            **extra,
        )
        cfg.validate()
    except SimulateError as exc:
        ap.error(str(exc))
    if args.json:
        print(orjson.dumps(_measure(cfg)).decode())
        return
    print(
        f"config        hosts={cfg.hosts} days={cfg.days} noise={cfg.noise} scale={cfg.scale} "
        f"endpoint-format={args.endpoint_format}"
    )
    if args.only:
        _report(_measure(cfg))
        return
    # Each run in a fresh interpreter: neither inherits the tables the other warmed up.
    forward = [a for a in sys.argv[1:] if a != "--json"]
    figures = []
    for sources in (",".join(SOURCES), "endpoint"):
        child = subprocess.run(
            [sys.executable, __file__, *forward, "--only", sources, "--json"],
            check=False,
            capture_output=True,
            text=True,
        )
        if child.returncode:
            sys.exit(child.stderr)
        figures.append(orjson.loads(child.stdout.strip().splitlines()[-1]))
    for fig in figures:
        print()
        _report(fig)
    full, alone = figures
    print()
    print(
        f"summary       endpoint events per CPU second: {full['endpoint'] / full['cpu']:,.0f} "
        f"with all sources, {alone['endpoint'] / alone['cpu']:,.0f} endpoint only "
        f"(bar: 200,000); ratios {full['cpu'] / full['baseline']:.2f} and "
        f"{alone['cpu'] / alone['baseline']:.2f}"
    )


if __name__ == "__main__":
    main()
