"""``spearhunt posture`` from the command line: JSON on stdout, outputs with --out, clear
errors for bad inputs (never a traceback)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson

from spearhunt.cli.main import run


def _args(inputs: Any, store: Path) -> list[str]:
    return [
        "posture",
        "--store",
        str(store),
        "--zones",
        str(inputs.zones),
        "--signins",
        str(inputs.signins[0]),
        "--inventory",
        str(inputs.inventory[0]),
        "--kev",
        str(inputs.kev),
        "--vulns",
        str(inputs.vulns[0]),
        "--message-trace",
        str(inputs.traces[0]),
    ]


def test_json_on_stdout_and_files_with_out(case: Any, tmp_path: Path, capsys: Any) -> None:
    store = tmp_path / "case.duckdb"
    shutil.copy(case[0], store)
    assert run(["-q", *_args(case[2], store), "-f", "json", "--out", str(tmp_path / "o")]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert [c["control"] for c in doc["controls"]] == [
        "phishing_reporting",
        "mfa",
        "segmentation",
        "patching",
        "detection_coverage",
    ]
    assert (
        orjson.loads((tmp_path / "o" / "posture.json").read_bytes())["controls"] == doc["controls"]
    )
    layer = orjson.loads((tmp_path / "o" / "navigator-coverage.json").read_bytes())
    assert layer["domain"] == "enterprise-attack" and layer["techniques"]


def test_table_says_unknown_and_what_would_measure_it(
    case: Any, tmp_path: Path, capsys: Any
) -> None:
    store = tmp_path / "case.duckdb"
    shutil.copy(case[0], store)
    assert run(["posture", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "UNKNOWN" in out and "--signins" in out and "--message-trace" in out


def _err(capsys: Any) -> str:
    return " ".join(capsys.readouterr().err.split())  # Rich wraps long lines


def test_bad_inputs_are_clear_errors(case: Any, tmp_path: Path, capsys: Any) -> None:
    store = tmp_path / "case.duckdb"
    shutil.copy(case[0], store)
    assert run(["posture", "--store", str(tmp_path / "none.duckdb")]) == 2
    assert "does not exist" in _err(capsys)
    assert run(["posture", "--store", str(store), "--kev", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in _err(capsys)
    zones = tmp_path / "zones.yml"
    zones.write_text("zones: {ws: [10.0.0.0/8]}\nallow: [{from: ws, to: dmz}]\n")
    assert run(["posture", "--store", str(store), "--zones", str(zones)]) == 1
    assert "no zone named 'dmz'" in _err(capsys)
    assert run(["posture", "--store", str(store), "-f", "xml"]) == 2
    bad_kev = tmp_path / "kev.json"
    bad_kev.write_text('{"vulnerabilities": "nope"}')
    assert run(["posture", "--store", str(store), "--kev", str(bad_kev)]) == 1
    assert "not a KEV catalog" in _err(capsys)
