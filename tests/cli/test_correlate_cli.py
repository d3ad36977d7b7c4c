"""`spearhunt investigate`, `correlate` and `story` as an analyst runs them on a simulation."""

from __future__ import annotations

import orjson
import pytest

from spearhunt.cli.main import run
from spearhunt.simulate import SimulationConfig, simulate


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    base = tmp_path_factory.mktemp("case")
    sim = simulate(
        base / "sim",
        SimulationConfig(
            seed=5, hosts=8, users=10, days=5, noise=30, variant="macro+runkey+psexec+https"
        ),
    )
    # the case every test reads, made here so that each test also runs alone
    assert run(["-q", "investigate", str(sim.out_dir), "--store", str(base / "case.duckdb")]) == 0
    return base, sim


def test_investigate_json_contract_and_truth(case, capsys):
    base, sim = case
    store = base / "fresh.duckdb"
    assert run(["-q", "investigate", str(sim.out_dir), "--store", str(store), "-f", "json"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    stories = doc["stories"]
    assert stories and stories == sorted(stories, key=lambda s: -s["score"])
    top = stories[0]
    for key in (
        "id",
        "score",
        "score_parts",
        "patient_zero",
        "hosts",
        "exfiltration",
        "stages",
        "techniques",
        "evidence",
    ):
        assert key in top
    truth = sim.truth["story"]
    assert top["patient_zero"]["host"].split(".")[0] == truth["patient_zero"]["host"]
    assert top["patient_zero"]["message_id"] == truth["patient_zero"]["message_id"]
    reached = {h["host"].split(".")[0] for h in top["hosts"]}
    assert {h["host"] for h in truth["lateral_hosts"]} <= reached
    dests = {x["destination"] for x in top["exfiltration"]}
    assert any(
        t["destination"]["domain"] in dests or t["destination"]["ip"] in dests
        for t in truth["exfiltration"]
    )


def test_correlate_again_and_story_by_prefix_are_stable(case, capsys):
    base, _ = case
    store = base / "case.duckdb"
    assert run(["-q", "correlate", "--store", str(store), "-f", "json"]) == 0
    first = orjson.loads(capsys.readouterr().out)
    assert run(["-q", "correlate", "--store", str(store), "-f", "json"]) == 0
    again = orjson.loads(capsys.readouterr().out)
    assert [s["id"] for s in first["stories"]] == [s["id"] for s in again["stories"]]
    sid = first["stories"][0]["id"]
    assert run(["story", "--store", str(store), sid[:6]]) == 0
    out = capsys.readouterr().out
    assert sid in out


def test_correlate_without_store_is_a_usage_error(tmp_path, capsys):
    assert run(["correlate", "--store", str(tmp_path / "none.duckdb")]) in (1, 2)
    assert "Traceback" not in capsys.readouterr().err


def test_allowlist_applies_at_correlation_time_without_reingesting(case, tmp_path, capsys):
    base, sim = case
    store = base / "case.duckdb"
    assert run(["-q", "correlate", "--store", str(store), "-f", "json"]) == 0
    before = orjson.loads(capsys.readouterr().out)["stories"][0]
    exfil = sim.truth["story"]["exfiltration"][0]["destination"]
    allow = tmp_path / "allow.yml"
    allow.write_text(f"domains: ['{exfil['domain']}']\nips: ['{exfil['ip']}']\n")
    assert (
        run(["-q", "correlate", "--store", str(store), "-f", "json", "--allowlist", str(allow)])
        == 0
    )
    after = orjson.loads(capsys.readouterr().out)["stories"][0]
    dests = {x["destination"] for x in after["exfiltration"]}
    assert before["exfiltration"] and exfil["domain"] not in dests and exfil["ip"] not in dests
    assert after["patient_zero"]["host"] == before["patient_zero"]["host"]


BURST = """
title: Test Office Shells On One Host
id: 99999999-0000-4000-8000-000000000001
status: test
correlation:
    type: event_count
    rules: [6b2f3c1e-5a0d-4c1e-9f62-0d9a1e7b3c01]
    group-by: [Computer]
    timespan: 30d
    condition: {gte: 1}
level: high
"""


def test_investigate_runs_the_correlation_rules_in_its_rule_folders(case, tmp_path, capsys):
    # --rules folders hold detection and correlation rules alike; investigate used to hand
    # them to the hunt only, so a correlation rule there never ran.
    _, sim = case
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "burst.yml").write_text(BURST)
    store = tmp_path / "case.duckdb"
    assert (
        run(
            [
                "-q",
                "investigate",
                str(sim.out_dir),
                "--store",
                str(store),
                "-r",
                str(rules),
                "-f",
                "json",
            ]
        )
        == 0
    )
    doc = orjson.loads(capsys.readouterr().out)
    titles = {c["title"] for c in doc["correlations"]}
    assert "Test Office Shells On One Host" in titles
    # and the same rule folder on a case without the rule's base detections gives nothing
    (rules / "burst.yml").write_text(
        BURST.replace(
            "6b2f3c1e-5a0d-4c1e-9f62-0d9a1e7b3c01", "00000000-0000-4000-8000-00000000dead"
        )
    )
    store2 = tmp_path / "case2.duckdb"
    assert (
        run(
            [
                "-q",
                "investigate",
                str(sim.out_dir),
                "--store",
                str(store2),
                "-r",
                str(rules),
                "-f",
                "json",
            ]
        )
        == 0
    )
    doc = orjson.loads(capsys.readouterr().out)
    assert "Test Office Shells On One Host" not in {c["title"] for c in doc["correlations"]}
