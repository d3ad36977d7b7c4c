"""What the case store's integrity costs: a hunt --store records each input file by size and
SHA-256 (so the same file is never ingested twice), and a second run over the same file
only hashes it. Writes a JSON Lines log of N Sysmon-like events, then in the same run times
hashing the file, a hunt --store of it (the baseline: the whole run, hashing included) and
a second hunt --store of it (skipped), and prints the ratios.

    python bench/store.py [--events 300000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import orjson

from spearhunt.detect.hunt import HuntOptions, hunt
from spearhunt.store.runs import identify


def write_log(path: Path, events: int) -> None:
    with path.open("wb") as fh:
        for i in range(events):
            fh.write(
                orjson.dumps(
                    {
                        "EventID": 1,
                        "Channel": "Microsoft-Windows-Sysmon/Operational",
                        "Provider_Name": "Microsoft-Windows-Sysmon",
                        "Computer": f"ws-{i % 200:03d}.corp.example",
                        "TimeCreated": f"2026-03-02T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:"
                        f"{i % 60:02d}Z",
                        "EventRecordID": i,
                        "Image": "C:\\Windows\\System32\\cmd.exe",
                        "CommandLine": f"cmd.exe /c echo job {i}",
                        "ParentImage": "C:\\Windows\\explorer.exe",
                        "User": f"CORP\\user{i % 300}",
                        "ProcessGuid": f"{{{i:08x}-0000-0000-0000-000000000000}}",
                    }
                )
                + b"\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python bench/store.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--events", type=int, default=300_000, help="events in the generated log (default 300k)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spearhunt-bench-") as tmp:
        log = Path(tmp) / "sysmon.jsonl"
        write_log(log, args.events)
        size = log.stat().st_size
        t0 = time.perf_counter()
        identify(log)
        t_hash = time.perf_counter() - t0
        store = Path(tmp) / "case.duckdb"
        t0 = time.perf_counter()
        first = hunt(HuntOptions(paths=[str(log)], store=store), None)
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = hunt(HuntOptions(paths=[str(log)], store=store), None)
        t_again = time.perf_counter() - t0
    print(f"log: {args.events:,} events, {size / 1e6:,.0f} MB")
    print(f"hunt --store (baseline):    {t_first:6.2f} s, {first.events:,} events stored")
    print(f"SHA-256 of the file:        {t_hash:6.2f} s = {t_hash / t_first:.1%} of the baseline")
    print(
        f"hunt --store again:         {t_again:6.2f} s = {t_again / t_first:.1%} of the baseline, "
        f"{again.events:,} events (skipped: {len(again.warnings)} warning)"
    )


if __name__ == "__main__":
    main()
