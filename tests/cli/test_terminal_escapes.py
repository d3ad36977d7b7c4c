"""Table output neutralizes terminal control sequences from logs and mail (#15): a log field
must not set the window title, clear the screen or plant an OSC 8 link."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
from rich.text import Text

from spearhunt.cli.console import SafeConsole, neutralize
from spearhunt.cli.main import run

RULE = """
title: Test Whoami
id: 33333333-3333-3333-3333-333333333333
status: test
level: high
logsource: {category: process_creation, product: windows}
detection:
  sel: {Image|endswith: '\\\\whoami.exe'}
  condition: sel
"""
HOSTILE = "\x1b]0;owned\x07\x1b[2J\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\\x9b31m"


def test_neutralize_shows_every_control_character():
    assert neutralize("a\x1b[2Jb\tc\nd\x9be\x7f") == "a\\x1b[2Jb\tc\nd\\x9be\\x7f"


def test_safe_console_keeps_its_own_styles_and_neutralizes_the_text():
    f = io.StringIO()
    SafeConsole(file=f, force_terminal=True, width=200).print(Text(HOSTILE), style="bold")
    printed = f.getvalue()
    assert printed.startswith("\x1b[1m") and printed.rstrip("\n").endswith("\x1b[0m")
    inner = printed.rstrip("\n")[len("\x1b[1m") : -len("\x1b[0m")]
    assert "\x1b" not in inner and "\x9b" not in inner and "\\x1b]0;owned" in inner


def test_hunt_table_does_not_write_escape_sequences_from_logs(tmp_path: Path, capsys):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(RULE)
    event = {
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "EventID": 1,
        "Computer": "ws1" + HOSTILE,
        "TimeCreated": "2024-05-01T10:00:05Z",
        "Image": "C:\\Windows\\System32\\whoami.exe",
        "CommandLine": "whoami " + HOSTILE,
    }
    (tmp_path / "e.jsonl").write_bytes(orjson.dumps(event) + b"\n")
    code = run(["hunt", str(tmp_path / "e.jsonl"), "-r", str(rules), "--no-pack", "-f", "table"])
    captured = capsys.readouterr()
    assert code == 0 and "Test Whoami" in captured.out
    assert "\x1b" not in captured.out + captured.err and "\x9b" not in captured.out
    assert "\\x1b]0;owned" in captured.out
