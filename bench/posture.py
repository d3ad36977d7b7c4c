"""Posture at scale: the synthetic case of bench/correlate.py (N events over 200 hosts, 10k
detections), correlated (the baseline, same run), then assessed by ``spearhunt posture`` with
every case read (flows, logons, host sources by hour, tampering, process starts) and the rule
pack's coverage, plus N/10 synthetic sign-ins and a 200-host inventory against the real KEV
snapshot when ../shared/data is there. Prints both times and their ratio.

    python bench/posture.py [--events 200000] [--detections 10000]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from spearhunt.correlate.config import CorrelateOptions, load_allowlist
from spearhunt.correlate.run import correlate_store
from spearhunt.ingest.posture.vulns import read_kev
from spearhunt.model.posture import SignIn, Software
from spearhunt.posture.run import assess, load_rule_reach
from spearhunt.store.posture import read_case

KEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kev"


def _build():  # type: ignore[no-untyped-def]
    """bench/correlate.py's case builder (one synthetic case for both figures)."""
    spec = importlib.util.spec_from_file_location(
        "bench_correlate", Path(__file__).with_name("correlate.py")
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=200_000, help="events in the case store")
    ap.add_argument("--detections", type=int, default=10_000, help="detections in the case store")
    args = ap.parse_args()
    t0 = datetime(2026, 3, 2)
    signins = [
        SignIn(
            t0 + timedelta(seconds=i),
            f"user{i % 300}@corp.example",
            f"203.0.113.{i % 250}",
            True,
            "multi" if i % 7 else "single",
            "Exchange",
            "Browser",
            False,
            "entra",
        )
        for i in range(args.events // 10)
    ]
    software = [
        Software(f"host-{h}", name, version, vendor)
        for h in range(200)
        for name, version, vendor in (
            ("Microsoft Office Professional Plus 2016", "16.0.4266.1001", "Microsoft Corporation"),
            ("Microsoft Windows 10 Enterprise", "10.0.19045", "Microsoft"),
            ("Google Chrome", "122.0.6261.112", "Google LLC"),
            ("7-Zip 23.01 (x64)", "23.01", "Igor Pavlov"),
        )
    ]
    kev_file = KEV / "known_exploited_vulnerabilities.json"
    kev = read_kev(kev_file, lambda w: None) if kev_file.exists() else None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.duckdb"
        _build()(path, args.events, args.detections)
        s = time.perf_counter()
        correlate_store(path, CorrelateOptions(allowlist=load_allowlist(None)))
        t_corr = time.perf_counter() - s
        s = time.perf_counter()
        view = read_case(path, ("eqnedt32.exe",))
        t_read = time.perf_counter() - s
        rules = load_rule_reach(())
        s2 = time.perf_counter()
        result = assess(view, None, signins, software, kev, [], None, rules)
        t_assess = time.perf_counter() - s2
        t_post = time.perf_counter() - s
    print(f"case of {args.events:,} events / {args.detections:,} detections on 200 hosts")
    print(f"correlate (baseline)   {t_corr:6.2f}s")
    print(
        f"posture                {t_post:6.2f}s  (case reads {t_read:.2f}s, assessment of "
        f"{len(signins):,} sign-ins, {len(software)} installed items"
        f"{f' x {len(kev):,} KEV entries' if kev else ''} and {len(rules)} rules {t_assess:.2f}s)"
    )
    print(f"posture / correlate    {t_post / t_corr:6.2f}x")
    print("controls: " + ", ".join(f"{c.control} {c.status}" for c in result.controls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
