"""--only: each source generated alone is the same bytes as in a run of all sources."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from spearhunt.errors import SimulateError
from spearhunt.simulate import SOURCES, SimulationConfig, parse_sources, simulate
from tests.simulate.conftest import SMALL, run

# Between them, every lateral technique and exfiltration channel (the campaign's Zeek records).
VARIANTS = ("macro+runkey+psexec+https", "template+service+wmi+cloud", "iso+wmisub+rdp+dns")


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("variant", VARIANTS)
def test_endpoint_only_writes_the_same_endpoint_bytes_as_all_sources(
    tmp_path: Path, variant: str
) -> None:
    full = run(tmp_path / "all", seed=8, variant=variant)
    alone = run(tmp_path / "endpoint", seed=8, variant=variant, sources=("endpoint",))
    assert _digest(alone.out / "endpoint") == _digest(full.out / "endpoint")
    assert alone.result.endpoint_events == full.result.endpoint_events
    assert sorted(p.name for p in alone.out.iterdir()) == ["README.txt", "endpoint", "truth.json"]
    assert alone.result.network_records == {} and alone.result.mails == 0
    assert set(alone.result.paths) == {"endpoint", "truth", "readme"}


def test_endpoint_only_is_the_same_in_the_evtx_json_shape(tmp_path: Path) -> None:
    full = run(tmp_path / "all", seed=9, endpoint_format="evtx-json")
    alone = run(tmp_path / "endpoint", seed=9, endpoint_format="evtx-json", sources=("endpoint",))
    assert _digest(alone.out / "endpoint") == _digest(full.out / "endpoint")


@pytest.mark.parametrize(("source", "folder"), [("zeek", "network"), ("mail", "mail")])
def test_zeek_or_mail_alone_is_the_same_bytes_as_in_all_sources(
    tmp_path: Path, source: str, folder: str
) -> None:
    full = run(tmp_path / "all", seed=8, variant=VARIANTS[2])
    alone = run(tmp_path / source, seed=8, variant=VARIANTS[2], sources=(source,))
    assert _digest(alone.out / folder) == _digest(full.out / folder)
    assert sorted(p.name for p in alone.out.iterdir()) == ["README.txt", folder, "truth.json"]
    assert alone.result.endpoint_events == 0


def test_same_seed_same_bytes_with_one_source(tmp_path: Path) -> None:
    a = run(tmp_path / "a", seed=5, sources=("endpoint",))
    b = run(tmp_path / "b", seed=5, sources=("endpoint",))
    assert _digest(a.out) == _digest(b.out)


def test_truth_leaves_out_what_was_not_generated_and_the_readme_says_so(tmp_path: Path) -> None:
    full = run(tmp_path / "all", seed=8)
    alone = run(tmp_path / "endpoint", seed=8, sources=("endpoint",))
    truth = orjson.loads((alone.out / "truth.json").read_bytes())
    assert truth["sources"] == ["endpoint"] and full.truth["sources"] == list(SOURCES)
    assert "network" not in truth and "mails" not in truth
    assert "mail_file" not in truth["story"]["patient_zero"]
    assert set(truth["counts"]) == {"malicious_events", "events_by_stage"}
    # What is there is what a run of all sources says.
    assert truth["events"] == full.truth["events"]
    full_story = full.truth["story"]
    del full_story["patient_zero"]["mail_file"]
    assert truth["story"] == full_story
    assert all(alone.by_id.get(e["id"]) for e in truth["events"])
    readme = " ".join((alone.out / "README.txt").read_text().split())
    assert (
        "generated only the endpoint logs (--only endpoint), not the mail or the Zeek logs"
        in readme
    )
    assert 'leaves out "network"' in readme and 'leaves out "mails"' in readme
    assert "network/" not in readme.replace("endpoint/ and network/", "")
    full_readme = (full.out / "README.txt").read_text()
    assert "generated only" not in full_readme and "leaves out" not in full_readme


def test_zeek_alone_keeps_the_network_truth(tmp_path: Path) -> None:
    full = run(tmp_path / "all", seed=8, variant=VARIANTS[1])
    alone = run(tmp_path / "zeek", seed=8, variant=VARIANTS[1], sources=("zeek",))
    assert alone.truth["network"] == full.truth["network"]
    assert "events" not in alone.truth
    assert set(alone.truth["counts"]) == {"malicious_network_records"}
    uids = {r["uid"] for rows in alone.zeek.values() for r in rows}
    assert all(r["uid"] in uids for r in alone.truth["network"])


def test_force_with_fewer_sources_removes_the_folders_left_empty(tmp_path: Path) -> None:
    run(tmp_path, seed=3)
    result = simulate(tmp_path, SimulationConfig(**SMALL, seed=3, sources=("mail",)), force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.txt", "mail", "truth.json"]
    assert result.endpoint_events == 0 and result.mails > 0


@pytest.mark.parametrize(
    ("given", "want"),
    [
        (None, SOURCES),
        (["endpoint"], ("endpoint",)),
        (["mail,endpoint"], ("endpoint", "mail")),
        (["Zeek", " mail "], ("zeek", "mail")),
        (["endpoint", "endpoint,zeek"], ("endpoint", "zeek")),
        ("zeek", ("zeek",)),
    ],
)
def test_sources_parse_from_repeated_options_and_comma_lists(
    given: list[str] | str | None, want: tuple[str, ...]
) -> None:
    assert parse_sources(given) == want


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["endpoint,sysmon"], "unknown source 'sysmon'"),
        (["network"], "unknown source 'network'"),
        ([","], "name at least one source"),
        ([], "name at least one source"),
    ],
)
def test_bad_sources_are_refused_naming_the_choices(given: list[str], message: str) -> None:
    with pytest.raises(SimulateError, match=message) as caught:
        parse_sources(given)
    assert caught.value.where == "--only"
    assert "endpoint, zeek, mail" in str(caught.value)


@pytest.mark.parametrize("sources", [(), ("endpoint", "endpoint"), ("endpoint", "pcap")])
def test_config_with_bad_sources_is_refused(tmp_path: Path, sources: tuple[str, ...]) -> None:
    with pytest.raises(SimulateError, match="sources"):
        simulate(tmp_path, SimulationConfig(**SMALL, sources=sources))


def test_cli_only_writes_the_sources_named_and_says_what_it_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import spearhunt.cli.simulate  # noqa: F401  (registers the command)
    from spearhunt.cli.main import app, run

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
    ]
    result = CliRunner().invoke(app, [*args, "--only", "endpoint", "--only", "mail"])
    assert result.exit_code == 0, result.output
    assert "skipped      zeek" in result.output and "network " not in result.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "README.txt",
        "endpoint",
        "mail",
        "truth.json",
    ]
    capsys.readouterr()
    assert run([*args[:2], str(tmp_path / "p"), *args[3:], "--only", "endpoint,pcap"]) == 2
    assert (
        "--only: unknown source 'pcap'; choose from endpoint, zeek, mail" in capsys.readouterr().err
    )
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--hosts", "2"], "--hosts: need at least 6 hosts"),
        (["--variant", "macro+nope"], "--variant: unknown variant token 'nope'"),
        (["--variant", "psexec+wmi"], "--variant: two lateral choices"),
        (["--days", "1"], "--days: need at least 4 days"),
    ],
)
def test_cli_options_the_simulator_cannot_honour_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str], message: str
) -> None:
    from spearhunt.cli.main import run

    out = tmp_path / "o"
    assert run(["simulate", "--out", str(out), *option]) == 2  # the README's usage-error code
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_cli_refuses_a_folder_that_is_not_empty_as_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from spearhunt.cli.main import run

    (tmp_path / "notes.txt").write_text("mine")
    assert run(["simulate", "--out", str(tmp_path), "--hosts", "8", "--days", "4"]) == 2
    assert "not empty (use --force" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
