"""Benchmark `spearhunt hunt` against the bare read rate and the SQLite (Zircolite) design.

For each input, in the same run:
  a) bare read: evtx `records_json` + orjson.loads (EVTX; the faster of the parser's default
     thread pool and one thread) or orjson.loads per line (JSONL);
  b) `spearhunt hunt` end to end (subprocess, warm rule cache, all SigmaHQ Windows rules);
  c) the Zircolite design: pySigma's sqlite backend, one in-memory SQLite table with every
     field as a column, one query per rule. It runs ~1k events/s, so on inputs larger than
     --baseline-max events it runs on the first --baseline-max events of the EVTX corpus
     (repeated as needed) and its rate is reported from that sample (its cost per event does
     not fall with size, nor with repeated rows: it has no de-duplication).
Prints rates, b/a, b/c and peak RSS of b. Timings on a shared machine vary: compare ratios.

The large inputs (1m, 5m) are, with --input:
  mixed (default): distinct events, no record twice: the shared EVTX corpus (20.8k events),
     the OTRF host logs (119k, JSON Lines as recorded) and the campaign simulator's endpoint
     logs in evtx_dump shape (every host, day and process its own) for the rest;
  evtx / jsonl: the shared EVTX corpus replicated (as files, or as one JSON Lines file): the
     engine runs rules once per distinct row, so replication flatters it (52k distinct rows
     per 1M events).

    python bench/hunt.py                              # shared EVTX corpus + 1M mixed events
    python bench/hunt.py --sizes 5m                   # 5M mixed events (~6 GB in --work)
    python bench/hunt.py --sizes 1m --memory-limit 768MB
"""

from __future__ import annotations

import argparse
import glob
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import evtx
import orjson

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPEARHUNT_DATA", ROOT.parent / "shared" / "data")).resolve()
RULES = DATA / "sigma" / "rules" / "windows"
SIZES = {"1m": 1_000_000, "5m": 5_000_000}


def corpus_files() -> list[str]:
    return sorted(glob.glob(str(DATA / "**" / "*.evtx"), recursive=True))


def corpus_records() -> list[str]:
    out = []
    for f in corpus_files():
        try:
            out.extend(r["data"].replace("\n", "") for r in evtx.PyEvtxParser(f).records_json())
        except (OSError, RuntimeError):
            pass
    return out


def make_evtx_tree(path: Path, n: int) -> int:
    """About n events: the shared EVTX corpus linked into enough folders; returns the count."""
    files = corpus_files()
    per_copy = len(corpus_records())
    copies = max(1, round(n / per_copy))
    if not (path / f"copy{copies - 1:03d}").exists():
        path.mkdir(parents=True, exist_ok=True)
        for c in range(copies):
            d = path / f"copy{c:03d}"
            d.mkdir(exist_ok=True)
            for i, f in enumerate(files):
                link = d / f"{i:04d}.evtx"
                if not link.exists():
                    link.symlink_to(f)
    return copies * per_copy


