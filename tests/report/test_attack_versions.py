"""ATT&CK v19, the version SigmaHQ's rules tag (stealth, defense-impairment, T1685.*), and the
older rule sets and stored cases that still say defense-evasion and T1562.*."""

from __future__ import annotations

import json

import pytest

from spearhunt.cli.main import run
from spearhunt.model.attack import (
    ATTACK_VERSION,
    TACTIC_ORDER,
    current_technique,
    tactic_id,
    tactic_rank,
)
from spearhunt.model.detection import attack_tactics, attack_techniques
from spearhunt.report.attack import matrix
from tests.conftest import shared_data


def test_v19_tactics_are_known_in_kill_chain_order():
    assert tactic_id("stealth") == "TA0005"
    assert tactic_id("defense_impairment") == "TA0112"
    assert "defense_evasion" not in TACTIC_ORDER
    assert (
        tactic_rank("privilege_escalation")
        < tactic_rank("stealth")
        < tactic_rank("defense_impairment")
        < tactic_rank("credential_access")
    )
    tags = ("attack.stealth", "attack.defense-impairment", "attack.t1685.005")
    assert attack_tactics(tags) == ("stealth", "defense_impairment")
    assert attack_techniques(tags) == ("T1685.005",)


@pytest.mark.parametrize(
    ("tags", "tactics", "techniques"),
    [
        # an older rule that disables a tool: Defense Impairment, under the v19 id
        (("attack.defense-evasion", "attack.t1562.001"), ("defense_impairment",), ("T1685",)),
        (("attack.defense_evasion", "attack.t1070.001"), ("defense_impairment",), ("T1685.005",)),
        # one that hides: Stealth (TA0005 kept its id)
        (("attack.defense-evasion", "attack.t1218.011"), ("stealth",), ("T1218.011",)),
        (("attack.defense-evasion",), ("stealth",), ()),
        # both kinds of technique: both tactics
        (
            ("attack.defense-evasion", "attack.t1027", "attack.t1562.002"),
            ("stealth", "defense_impairment"),
            ("T1027", "T1685.001"),
        ),
        # not an ATT&CK tactic at all: nothing
        (("attack.evasion", "car.2016-04-002"), (), ()),
    ],
)
def test_older_rule_sets_read_as_v19(tags, tactics, techniques):
    assert attack_tactics(tags) == tactics
    assert attack_techniques(tags) == techniques


def test_the_matrix_places_and_names_v19_and_revoked_ids():
    m = matrix()
    assert m.place("T1685.005") == ("defense_impairment",)
    assert m.name("T1562.002") == "Disable or Modify Windows Event Log"  # revoked -> T1685.001
    assert m.full_name("T1685.005") == "Disable or Modify Tools: Clear Windows Event Logs"
    assert current_technique("t1562.001") == "T1685"
    assert current_technique("T1059.001") == "T1059.001"
    # a case stored before v19 says defense_evasion: it is shown as Stealth, not dropped
    stealth = m.tactic("defense-evasion")
    assert stealth is not None and stealth.key == "stealth"
    assert m.place("T1218.011", ["defense_evasion"]) == ("stealth",)


@pytest.mark.shared_data
def test_sigmahq_eventlog_cleared_counts_under_defense_impairment(tmp_path, capsys):
    rule = shared_data("sigma", "rules", "windows", "builtin", "security")
    rule = rule / "win_security_audit_log_cleared.yml"
    evtx = shared_data(
        "evtx-attack-samples", "Defense Evasion", "DE_1102_security_log_cleared.evtx"
    )
    args = ["-q", "hunt", str(evtx), "-r", str(rule), "--no-pack", "-f", "json"]
    assert run(args) == 0
    doc = json.loads(capsys.readouterr().out)
    cleared = [d for d in doc["detections"] if d["rule_title"] == "Security Eventlog Cleared"]
    assert cleared, "the SigmaHQ rule must fire on its sample"
    assert {tuple(d["tactics"]) for d in cleared} == {("defense_impairment",)}
    assert {tuple(d["techniques"]) for d in cleared} == {("T1685.005",)}
    assert doc["summary"]["by_tactic"] == {"defense_impairment": len(cleared)}


def test_navigator_layers_declare_the_version_their_ids_come_from():
    from spearhunt.report.document import TechniqueUse
    from spearhunt.report.navigator import layer

    use = TechniqueUse(
        "T1685.005", "defense_impairment", 1, "high", rules=("Security Eventlog Cleared",)
    )
    doc = layer("case", "test", [use])
    assert doc["versions"]["attack"] == ATTACK_VERSION == "19"
    assert doc["techniques"][0]["tactic"] == "defense-impairment"
