"""Broken Outlook .msg files (#15): each is a failure row or a warning for that file, while the
other mail of the run is still triaged and stored, by `mail` and by `investigate`.

The broken files are made from a real .msg of the shared data (strangeDate.msg, from
msg-extractor's examples): its first 4 KiB (a truncated OLE file), its OLE storage with every
message stream renamed (an OLE file that is no message), and its body streams renamed (a .msg
with no body)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
import pytest

from spearhunt.cli import main
from spearhunt.errors import MailError
from spearhunt.ingest.mail import DEFAULT_LIMITS
from spearhunt.ingest.mail.msg import parse_msg
from spearhunt.pipeline import CaseInputs, CaseOptions, build_case
from spearhunt.store.case import open_case
from tests.conftest import shared_data
from tests.mail.helpers import fx

pytestmark = pytest.mark.shared_data

NO_BODY = "msg has no readable body"


def _u(name: str) -> bytes:
    return name.encode("utf-16-le")  # OLE directory entries name streams in UTF-16


def _renamed(data: bytes, pairs: list[tuple[str, str]]) -> bytes:
    out = data
    for old, new in pairs:
        assert len(old) == len(new) and _u(old) in out
        out = out.replace(_u(old), _u(new))
    return out


def _broken() -> dict[str, bytes]:
    real = shared_data("mail", "msg", "strangeDate.msg").read_bytes()
    not_a_message = _renamed(
        real,
        [
            ("__substg1.0_", "__substx1.0_"),
            ("__properties_version1.0", "__propertiez_version1.0"),
            ("__recip_version1.0", "__recix_version1.0"),
            ("__nameid_version1.0", "__nameix_version1.0"),
        ],
    )
    # plain text and RTF body streams renamed to property ids no reader knows
    no_body = _renamed(real, [("__substg1.0_1000001F", "__substg1.0_7FF0001F")])
    no_body = no_body.replace(_u("__substg1.0_10090102"), _u("__substg1.0_7FF90102"), 1)
    return {
        "real.msg": real,
        "truncated.msg": real[:4096],
        "not-a-message.msg": not_a_message,
        "no-body.msg": no_body,
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "reported"
    out.mkdir()
    for name, data in _broken().items():
        (out / name).write_bytes(data)
    (out / "good.eml").write_bytes(fx.mail("Minutes attached", {"minutes.txt": b"hello"}))
    return out


@pytest.mark.parametrize("name", ["truncated.msg", "not-a-message.msg"])
def test_unreadable_msg_raises_a_mail_error_naming_the_file(name: str, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(MailError, match=r"not a readable Outlook \.msg") as err:
        parse_msg(_broken()[name], name, DEFAULT_LIMITS)
    assert err.value.where == name
    # said once, by the MailError: extract-msg's own ERROR line is not printed beside it
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_msg_without_body_is_read_with_a_warning_and_a_real_msg_without() -> None:
    broken = parse_msg(_broken()["no-body.msg"], "no-body.msg", DEFAULT_LIMITS)
    assert (broken.text, broken.html) == ("", "")
    assert any(NO_BODY in w for w in broken.warnings)
    assert ("Subject", "MSG Test File") in broken.headers  # the rest of the message is read
    real = parse_msg(_broken()["real.msg"], "real.msg", DEFAULT_LIMITS)
    assert real.text and not any(NO_BODY in w for w in real.warnings)


def test_mail_command_lists_broken_msg_as_errors_and_triages_and_stores_the_rest(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(main, "COMMAND_MODULES", ("spearhunt.cli.mail",))
    out, store = tmp_path / "out.json", tmp_path / "case.duckdb"
    code = main.run(["mail", str(folder), "-f", "json", "-o", str(out), "--store", str(store)])
    assert code == 0
    doc = json.loads(out.read_text())
    errors = {Path(e["file"]).name: e["error"] for e in doc["summary"]["errors"]}
    assert set(errors) == {"truncated.msg", "not-a-message.msg"}
    assert all(e.startswith("not a readable Outlook .msg") for e in errors.values())
    judged = {Path(m["file"]).name: m for m in doc["messages"]}
    assert set(judged) == {"real.msg", "no-body.msg", "good.eml"}
    assert any(NO_BODY in w for w in judged["no-body.msg"]["warnings"])
    err = capsys.readouterr().err.replace("\n", "")  # unwrapped: Rich wraps at 80 columns
    assert "truncated.msg" in err and "not-a-message.msg" in err
    assert "ERROR" not in err
    con = duckdb.connect(str(store), read_only=True)
    try:
        stored = {Path(f).name for (f,) in con.execute("SELECT file FROM mail_messages").fetchall()}
    finally:
        con.close()
    assert stored == set(judged)


def test_investigate_keeps_a_warning_row_per_broken_msg_and_the_rest_of_the_mail(
    folder: Path, tmp_path: Path
) -> None:
    store = tmp_path / "case.duckdb"
    heard: list[str] = []
    summary = build_case(
        CaseInputs.sniff([str(folder)]),
        store,
        CaseOptions(),
        on_warning=lambda w: heard.append(Path(w.source).name),
    )
    assert (len(summary.verdicts), summary.unreadable_mails) == (3, 2)
    assert sorted(heard) == ["not-a-message.msg", "truncated.msg"]
    with open_case(store) as case:
        rows = case.con.execute("SELECT source, message FROM warnings").fetchall()
        stored = case.con.execute("SELECT file FROM mail_messages").fetchall()
    assert sorted((Path(s).name, m.split(":")[0]) for s, m in rows) == [
        ("not-a-message.msg", "mail not analysed"),
        ("truncated.msg", "mail not analysed"),
    ]
    assert sorted(Path(f).name for (f,) in stored) == ["good.eml", "no-body.msg", "real.msg"]
