"""`spearhunt hunt -r DIR` evaluates the Sigma correlation rules in DIR over its own
detections (and says how many it evaluated), as `investigate` does over a case."""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson
import pytest

from spearhunt.cli.main import run

RULES = """
title: Whoami Run
name: whoami_run
id: 44444444-4444-4444-4444-444444444444
level: low
logsource: {category: process_creation, product: windows}
detection:
  sel: {Image|endswith: '\\\\whoami.exe'}
  condition: sel
---
title: Whoami Burst
id: 55555555-5555-5555-5555-555555555555
level: high
correlation:
  type: event_count
  rules: [whoami_run]
  group-by: [Computer]
  timespan: 10m
  condition: {gte: 3}
"""


def _events(path: Path, n: int) -> Path:
    rows = [
        {
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "EventID": 1,
            "Computer": "WS1.corp.example",
            "TimeCreated": f"2024-05-01T10:0{i}:00Z",
            "EventRecordID": i + 1,
            "Image": "C:\\Windows\\System32\\whoami.exe",
        }
        for i in range(n)
    ]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "burst.yml").write_text(textwrap.dedent(RULES))
    return d


def _hunt(tmp_path: Path, rules: Path, n: int, fmt: str = "json") -> dict:
    events = _events(tmp_path / f"ev{n}.jsonl", n)
    out = tmp_path / f"out{n}.{fmt}"
    argv = ["-q", "hunt", str(events), "-r", str(rules), "--no-pack", "-f", fmt, "-o", str(out)]
    assert run(argv) == 0
    return orjson.loads(out.read_bytes())["summary"]


def test_hunt_fires_a_correlation_rule_in_its_rule_folder(tmp_path, rules):
    summary = _hunt(tmp_path, rules, 3)
    assert summary["detections"] == 0  # Sigma: a base rule generates nothing by default
    assert summary["correlations"]["rules"] == 1
    [hit] = summary["correlations"]["hits"]
    assert hit["rule_id"] == "55555555-5555-5555-5555-555555555555"
    assert hit["count"] == 3 and hit["group"] == {"Computer": "ws1.corp.example"}


def test_hunt_reports_no_correlation_below_its_threshold(tmp_path, rules):
    summary = _hunt(tmp_path, rules, 2)
    assert summary["correlations"] == {"rules": 1, "hits": []}


def test_table_summary_names_the_correlation_hit(tmp_path, rules, capsys):
    events = _events(tmp_path / "ev.jsonl", 3)
    assert run(["hunt", str(events), "-r", str(rules), "--no-pack"]) == 0
    text = capsys.readouterr().out
    assert "Sigma correlation rules" in text and "Whoami Burst" in text
