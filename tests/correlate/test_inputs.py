"""What reaches correlation from real exports: records that are no Windows events, the flat
shape's two Channel values, and endpoint times that are not UTC (issue 12, items 4, 5, 8)."""

from __future__ import annotations

import json
from pathlib import Path

from spearhunt.detect.hunt import HuntOptions, hunt


def _jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_json_records_without_event_id_channel_or_computer_are_warned_once_not_counted(
    tmp_path: Path,
):
    f = _jsonl(
        tmp_path / "app.jsonl",
        [{"ts": 1588205199.8 + i, "msg": "hello", "CommandLine": "whoami"} for i in range(5)]
        + [{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws1"}],
    )
    summary = hunt(HuntOptions(paths=[str(f)]), None)
    assert summary.events == 1
    said = [w for w in summary.warnings if "not Windows events" in w.message]
    assert len(said) == 1 and "5 in the first chunk" in said[0].message and said[0].line == 1
