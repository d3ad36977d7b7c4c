"""The engine's own JSON of detections (``DuckEngine.output``) against the Python one."""

from __future__ import annotations

from pathlib import Path

import orjson
from tests.conftest import shared_data

from spearhunt.detect.hunt import HuntOptions, hunt
from spearhunt.model import Detection

OFFICE_SHELL = {
    "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws9",
    "EventRecordID": 9, "Image": "C:\\Windows\\System32\\cmd.exe",
    "ParentImage": "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
    "CommandLine": "cmd /c whoami",
}


def _run(paths: list[str], engine_json: bool) -> tuple[list[dict], dict, int]:
    out: list[dict] = []
    texts = 0

    def on_detection(d: Detection) -> None:
        out.append(orjson.loads(orjson.dumps(d.to_dict(), default=str)))

    def on_json(batch: list[str]) -> None:
        nonlocal texts
        texts += len(batch)
        out.extend(orjson.loads(t) for t in batch)  # strict JSON, or this raises

    summary = hunt(HuntOptions(paths=paths, rules=[]), on_detection,
                   on_json=on_json if engine_json else None)
    doc = summary.to_dict()
    for key in ("seconds", "events_per_second", "engine"):
        doc.pop(key)
    return out, doc, texts


def test_engine_json_is_the_python_json_in_the_same_order(tmp_path: Path):
    evtx = shared_data("evtx-attack-samples", "Credential Access")
    # JSON input goes the Python way (its fields may hold NaN): one event between the
    # EVTX ones in time, one with NaN, so the two kinds interleave in one ordered stream.
    events = [{**OFFICE_SHELL, "TimeCreated": "2019-06-01T00:00:00Z"},
              {**OFFICE_SHELL, "TimeCreated": "2020-01-01T00:00:00Z", "EventRecordID": 10}]
    jsonl = tmp_path / "more.jsonl"
    jsonl.write_bytes(b"\n".join(orjson.dumps(e) for e in events).replace(
        b'"EventRecordID":10', b'"EventRecordID":10,"Score":NaN') + b"\n")
    paths = [str(evtx), str(jsonl)]
    reference, ref_summary, _ = _run(paths, engine_json=False)
    built, summary, texts = _run(paths, engine_json=True)
    assert texts >= 15, "the EVTX detections were not written by the engine"
    assert len(reference) == texts + 2
    assert built == reference
    assert summary == ref_summary
    assert [d["computer"] for d in built].count("ws9") == 2
    nan = next(d for d in built if d["record_id"] == 10)
    assert nan["event"]["Score"] is None
