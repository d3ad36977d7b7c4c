"""Log archives (zip, tar, tar.gz) read in place: members sniffed and read, bombs bounded,
and everything skipped said as a warning."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import orjson
import pytest
from tests.conftest import shared_data

from spearhunt.detect.hunt import HuntOptions, hunt
from spearhunt.ingest.archives import (
    ArchiveBoundError,
    ArchiveLimits,
    _bounded,
    archive_members,
    iter_sources,
)
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
ZEEK = b"#separator \\x09\n#path\tconn\n#fields\tts\tuid\n#types\ttime\tstring\n1.0\tC1\n"


def jsonl(n: int, host: str = "ws1") -> bytes:
    return b"".join(
        orjson.dumps({**FLAT, "Computer": host, "EventRecordID": i}) + b"\n" for i in range(n)
    )


def records(paths: list[Path]) -> tuple[dict[str, int], list[IngestWarning]]:
    warnings: list[IngestWarning] = []
    counts: dict[str, int] = {}
    for s in iter_sources(paths, warnings.append):
        if s.kind in (Kind.JSON_LINES, Kind.JSON_ARRAY, Kind.JSON_STREAM, Kind.EVTX):
            counts[s.name] = sum(len(b) for b in read_events(s, warnings.append))
    return counts, warnings


def test_zip_of_several_logs_is_read_member_by_member(tmp_path):
    z = tmp_path / "set.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/sysmon.json", jsonl(3))
        zf.writestr("security.jsonl.gz", gzip.compress(jsonl(2, "ws2")))
        zf.writestr("notes.txt", b"lab notes\n")
        zf.writestr("inner.zip", b"PK\x05\x06" + b"\x00" * 18)
    assert sniff(z).kind is Kind.ARCHIVE
    counts, warnings = records([z])
    assert counts == {f"{z}/a/sysmon.json": 3, f"{z}/security.jsonl.gz": 2}
    said = {w.source: w.message for w in warnings}
    assert "not a log" in said[f"{z}/notes.txt"]
    assert "archive inside an archive" in said[f"{z}/inner.zip"]


@pytest.mark.parametrize("mode", ["w:gz", "w"])
def test_tar_and_tar_gz_are_read_in_one_pass(tmp_path, mode):
    t = tmp_path / ("set.tar.gz" if mode == "w:gz" else "set.tar")
    with tarfile.open(t, mode) as tf:
        for name, data in (("x.jsonl", jsonl(20_000)), ("conn.log", ZEEK), ("y.jsonl", jsonl(1))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("z.jsonl")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
    counts, warnings = records([t])
    assert counts == {f"{t}/x.jsonl": 20_000, f"{t}/y.jsonl": 1}
    assert [(w.source, "link" in w.message) for w in warnings] == [(f"{t}/z.jsonl", True)]
    zeek = [s for s in iter_sources([t], warnings.append) if s.kind is Kind.ZEEK_TSV]
    assert [s.where.name for s in zeek] == ["conn.log"]


def test_member_that_claims_a_bomb_ratio_is_not_read(tmp_path):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.jsonl", b"\n" * 5_000_000)
        zf.writestr("ok.jsonl", jsonl(1))
    warnings: list[IngestWarning] = []
    limits = ArchiveLimits(ratio_floor=1_000_000)
    got = [s.member for s in archive_members(sniff(z), warnings.append, limits)]
    assert got == ["ok.jsonl"]
    assert "compression ratio" in warnings[0].message


def test_member_that_inflates_past_its_bound_stops_with_an_error():
    # zipfile and tarfile trust the declared size; the bound holds even if they did not.
    opener = _bounded(lambda: io.BytesIO(b"x" * 5000), "a.zip/m", 1000, 0, ArchiveLimits())
    with pytest.raises(ArchiveBoundError, match="inflates past 1,000 bytes"), opener() as fh:
        fh.read()
    limits = ArchiveLimits(ratio_floor=100, max_ratio=10.0)
    opener = _bounded(lambda: io.BytesIO(b"x" * 5000), "a.zip/m", 5000, 20, limits)
    with pytest.raises(ArchiveBoundError, match="archive bomb"), opener() as fh:
        fh.read()


def test_damaged_encrypted_and_cut_archives_are_warnings(tmp_path):
    z = tmp_path / "set.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.jsonl", jsonl(50))
    data = z.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: len(data) // 2])
    enc = bytearray(data)
    enc[6] |= 1  # the local header's "encrypted" flag
    central = data.rfind(b"PK\x01\x02")
    enc[central + 8] |= 1  # and the central directory's
    locked = tmp_path / "locked.zip"
    locked.write_bytes(bytes(enc))
    counts, warnings = records([cut, locked])
    assert counts == {}
    assert [w.source for w in warnings] == [str(cut), f"{locked}/a.jsonl"]
    assert "damaged zip" in warnings[0].message and "encrypted" in warnings[1].message


def test_member_with_a_bad_crc_keeps_its_records_and_says_so(tmp_path):
    z = tmp_path / "crc.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.jsonl", jsonl(3))
    data = bytearray(z.read_bytes())
    at = data.find(b'"EventRecordID":2')
    data[at + len(b'"EventRecordID":')] = ord("7")  # content changed, CRC not
    z.write_bytes(bytes(data))
    counts, warnings = records([z])
    assert counts == {f"{z}/a.jsonl": 3}  # what unzip extracts is read ...
    assert [w.message for w in warnings] == [  # ... and said to be damaged
        "file ends early or is corrupt: damaged archive member: bad CRC (its data was read anyway)"
    ]


def test_hunt_reads_zipped_logs_and_names_the_member(tmp_path):
    z = tmp_path / "logs.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("sysmon.jsonl", jsonl(5))
        zf.writestr("readme.md", b"# lab\n")
    summary = hunt(HuntOptions(paths=[str(z)], use_cache=False), None)
    assert (summary.files, summary.events) == (1, 5)
    assert [(w.source, "not a log" in w.message) for w in summary.warnings] == [
        (f"{z}/readme.md", True)
    ]


@pytest.mark.shared_data
def test_otrf_zips_are_read_as_shipped():
    folder = shared_data("otrf", "datasets", "atomic", "windows", "lateral_movement", "host")
    summary = hunt(HuntOptions(paths=[str(folder)]), None)
    assert summary.files == 2
    assert not [w for w in summary.warnings if "skipped" in w.message or "not read" in w.message]
    assert summary.events > 5_000 and summary.detections > 0
    zeek = shared_data(
        "otrf", "datasets", "compound", "apt29", "day1", "zeek", "NASHUA-zeek_logs.zip"
    )
    members = [s.where.name for s in iter_sources([zeek], print) if s.kind is Kind.ZEEK_TSV]
    assert "conn.log" in members and "dns.log" in members


def test_spark_engine_refuses_archives_with_the_way_out(tmp_path):
    from spearhunt.detect.hunt_spark import _check_inputs
    from spearhunt.errors import UsageError

    z = tmp_path / "logs.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.jsonl", jsonl(1))
    with pytest.raises(UsageError, match=r"ingest .* --to-parquet"):
        _check_inputs([str(z)])
    with pytest.raises(UsageError, match="archive"):
        _check_inputs([str(tmp_path)])
