"""Report rendering at scale: a case store with N detections (default 10k) over 300 hosts and
15 large stories (tests/report/cases.py builds it directly), then every report format.
Prints the time of each step and the size of each file; the bar is HTML < 10 s and < 10 MB.

    python bench/report.py [--detections 10000] [--stories 15]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.report.cases

from tests.report.cases import large_case

from spearhunt.report.render import write_report


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--detections", type=int, default=10_000, help="detections in the case")
    ap.add_argument("--stories", type=int, default=15, help="stories in the case")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="spearhunt-bench-report-") as tmp:
        store = Path(tmp) / "case.duckdb"
        t0 = time.perf_counter()
        large_case(store, detections=args.detections, stories=args.stories)
        print(
            f"built case: {args.detections:,} detections, {args.stories} stories in {time.perf_counter() - t0:.1f}s"
        )
        html = write_report(store, Path(tmp) / "html", ("html",))
        size = html.files[0][1].stat().st_size
        print(f"html only:   {html.seconds:6.2f}s  {size / 1e6:6.2f} MB  (bar: < 10 s, < 10 MB)")
        every = write_report(store, Path(tmp) / "all")
        print(f"all formats: {every.seconds:6.2f}s")
        for fmt, path in every.files:
            print(f"  {fmt:<10} {path.name:<32} {path.stat().st_size / 1e6:8.2f} MB")
        ok = html.seconds < 10 and size < 10_000_000
        print("bar met" if ok else "BAR MISSED")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
