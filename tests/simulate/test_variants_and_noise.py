"""Variant names, and the benign look-alikes that make naive rules fire."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spearhunt.errors import SimulateError
from spearhunt.simulate import AXES, all_variants, parse_variant
from tests.simulate.conftest import Sim, run


def test_variant_tokens_in_any_order_and_missing_axes_from_the_seed() -> None:
    v = parse_variant("cloud+rdp+iso", random.Random(1))
    assert (v.access, v.lateral, v.exfil) == ("iso", "rdp", "cloud")
    assert v.persistence in AXES["persistence"]
    assert parse_variant(v.name, random.Random(99)) == v
    assert parse_variant(None, random.Random(3)) == parse_variant("", random.Random(3))


@pytest.mark.parametrize("name", ["macro+floppy", "macro+iso", "wmi+rdp"])
def test_unknown_or_conflicting_variant_tokens_are_refused(name: str) -> None:
    with pytest.raises(SimulateError):
        parse_variant(name, random.Random(1))


def test_the_covering_set_uses_every_token() -> None:
    for axis, tokens in AXES.items():
        assert {getattr(v, axis) for v in all_variants()} == set(tokens)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    return run(tmp_path_factory.mktemp("noisy"), seed=21, noise=400, days=5)


def _benign(sim: Sim) -> list[dict]:
    bad = sim.malicious_ids
    return [e for evs in sim.endpoint.values() for e in evs if e["SpearhuntEventId"] not in bad]


def test_noise_holds_admin_psexec_and_powershell_bypass(noisy: Sim) -> None:
    benign = _benign(noisy)
    assert any(e["EventID"] == 7045 and e["ServiceName"] == "PSEXESVC" for e in benign)
    assert any(e["EventID"] == 1 and "-ExecutionPolicy Bypass" in e["CommandLine"] for e in benign)
    assert any(e["EventID"] == 4624 and e["LogonType"] == 10 for e in benign)


def test_noise_holds_password_backups_lsass_reads_tasks_and_office_attachments(noisy: Sim) -> None:
    benign = _benign(noisy)
    assert any(
        e["EventID"] == 1 and e["Image"].endswith("\\7z.exe") and " -p" in e["CommandLine"]
        for e in benign
    )
    assert any(e["EventID"] == 10 and e["TargetImage"].endswith("\\lsass.exe") for e in benign)
    assert any(e["EventID"] == 1 and "schtasks.exe /create" in e["CommandLine"] for e in benign)
    assert any(e["EventID"] == 15 and "Content.Outlook" in e["TargetFilename"] for e in benign)
    assert any(e["EventID"] == 1 and e["Image"].endswith("\\msiexec.exe") for e in benign)
    # Office opens documents without spawning shells.
    office = {
        e["ProcessGuid"]
        for e in benign
        if e["EventID"] == 1 and e["Image"].endswith(("\\WINWORD.EXE", "\\EXCEL.EXE"))
    }
    assert office
    assert not [e for e in benign if e["EventID"] == 1 and e["ParentProcessGuid"] in office]


def test_noise_holds_large_legitimate_uploads(noisy: Sim) -> None:
    malicious = {r["uid"] for r in noisy.truth["network"]}
    big = [
        r
        for r in noisy.zeek["conn"]
        if r["uid"] not in malicious
        and r["orig_bytes"] != "-"
        and int(r["orig_bytes"]) > 100_000_000
        and not r["id.resp_h"].startswith("10.")
    ]
    assert len(big) >= 5


def test_cli_writes_and_summarises(tmp_path: Path) -> None:
    import spearhunt.cli.simulate  # noqa: F401  (registers the command)
    from spearhunt.cli.main import app

    args = [
        "simulate",
        "--out",
        str(tmp_path / "o"),
        "--hosts",
        "8",
        "--users",
        "10",
        "--days",
        "4",
        "--noise",
        "20",
        "--variant",
        "iso+wmi+dns",
        "--seed",
        "3",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "iso+" in result.output and "+wmi+dns" in result.output
    assert "truth.json" in result.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code != 0


def test_cli_endpoint_format_evtx_json(tmp_path: Path) -> None:
    import spearhunt.cli.simulate  # noqa: F401  (registers the command)
    from spearhunt.cli.main import app

    args = [
        "simulate",
        "--out",
        str(tmp_path / "o"),
        "--hosts",
        "8",
        "--users",
        "10",
        "--days",
        "4",
        "--noise",
        "20",
        "--seed",
        "3",
        "--endpoint-format",
        "evtx-json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    first = next((tmp_path / "o" / "endpoint").glob("*.jsonl")).read_text().splitlines()[0]
    assert first.startswith('{"Event":{"System":{"Provider":{"#attributes":{"Name":')
    bad = CliRunner().invoke(app, [*args[:2], str(tmp_path / "p"), *args[3:-1], "xml"])
    assert bad.exit_code != 0
