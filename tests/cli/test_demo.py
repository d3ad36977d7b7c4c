"""`spearhunt demo` on a fresh install: simulate, triage, hunt, print, keep the outputs."""

from __future__ import annotations

import orjson

from spearhunt.cli.main import run


def test_demo_runs_every_stage_and_keeps_outputs(tmp_path, capsys):
    assert run(["demo", "--out", str(tmp_path / "d"), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "1. Mail triage" in out and "MALICIOUS" in out
    assert "2. Hunt" in out
    assert "execution" in out
    assert "patient zero" in out
    mails = [orjson.loads(x) for x in (tmp_path / "d" / "mail.jsonl").read_bytes().splitlines()]
    assert any(m["verdict"] == "malicious" for m in mails)
    assert (tmp_path / "d" / "detections.jsonl").stat().st_size > 0
    assert (tmp_path / "d" / "case.duckdb").exists()
    report = tmp_path / "d" / "report"
    assert "4. Defences" in out and "Network segmentation" in out and "FAIL" in out
    assert "5. Report" in out and str(report / "report.html") in out
    for name in (
        "report.html",
        "navigator-case.json",
        "stix-bundle.json",
        "timesketch.jsonl",
        "timesketch.csv",
    ):
        assert (report / name).stat().st_size > 0, name


def test_demo_refuses_a_non_empty_folder(tmp_path, capsys):
    (tmp_path / "x").write_text("keep me")
    assert run(["demo", "--out", str(tmp_path)]) == 2
    assert (tmp_path / "x").read_text() == "keep me"


def test_demo_tactic_table_keeps_tactic_time_and_hosts_on_one_line_at_80_columns(
    tmp_path, capsys, monkeypatch
):
    import re

    monkeypatch.setenv("COLUMNS", "80")
    assert run(["demo", "--out", str(tmp_path / "d"), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    table = out.split("First detection per ATT&CK tactic", 1)[1].split("Answer key", 1)[0]
    rows = [r for r in table.splitlines() if re.match(r"^ [a-z_]+ +\d{4}-\d\d-\d\d \d\d:\d\d ", r)]
    assert len(rows) >= 4
    assert "…" not in table  # no tactic or host cut short
    assert all(len(line) <= 80 for line in table.splitlines())