def make_mixed(path: Path, n: int) -> int:
    """About n distinct events in ``path``: links to the EVTX corpus and the unzipped OTRF host
    logs, and simulated endpoint logs (evtx_dump shape) for the rest; returns the count."""
    marker = path / "events.txt"
    if marker.exists():
        return int(marker.read_text())
    path.mkdir(parents=True, exist_ok=True)
    real = path / "real"
    real.mkdir(exist_ok=True)
    for i, f in enumerate(corpus_files()):
        (real / f"{i:04d}.evtx").symlink_to(f)
    for z in sorted((DATA / "otrf").rglob("*.zip")):
        if "zeek" not in z.name:
            with zipfile.ZipFile(z) as zf:
                zf.extractall(real / "otrf" / z.stem)
    have = len(corpus_records()) + sum(
        sum(1 for _ in p.open("rb")) for p in (real / "otrf").rglob("*.json")
    )
    hosts, days = 200, 14
    sim = path / "simulated"
    noise, made = max(1, (n - have) // (hosts * days)), 0
    for _ in range(3):  # the simulator's volume per host-day varies by role and weekday
        subprocess.run(
            [
                *[sys.executable, "-m", "spearhunt.cli", "-q", "simulate", "--out", str(sim)],
                *["--force", "--only", "endpoint", "--endpoint-format", "evtx-json"],
                *["--hosts", str(hosts), "--days", str(days), "--noise", str(noise)],
            ],
            check=True,
        )
        made = sum(sum(1 for _ in p.open("rb")) for p in sim.rglob("*.jsonl"))
        if abs(have + made - n) < n // 20:
            break
        noise = max(1, round(noise * (n - have) / made))
    total = have + made
    marker.write_text(str(total))
    return total


def mixed_inputs(path: Path) -> list[str]:
    """The event logs of a ``make_mixed`` folder."""
    logs = [*(path / "real").rglob("*.evtx"), *(path / "real").rglob("*.json")]
    return sorted(str(p) for p in [*logs, *(path / "simulated").rglob("*.jsonl")])


def make_jsonl(path: Path, n: int) -> None:
    """n events: the shared EVTX corpus as evtx_dump JSON lines, repeated."""
    if path.exists() and sum(1 for _ in path.open("rb")) == n:
        return
    recs = corpus_records()
    with path.open("w") as fh:
        i = 0
        while i < n:
            for r in recs[: n - i]:
                fh.write(r + "\n")
            i += min(len(recs), n - i)


def bare_read(inputs: list[str], threads: int = 0) -> tuple[int, float]:
    """Events and seconds to read and parse every record (``threads``: the Rust parser's)."""
    t = time.perf_counter()
    n = 0
    loads = orjson.loads
    for p in inputs:
        if p.endswith(".evtx"):
            try:
                for r in evtx.PyEvtxParser(p, threads).records_json():
                    loads(r["data"])
                    n += 1
            except (OSError, RuntimeError):
                pass
        else:
            with open(p, "rb") as fh:
                for line in fh:
                    loads(line)
                    n += 1
    return n, time.perf_counter() - t


def run_hunt(inputs: list[str], out: Path, memory_limit: str | None) -> tuple[float, int, dict]:
    cmd = [
        sys.executable,
        "-m",
        "spearhunt.cli",
        "-q",
        "hunt",
        *inputs,
        "--rules",
        str(RULES),
        "--no-pack",
        "-f",
        "json",
        "-o",
        str(out),
        *(["--memory-limit", memory_limit] if memory_limit else []),
    ]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    dt = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"hunt failed: {cmd}")
    summary = orjson.loads(out.read_bytes())["summary"]
    summary["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return dt, usage.ru_maxrss * 1024, summary


def flatten(obj: dict, out: dict, prefix: str = "") -> None:
    """Zircolite-style flattening of an evtx_dump record into Sigma field names."""
    for k, v in obj.items():
        if isinstance(v, dict):
            if k == "#attributes":
                flatten(v, out, prefix)
            else:
                flatten(
                    v, out, "" if k in ("Event", "System", "EventData", "UserData") else k + "_"
                )
        else:
            out[(prefix + k) if k != "#text" else prefix.rstrip("_")] = v


def sqlite_baseline(records: list[str]) -> tuple[float, int]:
    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection
    from sigma.pipelines.sysmon import sysmon_pipeline
    from sigma.pipelines.windows import windows_logsource_pipeline

    rules = SigmaCollection.load_ruleset([str(RULES)])
    backend = sqliteBackend(sysmon_pipeline() + windows_logsource_pipeline(), collect_errors=True)
    queries = [q for q in backend.convert(rules) if isinstance(q, str)]
    t = time.perf_counter()
    rows = []
    cols: dict[str, None] = {}
    for r in records:
        flat: dict = {}
        flatten(orjson.loads(r), flat)
        rows.append(flat)
        cols.update(dict.fromkeys(k.lower() for k in flat))
    con = sqlite3.connect(":memory:")
    names = list(cols)
    con.execute(
        "CREATE TABLE logs (" + ", ".join(f'"{c}" TEXT COLLATE NOCASE' for c in names) + ")"
    )
    idx = {c: i for i, c in enumerate(names)}
    con.executemany(
        f"INSERT INTO logs VALUES ({', '.join('?' * len(names))})", [_row(f, idx) for f in rows]
    )
    con.create_function("regexp", 2, _regexp, deterministic=True)
    hits = 0
    for q in queries:
        try:
            hits += len(con.execute(q.replace("<TABLE_NAME>", "logs")).fetchall())
        except sqlite3.Error:
            pass
    return time.perf_counter() - t, hits


def _row(flat: dict, idx: dict) -> list:
    row: list = [None] * len(idx)
    for k, v in flat.items():
        ok = v is None or isinstance(v, (str, float)) or (isinstance(v, int) and abs(v) < 2**63)
        row[idx[k.lower()]] = v if ok else str(v)
    return row


def _regexp(pattern: str, value: object) -> bool:
    import re

    return value is not None and re.search(pattern, str(value)) is not None


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="small,1m", help="comma list of small, 1m, 5m")
    ap.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "spearhunt-bench",
        help="folder for the replicated inputs (kept between runs)",
    )
    ap.add_argument(
        "--baseline-max",
        type=int,
        default=50_000,
        help="events the SQLite design runs on, at most (its rate is taken from them)",
    )
    ap.add_argument(
        "--input",
        choices=("mixed", "evtx", "jsonl"),
        default="mixed",
        help="large inputs: distinct real and simulated events (default), or the EVTX corpus "
        "replicated as EVTX files or as JSON Lines",
    )
    ap.add_argument(
        "--memory-limit",
        help="spearhunt hunt's --memory-limit (default: the hunt's own default, auto)",
    )
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if not RULES.exists():
        raise SystemExit(f"shared data not found at {DATA}")
    from spearhunt.detect.engine.memory import describe

    limit = describe(args.memory_limit or "auto")
    print(
        f"spearhunt hunt benchmark, {os.cpu_count()} cores; rules: {RULES}; "
        f"--memory-limit {limit}; large inputs: {args.input}"
    )
    warm = args.work / "warm.json"
    run_hunt(corpus_files()[:1], warm, args.memory_limit)  # fills the compiled-rule cache
    records = None
    print(
        f"{'input':>8} {'events':>10} {'a read/s':>10} {'b hunt/s':>10} {'c sqlite/s':>10} "
        f"{'b/a':>6} {'b/c':>7} {'RSS MB':>8} {'wall s':>7} {'detections':>10}"
    )
    for size in args.sizes.split(","):
        if size == "small":
            inputs = corpus_files()
        elif args.input == "mixed":
            tree = args.work / f"mixed_{size}"
            make_mixed(tree, SIZES[size])
            inputs = mixed_inputs(tree)
        elif args.input == "evtx":
            tree = args.work / f"evtx_{size}"
            make_evtx_tree(tree, SIZES[size])
            inputs = sorted(str(p) for p in tree.rglob("*.evtx"))
        else:
            path = args.work / f"corpus_{size}.jsonl"
            make_jsonl(path, SIZES[size])
            inputs = [str(path)]
        # The faster of the parser's default thread pool and one thread (the engine's choice).
        n_a, t_a = min((bare_read(inputs, threads) for threads in (0, 1)), key=lambda r: r[1])
        t_b, rss, summary = run_hunt(
            inputs
            if size == "small"
            else [str(args.work / f"{args.input}_{size}")]  # the folder, as an analyst would
            if args.input in ("evtx", "mixed")
            else inputs,
            args.work / f"out_{size}.json",
            args.memory_limit,
        )
        n_b = summary["events"]
        if records is None:
            records = corpus_records()
        sample = (records * (args.baseline_max // len(records) + 1))[: min(n_b, args.baseline_max)]
        t_c, _ = sqlite_baseline(sample)
        ra, rb, rc = n_a / t_a, n_b / t_b, len(sample) / t_c
        print(
            f"{size:>8} {n_b:>10,} {ra:>10,.0f} {rb:>10,.0f} {rc:>10,.0f} {rb / ra:>6.2f} "
            f"{rb / rc:>7.1f} {rss / 2**20:>8,.0f} {t_b:>7.1f} {summary['detections']:>10,}"
        )
        eng = summary.get("engine", {})
        print(
            f"{'':>8} CPU {summary['cpu_seconds']:.1f} s on {os.cpu_count()} cores; "
            f"stages (wall s): {eng.get('stages')}"
        )
        print(
            f"{'':>8} engine (s): {eng.get('phases')}, rules on {eng.get('distinct_rows'):,} "
            "distinct rows"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
