"""Hostile mail (issue #15): header crashes, verdicts an attacker can steer, budgets checked
before reading. Each test fails without its fix."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest

from spearhunt.cli import main
from spearhunt.ingest.mail import DEFAULT_LIMITS, read_bytes
from spearhunt.ingest.mail.archive import Budget, expand
from spearhunt.ingest.mail.blob import make_blob
from spearhunt.model.mail import MailFailure
from tests.mail.helpers import ids, judge

SCRIPT = b'var s = new ActiveXObject("WScript.Shell"); s.Run("powershell -enc AAAA");\n' * 3


def mime(parts: list[tuple[str, str, bytes]], headers: bytes = b"") -> bytes:
    """A multipart mail: (content type, file name, bytes) per part, base64-encoded."""
    body = b""
    for ctype, name, data in parts:
        body += f'--b\r\nContent-Type: {ctype}; name="{name}"\r\n'.encode()
        body += f'Content-Disposition: attachment; filename="{name}"\r\n'.encode()
        body += b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data) + b"\r\n"
    return (
        b"From: Billing <billing@example.net>\r\nTo: v@corp.example\r\nSubject: invoice\r\n"
        + headers
        + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        + b"see attached\r\n"
        + body
        + b"--b--\r\n"
    )


def zip_of(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    "header",
    [
        b"Subject: =?utf-8?b?A?=\r\n",  # base64 of a bad length
        b"Reply-To: =?utf-8?b?QUJDRA?= <r@example.net>\r\n",
        b'Content-Type: text/plain; charset="utf\x00-8"\r\n',  # NUL in a charset
        b"Content-Type: text/pl\x00ain\r\n",
    ],
)
def test_bad_rfc2047_words_and_nul_bytes_give_a_verdict_not_a_crash(header):
    data = b"From: Billing <billing@example.net>\r\nTo: v@corp.example\r\n" + header + b"\r\nhi\r\n"
    v = judge(data)
    assert "billing@example.net" in v.sender


def test_zip_member_with_a_bad_crc_is_judged_and_is_itself_a_finding():
    good = zip_of({"invoice.js": SCRIPT}, zipfile.ZIP_STORED)
    bad = bytearray(good)
    at = bad.find(b"powershell")
    bad[at] = ord("P")  # the data changes, the CRC does not
    v_good = judge(mime([("application/zip", "invoice.zip", good)]))
    v_bad = judge(mime([("application/zip", "invoice.zip", bytes(bad))]))
    assert "att.script" in ids(v_good) and "att.broken_member" not in ids(v_good)
    assert {"att.script", "att.broken_member"} <= ids(v_bad)
    assert v_bad.verdict == "malicious"


def test_dropper_behind_200_harmless_attachments_is_still_judged():
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    parts = [("image/png", f"logo{i}.png", png) for i in range(200)]
    v = judge(mime([*parts, ("application/javascript", "invoice.js", SCRIPT)]))
    assert {"att.script", "att.extraction_cap"} <= ids(v)
    assert v.verdict == "malicious"
    few = judge(mime(parts[:3]))
    assert "att.extraction_cap" not in ids(few)


def test_cap_alone_is_suspicious():
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    v = judge(mime([("image/png", f"logo{i}.png", png) for i in range(201)]))
    assert "att.extraction_cap" in ids(v) and v.verdict != "clean"


def test_dropper_labelled_message_rfc822_is_judged():
    v = judge(mime([("message/rfc822", "invoice.js", SCRIPT)]))
    assert "att.script" in ids(v) and v.verdict == "malicious"


def test_real_attached_mail_is_still_read_as_a_mail():
    inner = b"From: a@example.org\r\nSubject: inner\r\n\r\nhello\r\n"
    data = (
        b"From: b@example.net\r\nTo: v@corp.example\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
        b"fyi\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--b--\r\n"
    )
    (raw,) = read_bytes(data, "fwd.eml")
    assert not isinstance(raw, MailFailure)
    assert [dict(m.headers)["Subject"] for m in raw.embedded] == ["inner"]


def test_iso_hard_links_are_budgeted_before_they_are_read():
    pycdlib = pytest.importorskip("pycdlib")
    iso = pycdlib.PyCdlib()
    iso.new(joliet=3)
    big = bytes(8 * 1024 * 1024)
    iso.add_fp(io.BytesIO(big), len(big), "/BIG.BIN;1", joliet_path="/big.bin")
    for i in range(40):  # 40 names for one 8 MB extent: 320 MB if each were read
        iso.add_hard_link(iso_old_path="/BIG.BIN;1", joliet_new_path=f"/l{i}.bin")
    iso.add_fp(io.BytesIO(SCRIPT), len(SCRIPT), "/RUN.JS;1", joliet_path="/run.js")
    out = io.BytesIO()
    iso.write_fp(out)
    budget = Budget(DEFAULT_LIMITS)
    blob = expand(make_blob("a.iso", out.getvalue()), (), budget)
    read = sum(len(c.data) for c in blob.children)
    assert read <= DEFAULT_LIMITS.max_total_bytes
    assert any(n.kind == "extraction_cap" for n in blob.notes)
    assert "run.js" in {c.name for c in blob.children}  # past the cap, still judged by name


def test_unreadable_mail_fails_a_fail_on_suspicious_pipeline(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(main, "COMMAND_MODULES", ("spearhunt.cli.mail",))
    deep = b"From: a@example.net\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
    for i in range(1000):
        deep += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
    f = tmp_path / "deep.eml"
    f.write_bytes(deep + b"Content-Type: text/plain\r\n\r\nhi\r\n")
    out = str(tmp_path / "o.jsonl")
    args = ["mail", str(f), "--format", "jsonl", "-o", out]
    assert main.run([*args, "--fail-on", "suspicious"]) == 3
    assert main.run([*args, "--fail-on", "malicious"]) == 0


def test_mbox_over_the_file_cap_is_streamed_message_by_message(tmp_path: Path):
    from dataclasses import replace as dc_replace

    from spearhunt.ingest.mail import read_file

    limits = dc_replace(DEFAULT_LIMITS, max_file_bytes=20_000)
    msg = b"From: a@example.net\r\nSubject: m%d\r\n\r\n" + b"x" * 5_000 + b"\r\n"
    big = b"From: b@example.net\r\nSubject: big\r\n\r\n" + b"y" * 30_000 + b"\r\n"
    mbox = tmp_path / "box.mbox"
    mbox.write_bytes(
        b"".join(b"From a@example.net Mon Jan  1 00:00:00 2024\n" + (msg % i) for i in range(6))
        + b"From b@example.net Mon Jan  1 00:00:00 2024\n"
        + big
    )
    assert mbox.stat().st_size > limits.max_file_bytes
    items = list(read_file(mbox, limits))
    mails = [i for i in items if not isinstance(i, MailFailure)]
    assert [dict(m.headers)["Subject"] for m in mails] == [f"m{i}" for i in range(6)]
    assert [(f.file, "over the" in f.error) for f in items if isinstance(f, MailFailure)] == [
        (f"{mbox}#7", True)
    ]


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs here")
def test_fifo_named_to_mail_is_refused_not_opened(tmp_path: Path):
    import os

    from spearhunt.ingest.mail import read_file

    os.mkfifo(tmp_path / "pipe.eml")
    (item,) = read_file(tmp_path / "pipe.eml")
    assert isinstance(item, MailFailure) and "FIFO" in item.error


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs here")
def test_fifo_in_a_mail_folder_is_reported_not_skipped_silently(tmp_path: Path):
    import os

    from spearhunt.detect.mail.run import Triaged, triage
    from tests.mail.helpers import ANALYZER

    os.mkfifo(tmp_path / "pipe.eml")
    (tmp_path / "ok.eml").write_bytes(b"From: a@example.net\r\nSubject: hi\r\n\r\nhello\r\n")
    items = list(triage([tmp_path], ANALYZER))
    assert sum(isinstance(i, Triaged) for i in items) == 1
    assert [
        (Path(i.file).name, "FIFO" in i.error) for i in items if isinstance(i, MailFailure)
    ] == [("pipe.eml", True)]


def test_a_file_only_the_udf_tree_lists_is_judged():
    # Windows mounts an image by its UDF tree; a Joliet tree can show a harmless file while
    # the UDF tree holds the payload. Every tree is walked; a file several trees list
    # under one name is one member.
    pycdlib = pytest.importorskip("pycdlib")
    iso = pycdlib.PyCdlib()
    iso.new(joliet=3, udf="2.60")
    text = b"meeting notes"
    iso.add_fp(
        io.BytesIO(text), len(text), "/NOTES.TXT;1", joliet_path="/notes.txt", udf_path="/notes.txt"
    )
    iso.add_fp(io.BytesIO(SCRIPT), len(SCRIPT), udf_path="/invoice.js")
    out = io.BytesIO()
    iso.write_fp(out)
    blob = expand(make_blob("a.iso", out.getvalue()), (), Budget(DEFAULT_LIMITS))
    names = sorted(c.name.lower() for c in blob.children)
    assert names == ["invoice.js", "notes.txt"]
    [hidden] = [c for c in blob.children if c.name.lower() == "invoice.js"]
    assert hidden.data == SCRIPT


def test_an_iso_without_udf_is_read_as_before():
    pycdlib = pytest.importorskip("pycdlib")
    iso = pycdlib.PyCdlib()
    iso.new(joliet=3)
    iso.add_fp(io.BytesIO(SCRIPT), len(SCRIPT), "/RUN.JS;1", joliet_path="/run.js")
    out = io.BytesIO()
    iso.write_fp(out)
    blob = expand(make_blob("b.iso", out.getvalue()), (), Budget(DEFAULT_LIMITS))
    assert [c.name for c in blob.children] == ["run.js"]
    assert blob.children[0].data == SCRIPT
