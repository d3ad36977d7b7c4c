"""build_case: the stages run in order into one case, each heard of as it ends, and the run
summary says what the case holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spearhunt.errors import StoreError
from spearhunt.pipeline import CaseInputs, CaseOptions, StageDone, build_case
from spearhunt.store import detections
from spearhunt.store.case import open_case

EVENTS = [
    {
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "Computer": "WS-1.corp.example",
        "TimeCreated": f"2026-03-02T09:0{i}:00Z",
        "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "CommandLine": "powershell.exe -nop -w hidden -enc SQBFAFgA",
        "ParentImage": "C:\\Program Files\\Microsoft Office\\WINWORD.EXE",
        "User": "CORP\\alice",
        "ProcessGuid": f"{{p{i}}}",
    }
    for i in range(3)
]
ZEEK = """#separator \\x09
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring
1772442000.0\tC1\t10.0.0.5\t50000\t192.0.2.7\t443\ttcp\tssl\t1.5\t1200\t300\tSF
1772442060.0\tC2\t10.0.0.5\t50001\t192.0.2.7\t443\ttcp\tssl\t1.5\t1200\t300\tSF
"""


def _inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "sysmon.jsonl").write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    (folder / "conn.log").write_text(ZEEK)
    return folder


def test_build_case_runs_each_stage_into_one_case(tmp_path: Path):
    inputs = CaseInputs.sniff([str(_inputs(tmp_path))])
    assert inputs.files == 2 and len(inputs.events) == 1 and len(inputs.network) == 1
    heard: list[StageDone] = []
    store = tmp_path / "case.duckdb"
    summary = build_case(inputs, store, CaseOptions(), heard.append)
    assert [s.name for s in heard] == ["mail", "hunt", "network", "correlate"]
    assert summary.stages == tuple(heard)
    assert (summary.events, summary.network_records) == (3, 2)
    with open_case(store) as case:
        assert detections.counts(case).detections == summary.detections > 0
        runs = case.con.execute("SELECT command, status FROM runs").fetchall()
    assert runs == [("investigate: hunt", "finished"), ("investigate: network", "finished")]
    assert summary.result is heard[-1].result
    assert "3 events" in summary.line() and "2 network records" in summary.line()


def test_build_case_with_nothing_readable_says_so(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("nothing to see\n")
    inputs = CaseInputs.sniff([str(tmp_path / "notes.txt")])
    with pytest.raises(StoreError, match="no input held mail, event logs or Zeek logs"):
        build_case(inputs, tmp_path / "case.duckdb", CaseOptions())
