"""Does `spearhunt hunt --memory-limit` hold? Peak RSS at several limits, against the fixed
overhead measured in the same run.

The fixed overhead is the peak RSS of the same hunt (same rules) over one small EVTX file:
interpreter, libraries, compiled rules. For each limit the script prints the peak RSS of a
hunt over the input, what it holds beyond the limit, and that excess over the fixed overhead
(1.0 or less: the limit holds, with only the fixed overhead on top).

The input is the OTRF host logs of the shared data (unzipped once into --work), or --input.

    python bench/memory.py                          # 256MB, 512MB, 768MB
    python bench/memory.py --limits 384MB,1GB --input /data/logs
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPEARHUNT_DATA", ROOT.parent / "shared" / "data")).resolve()
RULES = DATA / "sigma" / "rules" / "windows"
SPEARHUNT = [sys.executable, "-c", "from spearhunt.cli.main import entry; entry()"]


def otrf_logs(work: Path) -> Path:
    """The OTRF host-log archives of the shared data, unzipped (kept between runs)."""
    out = work / "otrf"
    if not out.exists():
        for z in sorted((DATA / "otrf").rglob("*.zip")):
            if "zeek" not in z.name:
                with zipfile.ZipFile(z) as zf:
                    zf.extractall(out / z.stem)
    return out


def peak_rss(args: list[str]) -> tuple[int, float, int]:
    """(peak RSS in bytes, wall seconds, exit code) of one `spearhunt` run."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        [*SPEARHUNT, "-q", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code:
        print(f"   (rc {code}: {err.strip().splitlines()[-1] if err.strip() else ''})")
    return usage.ru_maxrss * 1024, time.perf_counter() - t, code


def size(text: str) -> int:
    from spearhunt.detect.engine.memory import parse_memory

    return parse_memory(text)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--limits", default="256MB,512MB,768MB", help="comma list of --memory-limit")
    ap.add_argument("--input", type=Path, help="event logs to hunt (default: OTRF host logs)")
    ap.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "spearhunt-bench-memory",
        help="folder for the unzipped OTRF logs (kept between runs)",
    )
    args = ap.parse_args()
    data = args.input or otrf_logs(args.work)
    small = sorted((DATA / "evtx-attack-samples" / "Discovery").glob("*.evtx"))[0]
    common = ["-r", str(RULES), "-f", "jsonl", "-o", os.devnull]
    subprocess.run(  # warm the compiled-rule cache: compiling is not what is measured
        [*SPEARHUNT, "-q", "hunt", str(small), *common], check=True
    )
    base, _, _ = peak_rss(["hunt", str(small), *common])
    mb = 1e6
    print(f"spearhunt hunt memory, {os.cpu_count()} cores; rules: {RULES}; input: {data}")
    print(f"fixed overhead (same rules, one small file): {base / mb:,.0f} MB")
    print(f"{'limit':>8} {'peak MB':>9} {'over limit':>11} {'over/fixed':>11} {'wall s':>7}")
    for text in args.limits.split(","):
        peak, wall, code = peak_rss(["hunt", str(data), *common, "--memory-limit", text])
        over = peak - size(text)
        flag = "" if code == 0 else "  FAILED"
        print(
            f"{text:>8} {peak / mb:>9,.0f} {over / mb:>11,.0f} {over / base:>11.2f} {wall:>7.1f}"
            f"{flag}"
        )


if __name__ == "__main__":
    main()
