"""investigate does not drop unreadable mail silently (#15): each gets a row in the case's
warnings, the run summary counts them, and the command says so at the default verbosity."""

from __future__ import annotations

from pathlib import Path

from spearhunt.cli.main import run
from spearhunt.model import IngestWarning
from spearhunt.pipeline import CaseInputs, CaseOptions, build_case
from spearhunt.store.case import open_case

GOOD = b"From: a@example.net\r\nTo: v@corp.example\r\nSubject: lunch\r\n\r\nat noon?\r\n"


def _deep() -> bytes:
    data = b"From: a@example.net\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
    for i in range(1000):
        data += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
    return data + b"Content-Type: text/plain\r\n\r\nhi\r\n"


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "good.eml").write_bytes(GOOD)
    (folder / "deep.eml").write_bytes(_deep())
    return folder


def test_unreadable_mail_is_a_case_warning_and_counted(tmp_path: Path):
    heard: list[IngestWarning] = []
    store = tmp_path / "case.duckdb"
    summary = build_case(
        CaseInputs.sniff([str(_folder(tmp_path))]), store, CaseOptions(), on_warning=heard.append
    )
    assert (len(summary.verdicts), summary.unreadable_mails) == (1, 1)
    assert "1 unreadable" in summary.line()
    assert [Path(w.source).name for w in heard] == ["deep.eml"]
    with open_case(store) as case:
        rows = case.con.execute("SELECT source, message FROM warnings").fetchall()
    assert [(Path(s).name, m.startswith("mail not analysed")) for s, m in rows] == [
        ("deep.eml", True)
    ]


def test_investigate_says_what_it_skipped(tmp_path: Path, capsys):
    assert run(["investigate", str(_folder(tmp_path))]) == 0
    err = capsys.readouterr().err
    assert "1 unreadable" in err and "deep.eml" in err and "warning(s)" in err
