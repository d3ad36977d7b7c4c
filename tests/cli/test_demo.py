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
