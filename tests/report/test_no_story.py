"""A case where correlation finds no story still shows its top detections, with the event's
details, in the HTML report (#15)."""

from __future__ import annotations

from pathlib import Path

import orjson

from spearhunt.correlate.config import CorrelateOptions
from spearhunt.correlate.run import correlate_store
from spearhunt.detect.hunt import HuntOptions, hunt
from spearhunt.report import html
from spearhunt.report.document import load

RULE = """
title: Test Encoded PowerShell
id: 44444444-4444-4444-4444-444444444444
status: test
level: medium
tags: [attack.execution, attack.t1059.001]
logsource: {category: process_creation, product: windows}
detection:
  sel: {CommandLine|contains: ' -enc '}
  condition: sel
"""


def _case(tmp_path: Path, hostile: bool = True) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(RULE)
    event = {
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "EventID": 1,
        "Computer": "ws7.corp.example",
        "TimeCreated": "2024-05-01T10:00:05Z",
        "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "CommandLine": "powershell -enc SQBFAFgA" if hostile else "powershell -File a.ps1",
    }
    (tmp_path / "e.jsonl").write_bytes(orjson.dumps(event) + b"\n")
    store = tmp_path / "case.duckdb"
    hunt(
        HuntOptions(paths=[str(tmp_path / "e.jsonl")], rules=[rules], with_pack=False, store=store),
        None,
    )
    return store


def test_no_story_report_shows_top_detections_with_details(tmp_path: Path):
    store = _case(tmp_path)
    result = correlate_store(store, CorrelateOptions())
    assert not result.stories
    doc = load(store)
    assert [(e.host, e.level, e.what) for e in doc.top_detections] == [
        ("ws7", "medium", "Test Encoded PowerShell")
    ]
    page = html.render(doc)
    assert "Top detections" in page and "powershell -enc SQBFAFgA" in page


def test_no_detection_no_top_table(tmp_path: Path):
    store = _case(tmp_path, hostile=False)
    doc = load(store)
    assert doc.top_detections == () and "Top detections" not in html.render(doc)
