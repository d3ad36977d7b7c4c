"""Files, formats, determinism and the event-shape contract with the hunt engine."""

from __future__ import annotations

import email
import hashlib
import re
from email.policy import default
from pathlib import Path

import pytest

from spearhunt.errors import SimulateError
from spearhunt.simulate import SimulationConfig, simulate
from tests.simulate.conftest import SMALL, Sim, read_zeek, run

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
CHANNELS = {
    "Microsoft-Windows-Sysmon/Operational": "Microsoft-Windows-Sysmon",
    "Security": "Microsoft-Windows-Security-Auditing",
    "System": "Service Control Manager",
    "Microsoft-Windows-PowerShell/Operational": "Microsoft-Windows-PowerShell",
    "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational": "Microsoft-Windows-TerminalServices-RemoteConnectionManager",
}


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_layout_is_exactly_as_documented(any_sim: Sim) -> None:
    out = any_sim.out
    assert sorted(p.name for p in out.iterdir()) == [
        "README.txt",
        "endpoint",
        "mail",
        "network",
        "posture",
        "truth.json",
    ]
    assert sorted(str(p.relative_to(out / "posture")) for p in (out / "posture").rglob("*.*")) == [
        "cve/CVE-2023-23397.json",
        "inventory.jsonl",
        "kev.json",
        "message-trace.csv",
        "signins.json",
        "zones.yml",
    ]
    hosts = {h["name"] for h in any_sim.truth["organisation"]["hosts"]}
    assert {p.stem for p in (out / "endpoint").glob("*.jsonl")} == hosts
    assert sorted(p.name for p in (out / "network").iterdir()) == [
        "conn.log",
        "dns.log",
        "http.log",
        "ssl.log",
    ]
    assert all(p.suffix == ".eml" for p in (out / "mail").iterdir())
    readme = (out / "README.txt").read_text()
    assert "truth.json" in readme and any_sim.truth["variant"]["name"] in readme


def test_readme_says_the_lures_are_inert_and_differ_from_the_logs(any_sim: Sim) -> None:
    readme = " ".join((any_sim.out / "README.txt").read_text().split())
    assert "The lure files are inert." in readme
    assert "real content therefore differs from what the logs show" in readme
    assert "command lines" in readme


def test_every_event_has_the_system_fields_and_ordered_ids(any_sim: Sim) -> None:
    seen: set[str] = set()
    for host, events in any_sim.endpoint.items():
        assert events
        last_time = ""
        last_rid: dict[str, int] = {}
        for ev in events:
            assert isinstance(ev["EventID"], int) and isinstance(ev["EventRecordID"], int)
            assert CHANNELS[ev["Channel"]] == ev["Provider_Name"]
            assert ev["Computer"] == f"{host}.corp.example"
            assert ISO_Z.match(ev["TimeCreated"]), ev["TimeCreated"]
            assert ev["TimeCreated"] >= last_time
            last_time = ev["TimeCreated"]
            assert ev["EventRecordID"] == last_rid.get(ev["Channel"], 0) + 1
            last_rid[ev["Channel"]] = ev["EventRecordID"]
            assert ev["SpearhuntEventId"] not in seen
            seen.add(ev["SpearhuntEventId"])
            if ev["EventID"] == 1 and ev["Channel"].endswith("Sysmon/Operational"):
                assert ev["UtcTime"].replace(" ", "T")[:23] == ev["TimeCreated"][:23]
                assert (
                    "SHA256=" in ev["Hashes"]
                    and ev["ParentImage"]
                    and ev["OriginalFileName"] is not None
                )


def test_truth_ids_exist_in_the_logs(any_sim: Sim) -> None:
    truth = any_sim.truth
    for item in truth["events"]:
        ev = any_sim.by_id[item["id"]]
        assert ev["EventID"] == item["event_id"] and ev["Channel"] == item["channel"]
        assert ev["Computer"].split(".")[0] == item["host"]
        assert ev["TimeCreated"] == item["time"]
    uids = {name: {r["uid"] for r in rows} for name, rows in any_sim.zeek.items()}
    assert truth["network"]
    for rec in truth["network"]:
        assert rec["uid"] in uids[rec["log"]], rec
    assert truth["mails"][0]["file"] == truth["story"]["patient_zero"]["mail_file"]


def test_zeek_logs_have_headers_and_time_order(any_sim: Sim) -> None:
    for name in ("conn", "dns", "http", "ssl"):
        path = any_sim.out / "network" / f"{name}.log"
        fields, rows, header = read_zeek(path)
        assert header[0] == "#separator \\x09"
        types = next(h for h in header if h.startswith("#types\t")).split("\t")[1:]
        assert len(types) == len(fields) and fields[:2] == ["ts", "uid"]
        assert f"#path\t{name}" in header and header[-1].startswith("#close\t")
        stamps = [float(r["ts"]) for r in rows]
        assert stamps == sorted(stamps) and rows, name


def test_every_mail_parses_and_the_phish_is_the_only_malicious_one(any_sim: Sim) -> None:
    files = sorted((any_sim.out / "mail").glob("*.eml"))
    assert len(files) > 20
    kinds = set()
    for path in files:
        msg = email.message_from_bytes(path.read_bytes(), policy=default)
        assert msg["Message-ID"] and msg["From"] and msg["Date"] and msg["To"]
        kinds.add(msg["From"].addresses[0].domain)
    assert "aldergrove-dynamics.example" in kinds and len(kinds) > 5
    assert [m["message_id"] for m in any_sim.truth["mails"]] == [
        any_sim.truth["story"]["patient_zero"]["message_id"]
    ]


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    a = run(tmp_path / "a", seed=5)
    b = run(tmp_path / "b", seed=5)
    c = run(tmp_path / "c", seed=6)
    assert _digest(a.out) == _digest(b.out)
    assert _digest(a.out)["truth.json"] != _digest(c.out)["truth.json"]
    assert _digest(a.out)["network/conn.log"] != _digest(c.out)["network/conn.log"]


def test_scale_multiplies_noise(tmp_path: Path) -> None:
    one = simulate(tmp_path / "x1", SimulationConfig(**SMALL, seed=4))
    three = simulate(tmp_path / "x3", SimulationConfig(**SMALL, seed=4, scale=3))
    bad = one.truth["counts"]["malicious_events"]
    assert three.truth["counts"]["malicious_events"] == bad
    assert 2.5 * (one.endpoint_events - bad) < three.endpoint_events - bad
    assert three.endpoint_events - bad < 3.5 * (one.endpoint_events - bad)
    assert three.truth["story"] == one.truth["story"]


def test_refuses_a_non_empty_folder_without_force(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(SimulateError, match="not empty"):
        simulate(tmp_path, SimulationConfig(**SMALL))
    result = simulate(tmp_path, SimulationConfig(**SMALL), force=True)
    assert result.truth_path.exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"hosts": 3},
        {"days": 2},
        {"scale": 0},
        {"noise": -1},
        {"variant": "macro+usb"},
        {"variant": "psexec+rdp"},
    ],
)
def test_bad_settings_raise_simulate_error(tmp_path: Path, bad: dict[str, object]) -> None:
    with pytest.raises(SimulateError):
        simulate(tmp_path, SimulationConfig(**{**SMALL, **bad}))  # type: ignore[arg-type]
