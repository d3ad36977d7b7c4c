"""Hostile input: each failure class of issue #15 for the log readers, with the fix's proof.

A bad file is a warning for that file; a bad record is a warning for that record and, where
the record can still be read, it is kept.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import zlib
from pathlib import Path

import orjson
import pytest
from tests.conftest import shared_data

from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.engine.parquet import ingest_to_parquet
from spearhunt.errors import IngestError
from spearhunt.ingest.archives import iter_sources
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import Kind, sniff
from spearhunt.model import IngestWarning

FLAT = {
    "EventID": 1,
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Computer": "ws1",
    "TimeCreated": "2024-05-01T10:00:00Z",
    "Image": "C:\\a.exe",
}


def line(**extra: object) -> bytes:
    return orjson.dumps({**FLAT, **extra}) + b"\n"


def ingest(*paths: Path) -> tuple[list[tuple], list[IngestWarning]]:
    """Events (computer, image, user) of the inputs through the DuckDB engine, and warnings."""
    warnings: list[IngestWarning] = []
    eng = DuckEngine([], on_warning=warnings.append)
    for s in iter_sources([str(p) for p in paths], warnings.append):
        i = eng.source(s.name)
        try:
            for b in read_events(s, warnings.append):
                eng.add(i, b)
        except IngestError as exc:
            warnings.append(IngestWarning(s.name, exc.message))
    eng.flush()
    rows = eng.con.execute(
        "SELECT computer, fields->>'$.Image', fields->>'$.User' FROM events ORDER BY eid"
    ).fetchall()
    eng.close()
    return rows, warnings


def test_long_partition_values_are_shortened_to_a_legal_folder_name(tmp_path):
    fqdn = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters, legal
    f = tmp_path / "long.jsonl"
    f.write_bytes(line(Computer=fqdn) + line(Computer=fqdn[:-1] + "e") + line(Channel="x" * 400))
    warnings: list[IngestWarning] = []
    files, events = ingest_to_parquet([str(f)], tmp_path / "pq", on_warning=warnings.append)
    assert (files, events, warnings) == (1, 3, [])
    folders = [p for p in (tmp_path / "pq").rglob("*") if p.is_dir()]
    assert max(len(p.name.encode()) for p in folders) <= 255
    hosts = {p.name for p in folders if p.name.startswith("p_computer=")}
    assert len(hosts) == 3  # the two long names stay apart


# --- crashes: one input must not end the run -------------------------------------------


def _evtx_with_record_id(tmp_path: Path, rid: int) -> Path:
    """A real EVTX file whose first record id is ``rid`` (chunk checksum kept valid)."""
    data = bytearray(shared_data("deepbluecli-evtx", "eventlog-dac.evtx").read_bytes())
    chunk = 4096
    struct.pack_into("<Q", data, chunk + 512 + 8, rid)
    free = struct.unpack_from("<I", data, chunk + 48)[0]
    struct.pack_into("<I", data, chunk + 52, zlib.crc32(data[chunk + 512 : chunk + free]))
    out = tmp_path / "ids.evtx"
    out.write_bytes(bytes(data))
    return out


@pytest.mark.shared_data
def test_evtx_record_id_past_int64_does_not_crash_the_engine(tmp_path):
    f = _evtx_with_record_id(tmp_path, 2**63 + 5)
    rows, warnings = ingest(f)
    assert len(rows) == 19 and not warnings


def test_integers_past_64_bits_in_json_do_not_crash(tmp_path):
    f = tmp_path / "big.jsonl"
    f.write_bytes(
        line(EventRecordID=2**63 + 1).replace(b"}\n", b', "X": 1' + b"0" * 30 + b"}\n") + line()
    )
    arr = tmp_path / "big.json"
    arr.write_text(json.dumps([{**FLAT, "EventRecordID": 10**30}]))
    rows, _ = ingest(f, arr)
    assert len(rows) == 3


def test_lone_surrogate_keeps_its_record_with_the_text_replaced(tmp_path):
    bad = '{"EventID": 1, "Computer": "ws1", "Image": "a\\ud800b"}'
    stream = tmp_path / "stream.json"
    stream.write_text(json.dumps(FLAT, indent=1) + "\n" + bad + "\n" + json.dumps(FLAT, indent=1))
    lines = tmp_path / "lines.jsonl"
    emoji = '{"EventID": 1, "Computer": "ws1", "Image": "\\ud83d\\ude00"}'
    lines.write_text(bad + "\n" + emoji + "\n")
    rows, warnings = ingest(stream, lines)
    images = [r[1] for r in rows]
    assert images == ["C:\\a.exe", "a\ufffdb", "C:\\a.exe", "a\ufffdb", "\U0001f600"]
    assert len(warnings) == 2 and all("replaced" in w.message for w in warnings)


def test_non_utf8_in_a_batch_after_evtx_keeps_the_record(tmp_path):
    # Mixed str (EVTX) and bytes (JSON Lines) texts in one engine chunk: ArrowInvalid before.
    f = tmp_path / "latin.jsonl"
    f.write_bytes(b'{"EventID": 1, "Computer": "ws1", "User": "J\xf6rg"}\n')
    evtx_like = tmp_path / "a.json"
    evtx_like.write_text(json.dumps([FLAT]))
    rows, warnings = ingest(evtx_like, f)
    assert [r[2] for r in rows] == [None, "J\ufffdrg"]
    assert [w.message for w in warnings] == ["invalid UTF-8 replaced (record kept)"]


@pytest.mark.parametrize("kind", ["lines", "array", "stream"])
def test_cut_gzip_is_a_warning_for_that_file_and_keeps_the_head(tmp_path, kind):
    recs = [{**FLAT, "EventRecordID": i} for i in range(3000)]
    if kind == "lines":
        raw = b"".join(orjson.dumps(r) + b"\n" for r in recs)
    elif kind == "array":
        raw = json.dumps(recs, indent=1).encode()
    else:
        raw = "\n".join(json.dumps(r, indent=1) for r in recs).encode()
    packed = gzip.compress(raw)
    f = tmp_path / f"{kind}.json.gz"
    f.write_bytes(packed[: len(packed) * 2 // 3])
    good = tmp_path / "good.jsonl"
    good.write_bytes(line(Computer="after"))
    rows, warnings = ingest(f, good)
    assert 0 < len(rows) - 1 < 3000 and rows[-1][0] == "after"
    assert any("ends early or is corrupt" in w.message for w in warnings)


def test_gzip_damaged_near_its_start_is_a_warning_not_a_crash(tmp_path):
    packed = bytearray(gzip.compress(b"".join(line(EventRecordID=i) for i in range(100))))
    packed[12:40] = b"\x00" * 28
    f = tmp_path / "bad.jsonl.gz"
    f.write_bytes(bytes(packed))
    good = tmp_path / "good.jsonl"
    good.write_bytes(line())
    rows, warnings = ingest(f, good)
    assert len(rows) == 1
    assert [(w.source, "damaged gzip" in w.message) for w in warnings] == [(str(f), True)]


def test_damaged_gzip_ends_hunt_with_a_warning_not_abort(tmp_path):
    # The CLI used to report EOFError as "aborted" with exit 130, as if Ctrl-C.
    from spearhunt.cli.main import run

    packed = gzip.compress(json.dumps([FLAT] * 500).encode())
    f = tmp_path / "cut.json.gz"
    f.write_bytes(packed[: len(packed) // 2])
    assert run(["-q", "hunt", str(f), "--no-cache", "-f", "jsonl"]) == 0


# --- hangs: only regular files are opened --------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_in_a_folder_is_reported_not_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.jsonl")
    (tmp_path / "a.jsonl").write_bytes(line())
    rows, warnings = ingest(tmp_path)  # would block forever in the sniffer before
    assert len(rows) == 1
    assert [(Path(w.source).name, "FIFO" in w.message) for w in warnings] == [("pipe.jsonl", True)]


# --- silent loss: read it, or say it ---------------------------------------------------


def test_overlong_json_line_does_not_drop_the_records_after_it(tmp_path, monkeypatch):
    from spearhunt.ingest import events

    monkeypatch.setattr(events, "MAX_LINE", 1000)
    monkeypatch.setattr(events, "BLOCK", 4096)
    f = tmp_path / "long.jsonl"
    head = b"".join(line(EventRecordID=i) for i in range(5))
    tail = b"".join(line(EventRecordID=i) for i in range(6, 60))
    f.write_bytes(head + line(Image="x" * 20_000) + tail)
    got: list[IngestWarning] = []
    batches = list(read_events(sniff(f), got.append))
    positions = [p for b in batches for p in b.positions]
    assert positions == [*range(1, 6), *range(7, 61)]
    assert [(w.line, w.offset) for w in got] == [(6, len(head))]
    offsets = [o for b in batches for o in (b.offsets or [])]
    assert offsets[5] == len(head) + len(line(Image="x" * 20_000))


@pytest.mark.shared_data
def test_cut_evtx_says_how_many_records_are_missing(tmp_path):
    data = shared_data("deepbluecli-evtx", "Powershell-Invoke-Obfuscation-many.evtx").read_bytes()
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(data[: 4096 + 65536 + 30_000])  # inside the second chunk
    rows, warnings = ingest(cut)
    assert len(rows) == 28  # the parser gave 25; the cut chunk's 3 whole records are carved
    assert [w.message for w in warnings] == [
        "damaged or cut EVTX file: 12 of the 40 records its chunk headers list are missing "
        "(0 parser errors); 3 recovered from the damaged chunks"
    ]


@pytest.mark.shared_data
@pytest.mark.parametrize("damage", ["magic", "size"])
def test_records_after_a_damaged_record_header_are_recovered(tmp_path, damage):
    src = shared_data("deepbluecli-evtx", "Powershell-Invoke-Obfuscation-many.evtx").read_bytes()
    chunk = 4096 + 65536
    at = chunk + 36256  # the 5th record of the 2nd chunk (record 30)
    assert src[at : at + 4] == b"**\x00\x00"
    data = bytearray(src)
    if damage == "magic":
        data[at : at + 4] = b"XXXX"
    else:
        struct.pack_into("<I", data, at + 4, 0xFFFF)
    bad = tmp_path / "bad.evtx"
    bad.write_bytes(bytes(data))
    rows, warnings = ingest(bad)
    assert len(rows) == 302  # without the carving, records 30-40 (11) were lost
    assert len(warnings) == 1 and "11 recovered" in warnings[0].message


@pytest.mark.shared_data
def test_evtx_with_a_damaged_file_magic_is_read(tmp_path):
    data = bytearray(shared_data("deepbluecli-evtx", "eventlog-dac.evtx").read_bytes())
    data[:8] = b"\x00" * 8
    f = tmp_path / "magic.evtx"
    f.write_bytes(bytes(data))
    rows, warnings = ingest(f)
    assert len(rows) == 19
    assert [w.message for w in warnings] == ["damaged EVTX file header: its chunks are read anyway"]


@pytest.mark.parametrize("bom", [True, False])
def test_utf16_json_lines_as_powershell_writes_them_are_read(tmp_path, bom):
    text = (line(Computer="ws1") + line(Computer="wsä")).decode()
    f = tmp_path / "ps.json"
    f.write_bytes(("\ufeff" if bom else "").encode("utf-16-le") + text.encode("utf-16-le"))
    assert sniff(f).kind is Kind.JSON_LINES
    rows, warnings = ingest(f)
    assert [r[0] for r in rows] == ["ws1", "wsä"] and not warnings


def test_utf8_bom_does_not_cost_the_first_record(tmp_path):
    f = tmp_path / "bom.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + line(Computer="first") + line(Computer="second"))
    rows, warnings = ingest(f)
    assert [r[0] for r in rows] == ["first", "second"] and not warnings


def test_empty_files_and_dangling_links_are_reported_and_the_run_goes_on(tmp_path):
    (tmp_path / "empty.evtx").write_bytes(b"")
    (tmp_path / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    (tmp_path / "ok.jsonl").write_bytes(line())
    rows, warnings = ingest(Path(f"{tmp_path}/*.*"))  # a glob: a dangling match aborted the run
    assert len(rows) == 1
    assert sorted((Path(w.source).name, w.message) for w in warnings) == [
        ("empty.evtx", "empty file (0 bytes)"),
        ("gone.jsonl", "dangling symbolic link"),
    ]


def test_a_log_named_file_that_is_not_a_log_is_said(tmp_path):
    (tmp_path / "x.evtx").write_bytes(b"MZ\x90\x00 not a log")
    (tmp_path / "notes.md").write_bytes(b"# notes")
    _rows, warnings = ingest(tmp_path)
    assert [Path(w.source).name for w in warnings] == ["x.evtx"]
