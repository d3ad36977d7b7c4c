"""Fuzz every reader (#15): EVTX, JSON / JSON Lines / JSON stream, gzip, Zeek, mail (.eml,
mbox), .msg and log archives. No exception other than the project's own errors may escape.

CI runs a short bounded pass (a few seconds in all); ``SPEARHUNT_FUZZ=20000 pytest tests/fuzz``
is the long run (see tests/fuzz/README.md).
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from spearhunt.errors import SpearhuntError
from spearhunt.ingest.archives import iter_sources
from spearhunt.ingest.events import read_events
from spearhunt.ingest.mail import read_bytes
from spearhunt.ingest.sources import Kind
from spearhunt.ingest.zeek import read_zeek
from spearhunt.model.mail import MailFailure
from tests.conftest import shared_data
from tests.fuzz.harness import examples, run

EVENT = {
    "EventID": 1,
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Computer": "ws1.corp.example",
    "TimeCreated": "2024-05-01T10:00:00Z",
    "EventRecordID": 7,
    "Image": "C:\\Windows\\System32\\cmd.exe",
    "CommandLine": "cmd /c whoami",
    "EventData": {"Data": [{"#text": "x", "@Name": "A"}]},
}
ZEEK_TSV = (
    b"#separator \\x09\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\t"
    b"id.resp_p\tproto\torig_bytes\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\n"
    b"1700000000.5\tC1\t10.0.0.5\t5000\t192.0.2.7\t443\ttcp\t100\n"
)
ZEEK_JSON = (
    b'{"_path":"dns","ts":1700000000.5,"uid":"C2","id.orig_h":"10.0.0.5","query":"a.example"}\n'
)


def _events_of(path: Path) -> int:
    """Read every source under ``path`` as the commands do; returns records read."""
    n = 0
    for s in iter_sources([str(path)], lambda w: None):
        try:
            if s.kind is Kind.ZEEK_TSV:
                n += sum(1 for _ in read_zeek(s, lambda w: None))
            elif s.kind in (Kind.EVTX, Kind.JSON_LINES, Kind.JSON_ARRAY, Kind.JSON_STREAM):
                n += sum(len(b) for b in read_events(s, lambda w: None, batch=500))
        except SpearhuntError:
            pass  # one file's failure; the next source is still read
    return n


def _file_target(folder: Path, name: str):  # type: ignore[no-untyped-def]
    path = folder / name

    def target(data: bytes) -> None:
        path.write_bytes(data)
        _events_of(path)

    return target


def _log_seeds() -> list[bytes]:
    lines = b"".join(json.dumps({**EVENT, "EventRecordID": i}).encode() + b"\n" for i in range(5))
    return [
        lines,
        json.dumps([EVENT, EVENT]).encode(),
        (json.dumps(EVENT, indent=2) + "\n") * 3,
        ZEEK_TSV,
        ZEEK_JSON,
        ("\ufeff" + json.dumps(EVENT) + "\n").encode("utf-16-le"),
    ]


def _as_bytes(seeds: list[bytes | str]) -> list[bytes]:
    return [s.encode() if isinstance(s, str) else s for s in seeds]


def test_fuzz_json_lines_array_stream_and_zeek(tmp_path: Path) -> None:
    seeds = _as_bytes(_log_seeds())  # type: ignore[arg-type]
    assert run(seeds, _file_target(tmp_path, "x.json"), (SpearhuntError,), examples(300)) > 0


def test_fuzz_gzip_logs(tmp_path: Path) -> None:
    seeds = [gzip.compress(s) for s in _as_bytes(_log_seeds())]  # type: ignore[arg-type]
    assert run(seeds, _file_target(tmp_path, "x.json.gz"), (SpearhuntError,), examples(200)) > 0


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_fuzz_log_archives(tmp_path: Path) -> None:
    logs = _as_bytes(_log_seeds())  # type: ignore[arg-type]
    files = {
        "a.jsonl": logs[0],
        "b.json": logs[1],
        "conn.log": logs[3],
        "c.gz": gzip.compress(logs[0]),
    }
    seeds = [_zip(files), _zip({"x.json": logs[2]}), _tgz(files)]
    assert run(seeds, _file_target(tmp_path, "x.zip"), (SpearhuntError,), examples(150)) > 0


@pytest.mark.shared_data
def test_fuzz_evtx(tmp_path: Path) -> None:
    seeds = [
        shared_data("deepbluecli-evtx", "eventlog-dac.evtx").read_bytes(),
        shared_data("deepbluecli-evtx", "disablestop-eventlog.evtx").read_bytes(),
    ]
    assert run(seeds, _file_target(tmp_path, "x.evtx"), (SpearhuntError,), examples(60)) > 0


def _mail_target(data: bytes) -> None:
    for item in read_bytes(data, "fuzz.eml"):
        assert isinstance(item, MailFailure) or item.source


def _mail_seeds() -> list[bytes]:
    from tests.mail.helpers import fx

    return [
        fx.mail("see attached", {"invoice.zip": _zip({"a.js": b"WScript.Shell"})}),
        b"From: =?utf-8?b?QQ==?= <a@example.net>\r\nSubject: =?iso-8859-1?q?caf=E9?=\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: message/rfc822\r\n\r\nFrom: c@example.org\r\n\r\nhi\r\n--b--\r\n",
        b"From a@example.net Mon Jan  1 00:00:00 2024\nFrom: a@example.net\nSubject: 1\n\nx\n"
        b"From b@example.net Mon Jan  1 00:00:00 2024\nFrom: b@example.net\nSubject: 2\n\ny\n",
    ]


def test_fuzz_mail():
    # Mail readers never raise: a broken mail is a MailFailure.
    assert run(_mail_seeds(), _mail_target, (), examples(300)) > 0


def test_fuzz_mbox_file(tmp_path: Path) -> None:
    folder = tmp_path
    from spearhunt.ingest.mail import read_file

    def target(data: bytes) -> None:
        (folder / "box.mbox").write_bytes(data)
        list(read_file(folder / "box.mbox"))

    assert run(_mail_seeds(), target, (), examples(100)) > 0


@pytest.mark.shared_data
def test_fuzz_msg():
    seeds = [shared_data("mail", "msg", "unicode.msg").read_bytes()]
    assert run(seeds, _mail_target, (), examples(40)) > 0
