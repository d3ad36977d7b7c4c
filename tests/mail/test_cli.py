"""The `spearhunt mail` command: output contract, exit codes, store and extraction."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import duckdb
import pytest

from spearhunt.cli import main
from tests.mail.helpers import fx


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(main, "COMMAND_MODULES", ("spearhunt.cli.mail",))
    return main.run


@pytest.fixture
def mails(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad.eml").write_bytes(
        fx.mail(
            "see attached",
            {"invoice.pdf.exe": b"MZ" + b"\0" * 64},
            sender="PayPal <x@bad-example.top>",
        )
    )
    (folder / "good.eml").write_bytes(fx.mail("Minutes attached", {"minutes.txt": b"hello"}))
    (folder / "broken.msg").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1junk")
    return folder


def test_json_output_contract(run, mails: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    assert run(["mail", str(mails), "--format", "json", "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["summary"]["total"] == 2 and len(doc["summary"]["errors"]) == 1
    bad = next(m for m in doc["messages"] if m["file"].endswith("bad.eml"))
    for key in (
        "file",
        "message_id",
        "subject",
        "from",
        "to",
        "date",
        "verdict",
        "score",
        "reasons",
        "iocs",
        "attachments",
    ):
        assert key in bad
    assert bad["verdict"] == "malicious"
    assert {"id", "title", "severity", "evidence", "attack"} <= set(bad["reasons"][0])
    att = bad["attachments"][0]
    assert {"name", "sha256", "size", "type", "findings", "children"} <= set(att)
    assert {"kind": "filename", "value": "invoice.pdf.exe"} in bad["iocs"]


def test_fail_on_sets_exit_status(run, mails: Path, tmp_path: Path) -> None:
    assert (
        run(["mail", str(mails / "bad.eml"), "--format", "jsonl", "-o", str(tmp_path / "a")]) == 0
    )
    assert (
        run(
            [
                "mail",
                str(mails / "bad.eml"),
                "--format",
                "jsonl",
                "-o",
                str(tmp_path / "b"),
                "--fail-on",
                "malicious",
            ]
        )
        == 3
    )
    assert (
        run(
            [
                "mail",
                str(mails / "good.eml"),
                "--format",
                "jsonl",
                "-o",
                str(tmp_path / "c"),
                "--fail-on",
                "suspicious",
            ]
        )
        == 0
    )
    lines = (tmp_path / "a").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["verdict"] == "malicious"


def test_store_and_extract(run, mails: Path, tmp_path: Path) -> None:
    db = tmp_path / "case.duckdb"
    ex = tmp_path / "ex"
    args = ["mail", str(mails), "--format", "jsonl", "-o", str(tmp_path / "o")]
    for extra in ([], [], ["--replace"]):
        assert run([*args, "--store", str(db), "--extract", str(ex), *extra]) == 0
    con = duckdb.connect(str(db))
    # the same files again are not stored twice; --replace stores them in place of the first
    assert con.execute("select run_id, count(*) from mail_messages group by 1").fetchall() == [
        (3, 2)
    ]
    assert (
        con.execute(
            "select count(*) from mail_attachments where name = 'invoice.pdf.exe'"
        ).fetchone()[0]
        == 1
    )
    assert con.execute("select count(*) from mail_iocs where kind = 'sha256'").fetchone()[0] >= 2
    files = list(ex.iterdir())
    assert files and all(f.suffix == ".bin" and ".exe" not in f.name for f in files)
    assert stat.S_IMODE(ex.stat().st_mode) == 0o700  # private whatever the umask
    assert all(not f.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH) for f in files)


def test_user_errors_have_no_traceback(
    run, mails: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["mail", str(mails), "--format", "xml"]) == 2
    assert "Traceback" not in capsys.readouterr().err
