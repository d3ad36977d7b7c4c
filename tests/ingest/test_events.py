"""Readers: format sniffing, every event shape, and hostile or broken input."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import orjson
import pytest
from tests.conftest import shared_data

from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.errors import IngestError, UsageError
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import Kind, expand_paths, sniff

FLAT = {
    "EventID": 1,
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Provider_Name": "Microsoft-Windows-Sysmon",
    "Computer": "ws1",
    "TimeCreated": "2024-05-01T10:00:00Z",
    "EventRecordID": 7,
    "Image": "C:\\a.exe",
}
EVTX_SHAPE = {
    "Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
            "EventID": 1,
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": "ws2",
            "EventRecordID": 8,
            "TimeCreated": {"#attributes": {"SystemTime": "2024-05-01T10:00:01Z"}},
        },
        "EventData": {"Image": "C:\\b.exe"},
    }
}
ECS = {
    "@timestamp": "2024-05-01T10:00:02Z",
    "winlog": {
        "channel": "Microsoft-Windows-Sysmon/Operational",
        "event_id": "1",
        "provider_name": "Microsoft-Windows-Sysmon",
        "computer_name": "ws3",
        "record_id": 9,
        "event_data": {"Image": "C:\\c.exe"},
    },
}


def ingest(paths: list[Path]) -> tuple[list[tuple], list]:
    warnings: list = []
    eng = DuckEngine([], on_warning=warnings.append)
    for p in paths:
        src = sniff(p)
        i = eng.source(str(p))
        try:
            for b in read_events(src, warnings.append):
                eng.add(i, b)
        except IngestError as exc:
            warnings.append(exc)
    eng.flush()
    rows = eng.con.execute(
        "SELECT computer, channel, provider, event_id, record_id, strftime(ts, '%Y-%m-%dT%H:%M:%S'), "
        "fields->>'$.Image' FROM events ORDER BY eid"
    ).fetchall()
    return rows, warnings


def test_three_shapes_in_one_jsonl_file_normalize_alike(tmp_path):
    f = tmp_path / "mixed.jsonl"
    f.write_bytes(b"\n".join(orjson.dumps(x) for x in (FLAT, EVTX_SHAPE, ECS)) + b"\n")
    assert sniff(f).kind is Kind.JSON_LINES
    rows, warnings = ingest([f])
    assert not warnings
    sysmon = ("Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 1)
    assert rows == [
        ("ws1", *sysmon, 7, "2024-05-01T10:00:00", "C:\\a.exe"),
        ("ws2", *sysmon, 8, "2024-05-01T10:00:01", "C:\\b.exe"),
        ("ws3", *sysmon, 9, "2024-05-01T10:00:02", "C:\\c.exe"),
    ]


def test_json_array_stream_and_gzip_are_sniffed_and_read(tmp_path):
    arr = tmp_path / "a.json"
    arr.write_text(json.dumps([FLAT, FLAT]))
    stream = tmp_path / "b.json"
    stream.write_text(json.dumps(EVTX_SHAPE, indent=2) + "\n" + json.dumps(EVTX_SHAPE, indent=2))
    gz = tmp_path / "c.jsonl.gz"
    gz.write_bytes(gzip.compress(orjson.dumps(ECS) + b"\n"))
    assert [sniff(p).kind for p in (arr, stream, gz)] == [
        Kind.JSON_ARRAY,
        Kind.JSON_STREAM,
        Kind.JSON_LINES,
    ]
    rows, warnings = ingest([arr, stream, gz])
    assert not warnings
    assert [r[0] for r in rows] == ["ws1", "ws1", "ws2", "ws2", "ws3"]


def test_bad_json_line_is_skipped_with_line_and_the_rest_is_read(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_bytes(orjson.dumps(FLAT) + b"\n{not json\n\n" + orjson.dumps(FLAT) + b"\n[1,2]\n")
    rows, warnings = ingest([f])
    assert len(rows) == 2
    assert sorted(w.line for w in warnings) == [2, 5]
    assert all("invalid JSON" in w.message for w in warnings)


def test_invalid_utf8_does_not_lose_the_file(tmp_path):
    f = tmp_path / "latin.jsonl"
    f.write_bytes(orjson.dumps(FLAT) + b"\n" + b'{"EventID": 1, "Image": "caf\xe9"}\n')
    rows, warnings = ingest([f])
    assert len(rows) == 2
    assert rows[1][6] == "caf\ufffd"
    assert [(w.line, w.message) for w in warnings] == [(2, "invalid UTF-8 replaced (record kept)")]


def test_truncated_jsonl_gz_keeps_what_was_read(tmp_path):
    f = tmp_path / "cut.jsonl.gz"
    data = gzip.compress(
        b"".join(orjson.dumps({**FLAT, "EventRecordID": i}) + b"\n" for i in range(5000))
    )
    f.write_bytes(data[: len(data) // 2])
    rows, warnings = ingest([f])
    assert 0 < len(rows) < 5000
    assert any("ends early" in getattr(w, "message", "") for w in warnings)


def test_huge_line_is_skipped_not_loaded(tmp_path, monkeypatch):
    from spearhunt.ingest import events

    monkeypatch.setattr(events, "MAX_LINE", 1000)
    f = tmp_path / "huge.jsonl"
    f.write_bytes(
        orjson.dumps(FLAT) + b"\n" + b'{"x": "' + b"A" * 5000 + b'"}\n' + orjson.dumps(FLAT) + b"\n"
    )
    rows, warnings = ingest([f])
    assert len(rows) == 2
    assert any("too long" in w.message for w in warnings)


def test_not_an_evtx_file_is_a_clear_error_for_that_file(tmp_path):
    f = tmp_path / "x.evtx"
    f.write_bytes(b"ElfFile\x00" + b"\x00" * 50)
    good = tmp_path / "good.jsonl"
    good.write_bytes(orjson.dumps(FLAT) + b"\n")
    rows, warnings = ingest([f, good])
    assert len(rows) == 1
    assert any(isinstance(w, IngestError) and "EVTX" in str(w) for w in warnings)


@pytest.mark.shared_data
def test_corrupt_evtx_chunk_is_skipped_counted_and_the_rest_read(tmp_path):
    src = shared_data("deepbluecli-evtx", "Powershell-Invoke-Obfuscation-many.evtx")
    whole, _ = ingest([src])
    data = bytearray(src.read_bytes())
    data[4096 + 65536 + 600 : 4096 + 65536 + 800] = b"\xff" * 200  # break the 2nd chunk
    bad = tmp_path / "bad.evtx"
    bad.write_bytes(bytes(data))
    rows, warnings = ingest([bad])
    assert 0 < len(rows) < len(whole)
    assert len(warnings) >= 1
    assert all(w.record is not None and "EVTX" in w.message for w in warnings)


@pytest.mark.shared_data
def test_evtx_and_its_evtx_dump_json_give_the_same_events(tmp_path):
    sample = next(shared_data("sigma", "regression_data").rglob("*.evtx"))
    a, _ = ingest([sample])
    b, _ = ingest([sample.with_suffix(".json")])
    assert a and a == b


def test_expand_paths_folders_globs_and_missing(tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    for name in ("d/a.jsonl", "d/e/b.evtx", "d/.hidden"):
        (tmp_path / name).write_text("{}")
    found = expand_paths([str(tmp_path / "d")])
    assert [p.name for p in found] == ["a.jsonl", "b.evtx"]
    assert [p.name for p in expand_paths([str(tmp_path / "d" / "**" / "*.evtx")])] == ["b.evtx"]
    with pytest.raises(UsageError):
        expand_paths([str(tmp_path / "nope")])
    with pytest.raises(UsageError):
        expand_paths([str(tmp_path / "*.nothing")])


def test_sniff_ignores_extensions(tmp_path):
    f = tmp_path / "events.txt"
    f.write_bytes(orjson.dumps(FLAT) + b"\n")
    assert sniff(f).kind is Kind.JSON_LINES
    e = tmp_path / "mail.evtx"
    e.write_bytes(b"Received: from x\r\nFrom: a@b\r\n\r\nhi")
    assert sniff(e).kind is Kind.MAIL
    shutil.copy(f, tmp_path / "copy.gz")
    assert sniff(tmp_path / "copy.gz").kind is Kind.JSON_LINES


def test_deeply_nested_and_wide_records_are_bounded_not_fatal(tmp_path):
    f = tmp_path / "hostile.jsonl"
    deep = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    wide = orjson.dumps({f"k{i}": "v" for i in range(20_000)} | FLAT)
    f.write_bytes(orjson.dumps(FLAT) + b"\n" + deep + b"\n" + wide + b"\n")
    rows, warnings = ingest([f])
    assert rows[0][0] == "ws1" and rows[-1][0] == "ws1"
    assert len(rows) + len(warnings) == 3


def test_deeply_nested_json_stream_is_an_error_for_that_record_only(tmp_path):
    f = tmp_path / "stream.json"
    f.write_text(
        json.dumps(EVTX_SHAPE, indent=1)
        + "\n"
        + "[" * 100_000
        + "\n"
        + json.dumps(EVTX_SHAPE, indent=1)
    )
    rows, warnings = ingest([f])
    assert len(rows) == 2
    assert warnings


def test_rtf_and_other_brace_files_are_not_taken_for_json(tmp_path):
    rtf = tmp_path / "lure.json"
    rtf.write_bytes(b"{\\rtf1\\ansi{\\fonttbl\\f0 Times;}\n{\\object\\objemb}\n}")
    arr = tmp_path / "list.json"
    arr.write_bytes(b"[1, 2, 3]")
    assert sniff(rtf).kind is Kind.UNKNOWN
    assert sniff(arr).kind is Kind.UNKNOWN
    pretty = tmp_path / "p.json"
    pretty.write_bytes(b'{\n  "Event": {}\n}\n')
    assert sniff(pretty).kind is Kind.JSON_STREAM
