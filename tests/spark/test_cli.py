"""The commands around the Spark engine: ingest, convert, hunt --engine spark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import orjson
import pytest

from spearhunt.cli.main import run

pytestmark = pytest.mark.spark

PACK_CASE = {
    "EventID": 1,
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Provider_Name": "Microsoft-Windows-Sysmon",
    "Computer": "ws1",
    "TimeCreated": "2024-05-01T10:00:00Z",
    "Image": "C:\\Windows\\System32\\cmd.exe",
    "ParentImage": "C:\\Program Files\\Microsoft Office\\WINWORD.EXE",
    "CommandLine": "cmd.exe /c whoami",
}


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "ws1.jsonl"
    benign = {**PACK_CASE, "ParentImage": "C:\\Windows\\explorer.exe", "EventRecordID": 2}
    path.write_bytes(
        orjson.dumps({**PACK_CASE, "EventRecordID": 1}) + b"\n" + orjson.dumps(benign) + b"\n"
    )
    return path


def test_ingest_writes_partitioned_parquet_with_documented_columns(events, tmp_path):
    out = tmp_path / "ds"
    assert run(["-q", "ingest", str(events), "--to-parquet", str(out)]) == 0
    assert run(["-q", "ingest", str(events), "--to-parquet", str(out)]) == 0  # appends
    dirs = {p.relative_to(out).parent.as_posix() for p in out.rglob("*.parquet")}
    assert dirs == {"p_computer=ws1/p_channel=microsoft-windows-sysmon_operational/day=2024-05-01"}
    rows = duckdb.sql(
        f"SELECT eid, channel, computer FROM read_parquet('{out}/**/*.parquet', "
        "hive_partitioning = false) ORDER BY eid"
    ).fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 4]  # the second run continued the keys
    assert rows[0][1:] == ("Microsoft-Windows-Sysmon/Operational", "ws1")


def test_convert_writes_one_sql_file_per_rule_variant_that_duckdb_runs(events, tmp_path):
    out = tmp_path / "sql"
    ds = tmp_path / "ds"
    assert run(["-q", "ingest", str(events), "--to-parquet", str(ds)]) == 0
    assert (
        run(
            [
                "-q",
                "convert",
                "--dialect",
                "duckdb",
                "--rules",
                str(Path(__file__).parents[2] / "src/spearhunt/detect/sigma/pack"),
                "--no-pack",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    files = sorted(out.glob("*.sql"))
    assert (out / "_view.sql").exists() and len(files) > 16
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW events AS SELECT * FROM read_parquet('{ds}/**/*.parquet', hive_partitioning = false)"
    )
    con.execute((out / "_view.sql").read_text())
    hits = {
        f.name for f in files if f.name != "_view.sql" and con.execute(f.read_text()).fetchall()
    }
    assert any("sysmon" in h for h in hits), hits


def test_convert_spark_sql_runs_in_spark_over_the_ingested_parquet(events, tmp_path, spark):
    from pyspark.sql import functions as F

    out, ds = tmp_path / "sql", tmp_path / "ds"
    assert run(["-q", "ingest", str(events), "--to-parquet", str(ds)]) == 0
    assert (
        run(
            [
                "-q",
                "convert",
                "--dialect",
                "spark",
                "--rules",
                str(Path(__file__).parents[2] / "src/spearhunt/detect/sigma/pack"),
                "--no-pack",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    spark.read.parquet(str(ds)).createOrReplaceTempView("events")
    spark.sql((out / "_view.sql").read_text().rstrip().rstrip(";"))
    frames = [
        spark.sql(f.read_text().rstrip().rstrip(";")).withColumn("f", F.lit(f.name))
        for f in sorted(out.glob("*.sql"))
        if f.name != "_view.sql"
    ]
    union = frames[0]
    for df in frames[1:]:
        union = union.unionByName(df)
    hits = {r["f"] for r in union.select("f").distinct().collect()}
    assert any("sysmon" in h for h in hits), hits


def test_hunt_engine_spark_writes_the_same_jsonl_as_duckdb(events, tmp_path, spark):
    ds = tmp_path / "ds"
    assert run(["-q", "ingest", str(events), "--to-parquet", str(ds)]) == 0
    duck_out, spark_out = tmp_path / "duck.jsonl", tmp_path / "spark.jsonl"
    assert run(["-q", "hunt", str(events), "-f", "jsonl", "-o", str(duck_out)]) == 0
    assert (
        run(
            [
                "-q",
                "hunt",
                "--engine",
                "spark",
                "--spark-master",
                "local[2]",
                str(ds),
                "-f",
                "jsonl",
                "-o",
                str(spark_out),
            ]
        )
        == 0
    )
    duck_rows = [json.loads(x) for x in duck_out.read_text().splitlines()]
    spark_rows = [json.loads(x) for x in spark_out.read_text().splitlines()]
    assert duck_rows, "the pack rule must fire"
    for r in duck_rows + spark_rows:
        r.pop("source")
    assert spark_rows == duck_rows


def test_hunt_engine_spark_refuses_evtx_with_the_ingest_command(tmp_path):
    f = tmp_path / "x.evtx"
    f.write_bytes(b"ElfFile\x00" + b"\x00" * 100)
    assert run(["hunt", "--engine", "spark", str(f)]) == 2


def test_without_pyspark_engine_spark_says_how_to_install(events, tmp_path):
    code = (
        "import sys; sys.modules['pyspark'] = None\n"
        "from spearhunt.cli.main import run\n"
        f"sys.exit(run(['hunt', '--engine', 'spark', {str(events)!r}]))"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(Path(__file__).parents[2] / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert p.returncode == 1
    assert "pip install 'spearhunt[spark]'" in p.stderr
    assert "Traceback" not in p.stderr


def test_hunt_engine_spark_counts_files_not_arguments(events, tmp_path, spark):
    ds = tmp_path / "ds"
    assert run(["-q", "ingest", str(events), "--to-parquet", str(ds)]) == 0
    parquet = list(ds.rglob("*.parquet"))
    folder = tmp_path / "json"
    folder.mkdir()
    for name in ("a.jsonl", "b.jsonl"):
        (folder / name).write_bytes(events.read_bytes())
    out = tmp_path / "out.json"
    args = ["-q", "hunt", "--engine", "spark", str(ds), str(folder), "-f", "json", "-o", str(out)]
    assert run(args) == 0
    assert json.loads(out.read_text())["summary"]["files"] == len(parquet) + 2


def test_quiet_spark_keeps_the_jvm_log_to_errors_and_the_users_java_options():
    from spearhunt.cli.hunt import QUIET_LOG4J, quiet_spark

    conf = quiet_spark([("spark.driver.extraJavaOptions", "-Xss4m"), ("a", "b")])
    assert ("a", "b") in conf
    [opts] = [v for k, v in conf if k == "spark.driver.extraJavaOptions"]
    assert opts.endswith(" -Xss4m") and QUIET_LOG4J.as_uri() in opts
    assert "filter.threshold.level = error" in QUIET_LOG4J.read_text()


def test_spark_like_duckdb_keeps_helper_rules_of_correlations_out_of_the_output(tmp_path, spark):
    # An elevated network logon feeds the pack's fan-out correlation ('generate: false'):
    # both engines store it for the correlation and neither reports it as a detection.
    logon = {
        "EventID": 4624,
        "Channel": "Security",
        "Provider_Name": "Microsoft-Windows-Security-Auditing",
        "Computer": "ws2",
        "TimeCreated": "2024-05-01T10:00:00Z",
        "EventRecordID": 7,
        "LogonType": 3,
        "ElevatedToken": "%%1842",
        "TargetUserName": "adm-jdoe",
        "IpAddress": "10.0.0.9",
    }
    events = tmp_path / "logon.jsonl"
    events.write_bytes(orjson.dumps(logon) + b"\n" + orjson.dumps(PACK_CASE) + b"\n")
    ds = tmp_path / "ds"
    assert run(["-q", "ingest", str(events), "--to-parquet", str(ds)]) == 0
    outs = {}
    for name, args in (("duckdb", [str(events)]), ("spark", ["--engine", "spark", str(ds)])):
        store, out = tmp_path / f"{name}.duckdb", tmp_path / f"{name}.json"
        argv = ["-q", "hunt", *args, "-f", "json", "-o", str(out), "--store", str(store)]
        assert run(argv) == 0
        doc = json.loads(out.read_text())
        with duckdb.connect(str(store), read_only=True) as con:
            stored = {r[0] for r in con.execute("SELECT rule_title FROM detections").fetchall()}
        outs[name] = ({d["rule_title"] for d in doc["detections"]}, doc["summary"], stored)
    (duck_out, duck_sum, duck_stored), (spark_out, spark_sum, spark_stored) = outs.values()
    assert "Elevated Remote Logon" in duck_stored and "Elevated Remote Logon" in spark_stored
    assert "Elevated Remote Logon" not in duck_out | spark_out
    assert duck_out == spark_out and duck_out  # the Office child shell still fires
    assert duck_sum["detections"] == spark_sum["detections"] == len(duck_out)
