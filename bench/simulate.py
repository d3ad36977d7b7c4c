"""Benchmark the campaign simulator: records/s and bytes/s on one core.

    PYTHONPATH=src python bench/simulate.py [--scale N] [--hosts N] [--days N] [--noise N]

Prints endpoint events, Zeek records, mails, wall time, and the rates. The issue's bar is
200k events/s generated on one core.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from spearhunt.simulate import SimulationConfig, simulate


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hosts", type=int, default=40)
    ap.add_argument("--users", type=int, default=60)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--noise", type=int, default=200)
    ap.add_argument("--scale", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variant", default="macro+psexec+https")
    args = ap.parse_args()
    cfg = SimulationConfig(seed=args.seed, hosts=args.hosts, users=args.users, days=args.days,
                           noise=args.noise, scale=args.scale, variant=args.variant)
    with tempfile.TemporaryDirectory(prefix="spearhunt-bench-") as tmp:
        started = time.perf_counter()
        cpu0 = time.process_time()
        result = simulate(Path(tmp), cfg)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        size = _size(Path(tmp))
    net = sum(result.network_records.values())
    total = result.endpoint_events + net + result.mails
    print(f"config        hosts={cfg.hosts} days={cfg.days} noise={cfg.noise} scale={cfg.scale}")
    print(f"records       {total:,} (endpoint {result.endpoint_events:,}, zeek {net:,}, "
          f"mail {result.mails:,})")
    print(f"wall / cpu    {wall:.2f} s / {cpu:.2f} s")
    print(f"records/s     {total / cpu:,.0f} per CPU second ({total / wall:,.0f} wall)")
    print(f"endpoint/s    {result.endpoint_events / cpu:,.0f} per CPU second")
    print(f"bytes/s       {size / cpu / 1e6:,.1f} MB per CPU second ({size / 1e6:,.0f} MB written)")


if __name__ == "__main__":
    main()
