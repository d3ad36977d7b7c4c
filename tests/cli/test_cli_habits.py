"""Habits every command shares: help that reads as written, -q and -v, exit codes by the kind
of mistake, and refusing to mix a new output with an old one."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
import typer

from spearhunt.cli.help import first_sentence, type_word
from spearhunt.cli.main import app, run

# What Typer >= 0.20 prints for Python annotations, and Typer's required-argument braces.
PYTHON_LABELS = re.compile(r"<(?:int|str|bool|float|path|list\[[^\]]*\]|Path)>|\{[a-z_]+\}")

EVENT = {
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Provider_Name": "Microsoft-Windows-Sysmon",
    "EventID": 1,
    "Computer": "ws1",
    "TimeCreated": "2024-05-01T10:00:00Z",
    "EventRecordID": 1,
    "Image": "C:\\Windows\\System32\\cmd.exe",
    "ParentImage": "C:\\Program Files\\Microsoft Office\\WINWORD.EXE",
    "CommandLine": "cmd.exe /c whoami",
}


def _commands(typer_app: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    run(["--version"])  # registers every command module
    found: list[tuple[str, ...]] = []
    for info in typer_app.registered_commands:
        name = info.name or (info.callback.__name__ if info.callback else "")
        found.append((*prefix, name))
    for group in typer_app.registered_groups:
        if group.typer_instance is not None and group.name:
            found.append((*prefix, group.name))
            found += _commands(group.typer_instance, (*prefix, group.name))
    return found


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert run([*argv, "--help"]) == 0
    return capsys.readouterr().out


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "ws1.jsonl"
    path.write_bytes(orjson.dumps(EVENT) + b"\n")
    return path


def test_every_help_page_shows_words_not_python_types(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    commands = _commands(app)
    assert ("hunt",) in commands and ("rules", "check") in commands
    for argv in [(), *commands]:
        text = _help(capsys, *argv)
        assert "Usage:" in text
        assert not PYTHON_LABELS.search(text), (argv, PYTHON_LABELS.search(text))
    hunt = _help(capsys, "hunt")
    assert "PATHS..." in hunt and "INTEGER" in hunt and "PATH" in hunt
    assert "spearhunt[spark]" in hunt  # not eaten as Rich markup


def test_command_list_shows_whole_first_sentences(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    text = _help(capsys)
    listing = text.split("Commands", 1)[1]
    rows = [re.sub(r"[│╰╯─]", "", line).strip() for line in listing.splitlines()]
    summaries = " ".join(r for r in rows if r)
    # each command's summary is one sentence: it ends with a full stop before the next name
    for info in app.registered_commands:
        assert info.short_help and info.short_help.endswith("."), info.name
        assert " ".join(info.short_help.split()[:4]) in summaries


def test_first_sentence_joins_lines_and_stops_at_the_full_stop():
    doc = "Write the case's reports from the store: HTML,\n    Navigator (v19). Re-runs nothing."
    assert first_sentence(doc) == "Write the case's reports from the store: HTML, Navigator (v19)."
    assert first_sentence("Version 1.5 of the rules, e.g. this one") == (
        "Version 1.5 of the rules, e.g. this one"
    )


def test_type_words_are_clicks():
    assert type_word("<int>") == "INTEGER"
    assert type_word("<list[Path]>") == "PATH"
    assert type_word("<list[str]>") == "TEXT"
    assert type_word("<a|b>") == "[a|b]"


def test_missing_inputs_are_usage_errors_whatever_the_option(tmp_path, capsys):
    missing = str(tmp_path / "nope.duckdb")
    assert run(["hunt", str(tmp_path / "nope")]) == 2
    assert run(["correlate", "--store", missing]) == 2
    assert run(["story", "--store", missing, "S-1"]) == 2
    assert run(["report", "--store", missing, "--out", str(tmp_path / "r")]) == 2
    assert run(["correlate", "--store", missing, "--allowlist", missing]) == 2
    assert not (tmp_path / "nope.duckdb").exists()  # nothing created on the way
    assert "does not exist" in capsys.readouterr().err


def test_spark_options_without_the_spark_engine_are_refused(events, capsys):
    assert run(["hunt", str(events), "--spark-master", "local[2]"]) == 2
    assert "--engine spark" in capsys.readouterr().err
    assert run(["hunt", str(events), "--spark-conf", "spark.executor.memory=8g"]) == 2


def test_quiet_hunt_prints_only_results_and_verbose_adds_the_engine(events, capsys):
    assert run(["-q", "hunt", str(events), "-f", "jsonl"]) == 0
    got = capsys.readouterr()
    assert [orjson.loads(x)["computer"] for x in got.out.splitlines()] == ["ws1"]
    assert got.err == ""
    assert run(["hunt", str(events), "-f", "jsonl"]) == 0
    plain = capsys.readouterr().err
    assert run(["-v", "hunt", str(events), "-f", "jsonl"]) == 0
    verbose = capsys.readouterr().err
    assert "engine:" in verbose and "engine:" not in plain


def test_hunt_summary_titles_are_whole_lines(events, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert run(["hunt", str(events)]) == 0
    text = capsys.readouterr().out
    lines = [line.strip() for line in text.splitlines()]
    for title in ("Detections by level", "By ATT&CK tactic", "Top rules", "Top hosts"):
        assert title in lines, title


def test_quiet_simulate_prints_nothing(tmp_path, capsys):
    args = ["--hosts", "6", "--users", "4", "--days", "4", "--noise", "5", "--only", "endpoint"]
    assert run(["-q", "simulate", "--out", str(tmp_path / "sim"), *args]) == 0
    got = capsys.readouterr()
    assert got.out == "" and got.err == ""
    assert (tmp_path / "sim" / "truth.json").exists()


def test_convert_refuses_a_non_empty_out_unless_forced(tmp_path, capsys):
    out = tmp_path / "sql"
    out.mkdir()
    (out / "old_rule.sql").write_text("SELECT 1")
    (out / "notes.txt").write_text("mine")
    assert run(["convert", "--rules", str(tmp_path), "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (out / "old_rule.sql").exists()
    assert run(["-q", "convert", "--rules", str(tmp_path), "--out", str(out), "--force"]) == 0
    assert not (out / "old_rule.sql").exists()  # an earlier conversion does not mix in
    assert (out / "notes.txt").exists() and (out / "_view.sql").exists()


def test_rules_check_says_which_placeholders_a_folder_waits_for(tmp_path, capsys):
    (tmp_path / "admins.yml").write_text(
        "title: Logon From Admin Workstations\n"
        "id: 33333333-3333-3333-3333-333333333333\n"
        "status: test\nlevel: medium\n"
        "logsource: {product: windows, service: security}\n"
        "detection:\n  sel: {EventID: 4624, WorkstationName|expand: '%Admins_Workstations%'}\n"
        "  condition: sel\n"
    )
    assert run(["rules", "check", str(tmp_path), "--no-cache"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "1 rules read: 0 compiled" in text
    assert "wait for placeholder values (%Admins_Workstations%)" in text
    assert "--placeholders" in text
