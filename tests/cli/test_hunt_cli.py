"""`spearhunt hunt` and `spearhunt rules check` as a user runs them."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import duckdb
import orjson
import pytest

from spearhunt.cli.main import run

SYSMON = {
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Provider_Name": "Microsoft-Windows-Sysmon",
}
RULE = """
title: Test Whoami
id: 22222222-2222-2222-2222-222222222222
status: test
level: high
tags: [attack.discovery, attack.t1033]
logsource: {category: process_creation, product: windows}
detection:
  sel: {Image|endswith: '\\\\whoami.exe'}
  condition: sel
"""


@pytest.fixture
def case(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "whoami.yml").write_text(RULE)
    (rules / "broken.yml").write_text("title: x\ndetection: [unclosed\n")
    events = [
        {
            **SYSMON,
            "EventID": 1,
            "Computer": '=HYPERLINK("http://x.example")',
            "TimeCreated": "2024-05-01T10:00:05Z",
            "EventRecordID": 2,
            "Image": "C:\\Windows\\System32\\whoami.exe",
            "CommandLine": "=cmd|' /C calc'!A0",
        },
        {
            **SYSMON,
            "EventID": 1,
            "Computer": "ws1",
            "TimeCreated": "2024-05-01T10:00:01Z",
            "EventRecordID": 1,
            "Image": "C:\\Windows\\System32\\whoami.exe",
            "CommandLine": "whoami /all",
        },
        {
            **SYSMON,
            "EventID": 1,
            "Computer": "ws1",
            "TimeCreated": "2024-05-01T11:00:00Z",
            "EventRecordID": 3,
            "Image": "C:\\Windows\\notepad.exe",
        },
    ]
    (tmp_path / "events.jsonl").write_bytes(
        b"\n".join(orjson.dumps(e) for e in events) + b"\nnot json\n"
    )
    return tmp_path


def hunt(case: Path, *extra: str) -> int:
    return run(
        [
            "-q",
            "hunt",
            str(case / "events.jsonl"),
            "--rules",
            str(case / "rules"),
            "--no-pack",
            *extra,
        ]
    )


def test_jsonl_output_contract_sorted_by_time(case, capsys):
    assert hunt(case, "-f", "jsonl") == 0
    lines = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [d["computer"] for d in lines] == ["ws1", '=HYPERLINK("http://x.example")']
    d = lines[0]
    for key in (
        "rule_id",
        "rule_title",
        "level",
        "tags",
        "timestamp",
        "computer",
        "channel",
        "event_id",
        "record_id",
        "source",
        "event",
    ):
        assert key in d
    assert d["timestamp"] == "2024-05-01T10:00:01.000000Z"
    assert d["techniques"] == ["T1033"] and d["tactics"] == ["discovery"]
    assert d["event"]["CommandLine"] == "whoami /all"


def test_json_wraps_detections_and_summary(case, capsys):
    assert hunt(case, "-f", "json") == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert len(doc["detections"]) == 2
    s = doc["summary"]
    assert s["events"] == 3 and s["detections"] == 2 and s["warnings"] == 1
    assert s["by_level"] == {"high": 2}
    assert s["top_hosts"][0]["count"] == 1


def test_csv_defuses_spreadsheet_formulas(case, tmp_path, capsys):
    out = tmp_path / "d.csv"
    assert hunt(case, "-f", "csv", "-o", str(out)) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 2
    assert rows[1]["computer"] == '\'=HYPERLINK("http://x.example")'
    assert rows[0]["computer"] == "ws1"


def test_time_window_and_min_level(case, capsys):
    assert hunt(case, "-f", "jsonl", "--from", "2024-05-01T10:00:03Z") == 0
    assert [orjson.loads(x)["record_id"] for x in capsys.readouterr().out.splitlines()] == [2]
    assert hunt(case, "-f", "jsonl", "--min-level", "critical") == 0
    assert capsys.readouterr().out.strip() == ""


def test_store_keeps_events_and_detections_across_runs(case, tmp_path, capsys):
    store = tmp_path / "case.duckdb"
    assert hunt(case, "-f", "jsonl", "--store", str(store)) == 0
    # another file (here: the same events with one more line) is another input
    other = case / "more.jsonl"
    other.write_bytes((case / "events.jsonl").read_bytes() + b"\n")
    assert (
        run(
            [
                "hunt",
                str(other),
                "--rules",
                str(case / "rules"),
                "--no-pack",
                "-f",
                "jsonl",
                "--store",
                str(store),
            ]
        )
        == 0
    )
    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT eid) FROM events").fetchone() == (6, 6)
    assert con.execute("SELECT count(*) FROM detections").fetchone() == (4,)
    assert con.execute("SELECT count(*) FROM runs WHERE status = 'finished'").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM warnings").fetchone() == (2,)
    joined = con.execute("SELECT count(*) FROM detections d JOIN events e USING (eid)").fetchone()
    assert joined == (4,)
    sources = con.execute(
        "SELECT src, path, kind, run_id, input FROM sources ORDER BY src"
    ).fetchall()
    assert sources == [
        (0, str(case / "events.jsonl"), "jsonl", 1, str(case / "events.jsonl")),
        (1, str(other), "jsonl", 2, str(other)),
    ]
    warning = con.execute(
        "SELECT run_id, source, line, record FROM warnings ORDER BY run_id LIMIT 1"
    ).fetchone()
    assert warning == (1, str(case / "events.jsonl"), 4, None)


def test_store_does_not_ingest_the_same_file_twice(case, tmp_path, capsys):
    store = tmp_path / "case.duckdb"
    assert hunt(case, "-f", "jsonl", "--store", str(store)) == 0
    capsys.readouterr()
    copy = tmp_path / "copy"  # a copy elsewhere is the same evidence
    copy.mkdir()
    (copy / "events.jsonl").write_bytes((case / "events.jsonl").read_bytes())
    for path in (case / "events.jsonl", copy / "events.jsonl"):
        assert (
            run(
                [
                    "hunt",
                    str(path),
                    "--rules",
                    str(case / "rules"),
                    "--no-pack",
                    "-f",
                    "jsonl",
                    "--store",
                    str(store),
                ]
            )
            == 0
        )
        assert "already in the case (run 1" in capsys.readouterr().err
    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("SELECT count(*) FROM events").fetchone() == (3,)
    assert con.execute("SELECT count(*) FROM detections").fetchone() == (2,)
    assert con.execute("SELECT run_id, events FROM runs ORDER BY 1").fetchall() == [
        (1, 3),
        (2, 0),
        (3, 0),
    ]


def test_store_replace_reads_the_file_again_in_place_of_the_earlier_copy(case, tmp_path, capsys):
    store = tmp_path / "case.duckdb"
    assert hunt(case, "-f", "jsonl", "--store", str(store)) == 0
    again = [str(case / "events.jsonl"), "--rules", str(case / "rules"), "--no-pack"]
    assert run(["hunt", *again, "-f", "jsonl", "--store", str(store), "--replace"]) == 0
    assert "replaces what run 1 read" in capsys.readouterr().err
    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("SELECT count(*), min(eid) FROM events").fetchone() == (3, 4)
    assert con.execute(
        "SELECT count(*) FROM detections d JOIN events e USING (eid)"
    ).fetchone() == (2,)
    assert con.execute("SELECT run_id FROM sources").fetchall() == [(2,)]
    assert con.execute("SELECT run_id, line FROM warnings WHERE line = 4").fetchall() == [(2, 4)]


def test_output_is_deterministic(case, capsys):
    hunt(case, "-f", "jsonl")
    first = capsys.readouterr().out
    hunt(case, "-f", "jsonl")
    assert capsys.readouterr().out == first


def test_table_output_and_summary(case, capsys):
    assert (
        run(["hunt", str(case / "events.jsonl"), "--rules", str(case / "rules"), "--no-pack"]) == 0
    )
    out = capsys.readouterr().out
    assert "Test Whoami" in out and "Summary" in out and "Top hosts" in out


def test_rules_check_reports_the_broken_rule(case, capsys):
    assert run(["rules", "check", str(case / "rules"), "--json"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["runnable"] == 1
    assert any("broken.yml" in p["source"] for p in doc["problems"])
    assert run(["rules", "check", str(case / "rules"), "--strict"]) == 1


def test_missing_input_is_a_usage_error(case, capsys):
    assert run(["hunt", str(case / "nope.evtx"), "--no-pack", "--rules", str(case / "rules")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_user_errors_print_no_traceback(case):
    proc = subprocess.run(
        [sys.executable, "-m", "spearhunt.cli", "hunt", str(case / "nope"), "--format", "xml"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "error" in proc.stderr


def test_pack_loads_by_default(case, capsys):
    assert run(["-q", "hunt", str(case / "events.jsonl"), "-f", "json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["summary"]["rules"]["loaded"] >= 12


def test_hunt_reads_the_parquet_that_ingest_writes(case, tmp_path, capsys):
    assert hunt(case, "-f", "jsonl") == 0
    direct = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    pq = tmp_path / "pq"
    assert run(["-q", "ingest", str(case / "events.jsonl"), "--to-parquet", str(pq)]) == 0
    capsys.readouterr()
    assert (
        run(["-q", "hunt", str(pq), "--rules", str(case / "rules"), "--no-pack", "-f", "jsonl"])
        == 0
    )
    via = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    key = lambda d: (d["rule_id"], d["record_id"], d["computer"], d["event"])  # noqa: E731
    assert direct and sorted(map(key, direct), key=str) == sorted(map(key, via), key=str)


def test_matched_event_with_nan_keeps_its_fields_and_the_output_stays_json(case, capsys):
    # DuckDB's JSON reader takes NaN/Infinity (not JSON); a matched event must still show its
    # fields, and the output must stay strict JSON.
    line = (
        b'{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", '
        b'"Computer": "ws9", "TimeCreated": "2024-05-01T12:00:00Z", "EventRecordID": 9, '
        b'"Image": "C:\\\\Windows\\\\System32\\\\whoami.exe", "Score": NaN}\n'
    )
    (case / "events.jsonl").write_bytes(line)
    assert hunt(case, "-f", "jsonl") == 0
    out = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]  # strict parser
    assert len(out) == 1
    assert out[0]["event"]["Image"].endswith("whoami.exe")
    assert out[0]["event"]["Score"] is None


@pytest.mark.parametrize("when", ["12000-01-01T00:00:00Z", "-0044-03-15T00:00:00Z"])
def test_time_outside_years_1_to_9999_counts_as_no_time(case, capsys, when):
    # DuckDB reads five-digit and BC years, which Python cannot hold: such an event used to
    # crash the output with a traceback. It is detected, with no time.
    event = {
        **SYSMON,
        "EventID": 1,
        "Computer": "ws9",
        "TimeCreated": when,
        "EventRecordID": 9,
        "Image": "C:\\Windows\\System32\\whoami.exe",
    }
    (case / "events.jsonl").write_bytes(orjson.dumps(event) + b"\n")
    for fmt in ("jsonl", "table", "csv"):
        assert hunt(case, "-f", fmt) == 0
        out = capsys.readouterr().out
        assert "ws9" in out
        if fmt == "jsonl":
            assert orjson.loads(out.splitlines()[0])["timestamp"] is None
