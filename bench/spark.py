"""Spark local[2] vs DuckDB on the same Parquet dataset, all SigmaHQ Windows rules.

The dataset is the shared EVTX corpus ingested once (`spearhunt ingest --to-parquet`) and
replicated with fresh event keys up to --events (1M by default). Both engines read the same
files and must report the same number of detections; the script prints events/s of each and
their ratio. Spark's start-up (JVM, session) is reported apart from its hunt.

    python bench/spark.py                      # 1M events
    python bench/spark.py --events 200000      # quicker
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DATA = Path(os.environ.get("SPEARHUNT_DATA", ROOT.parent / "shared" / "data")).resolve()

from spearhunt.detect.engine.duck import DuckEngine  # noqa: E402
from spearhunt.detect.engine.parquet import (  # noqa: E402
    PARQUET_COLUMNS,
    add_parquet,
    ingest_to_parquet,
    partition_value,
)
from spearhunt.detect.sigma.compiler import RuleCompiler, find_rule_files  # noqa: E402


def make_dataset(work: Path, events: int) -> Path:
    """The corpus as Parquet, replicated to ``events`` events (cached in ``work``)."""
    out = work / f"events-{events}"
    if out.exists():
        return out
    base = work / "corpus"
    if not base.exists():
        files = sorted(str(f) for f in DATA.rglob("*.evtx"))
        ingest_to_parquet(files, base, on_warning=lambda w: None)
    src = f"read_parquet('{base}/**/*.parquet', hive_partitioning = false)"
    n = duckdb.sql(f"SELECT count(*), max(eid) FROM {src}").fetchall()[0]
    copies = -(-events // n[0])
    cols = ", ".join(
        "eid + c * " + str(n[1]) + " AS eid" if c == "eid" else c for c, _, _ in PARQUET_COLUMNS
    )
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{work}'")
    con.execute(
        f"COPY (SELECT * FROM (SELECT {cols}, {partition_value('computer')} AS p_computer, "
        f"{partition_value('channel')} AS p_channel, coalesce(strftime(ts, '%Y-%m-%d'), '_unknown') AS day "
        f"FROM {src}, range({copies}) r(c)) ORDER BY eid LIMIT {events}) TO '{out}' "
        "(FORMAT PARQUET, PARTITION_BY (p_computer, p_channel, day), COMPRESSION ZSTD)"
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=1_000_000, help="events in the dataset")
    ap.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "spearhunt-bench-spark",
        help="folder for the Parquet dataset (kept between runs)",
    )
    ap.add_argument("--master", default="local[2]", help="Spark master URL")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    ds = make_dataset(args.work, args.events)
    print(f"dataset {ds} ({args.events:,} events) ready in {time.perf_counter() - t:.1f}s")
    rules = (
        RuleCompiler().compile_all(find_rule_files([DATA / "sigma" / "rules" / "windows"])).rules
    )
    print(f"{len(rules):,} rules")

    t = time.perf_counter()
    eng = DuckEngine(rules, on_warning=lambda w: None)
    add_parquet(eng, ds)
    eng.run_rules()
    duck_n = sum(1 for _ in eng.detections())
    duck_s = time.perf_counter() - t
    duck_rate = eng.stats.events / duck_s
    print(
        f"DuckDB : {eng.stats.events:,} events, {duck_n:,} detections in {duck_s:.1f}s "
        f"= {duck_rate:,.0f} events/s"
    )

    from spearhunt.detect.engine.spark import SparkEngine, read_events, session

    t = time.perf_counter()
    spark = session(args.master, {"spark.sql.shuffle.partitions": "4"}, app_name="spearhunt-bench")
    spark.sparkContext.setLogLevel("ERROR")
    start_s = time.perf_counter() - t
    t = time.perf_counter()
    seng = SparkEngine(spark, rules)
    hits = seng.run(read_events(spark, [str(ds)]))
    spark_n = sum(1 for _ in seng.detections(hits))
    spark_s = time.perf_counter() - t
    spark_rate = seng.stats.events / spark_s
    print(
        f"Spark  : {seng.stats.events:,} events, {spark_n:,} detections in {spark_s:.1f}s "
        f"= {spark_rate:,.0f} events/s ({args.master}; session start {start_s:.1f}s not counted; "
        f"{seng.stats.queries} queries, planning {seng.stats.seconds_plan:.1f}s)"
    )
    print(
        f"ratio Spark/DuckDB events/s: {spark_rate / duck_rate:.3f}"
        f"  (detections {'equal' if spark_n == duck_n else 'DIFFER'}: {spark_n:,} / {duck_n:,})"
    )
    spark.stop()


if __name__ == "__main__":
    main()
