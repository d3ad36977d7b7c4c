"""What reaches correlation from real exports: records that are no Windows events, the flat
shape's two Channel values, and endpoint times that are not UTC (issue 12, items 4, 5, 8)."""

from __future__ import annotations

import json
from pathlib import Path

from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.hunt import HuntOptions, hunt
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import sniff


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


CLEARED = {
    "SourceName": "Microsoft-Windows-Eventlog",
    "Channel": "System",
    "Hostname": "MKT01.pandalab.com",
    "TimeCreated": "2023-08-15T09:53:46.118Z",
    "EventID": 104,
    "Task": "104",
}


def test_flat_event_104_reads_the_cleared_log_not_the_system_channel(tmp_path: Path):
    # In the flat shape the System Channel ("System") and EventData's Channel (the cleared log)
    # share one key: the event's own field must hold the cleared log.
    f = _jsonl(
        tmp_path / "system.jsonl",
        [
            {
                **CLEARED,
                "Message": "The Microsoft-Windows-Kernel-IO/Operational log file was cleared.",
            },
            {
                **CLEARED,
                "Message": "The System log file was cleared.",
                "TimeCreated": "2023-08-15T10:00:00Z",
            },
            {**CLEARED, "TimeCreated": "2023-08-15T11:00:00Z"},  # no message: no Channel field
        ],
    )
    eng = DuckEngine([], on_warning=lambda w: None)
    src = eng.source(str(f))
    for batch in read_events(sniff(f), lambda w: None):
        eng.add(src, batch)
    eng.flush()
    rows = eng.con.execute(
        "SELECT channel, json_extract_string(fields, '$.Channel') FROM events ORDER BY eid"
    ).fetchall()
    assert rows == [
        ("System", "Microsoft-Windows-Kernel-IO/Operational"),
        ("System", "System"),
        ("System", None),
    ]
