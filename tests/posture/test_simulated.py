"""``spearhunt posture`` on a simulated case gives every finding truth.json names, for every
control, and ``unknown`` with the reason when a control's input is removed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest

from spearhunt.model.posture import PostureResult
from spearhunt.posture.run import PostureInputs, assess_case


@pytest.fixture(scope="module")
def result(case: tuple[Path, dict[str, Any], PostureInputs]) -> PostureResult:
    return assess_case(case[2])


def _kinds(result: PostureResult, control: str) -> dict[str, list[Any]]:
    c = result.control(control)
    assert c is not None
    out: dict[str, list[Any]] = {}
    for f in c.findings:
        out.setdefault(f.kind, []).append(f)
    return out


def test_every_control_is_judged_with_all_inputs(result: PostureResult) -> None:
    assert [c.control for c in result.controls] == [
        "phishing_reporting",
        "mfa",
        "segmentation",
        "patching",
        "detection_coverage",
    ]
    assert all(c.status != "unknown" for c in result.controls)
    assert all(0 <= c.score <= 100 for c in result.controls)
    assert not result.warnings


def test_phishing_truth(case: Any, result: PostureResult) -> None:
    want = case[1]["posture"]["findings"]["phishing_reporting"]
    c = result.control("phishing_reporting")
    assert c is not None
    figures = dict(c.figures)
    assert int(figures["recipients"]) == len(want["recipients"])
    assert int(figures["reporters"]) == len(want["reporters"])
    opened = _kinds(result, "phishing_reporting")["opened_not_reported"]
    assert [(f.account, f.host) for f in opened] == [
        (want["opened_not_reported"]["account"], want["opened_not_reported"]["host"])
    ]
    story = result.steps[0].story
    assert story in opened[0].stories
    listing = _kinds(result, "phishing_reporting")["campaign_recipients"][0]
    for r in want["recipients"]:
        assert any(e.startswith(r) for e in listing.evidence)


def test_mfa_truth(case: Any, result: PostureResult) -> None:
    want = case[1]["posture"]["findings"]["mfa"]
    kinds = _kinds(result, "mfa")
    intruder = kinds["story_signin"]
    assert any(
        f.account == want["story_signin"]["account"] and want["story_signin"]["ip"] in f.title
        for f in intruder
    )
    assert all(f.stories and f.severity == "critical" for f in intruder)
    assert want["remote_logon_no_mfa"]["account"] in {
        f.account for f in kinds["remote_logon_no_mfa"]
    }
    assert want["legacy_protocol"]["account"] in {f.account for f in kinds["legacy_protocol"]}


def test_segmentation_truth(case: Any, result: PostureResult) -> None:
    want = case[1]["posture"]["findings"]["segmentation"]["moves"]
    kinds = _kinds(result, "segmentation")
    for move in want:
        got = [
            f for f in kinds.get(move["kind"], []) if f"{move['from']} -> {move['to']}" in f.title
        ]
        assert got, move
        assert got[0].stories


def test_patching_truth(case: Any, result: PostureResult) -> None:
    want = case[1]["posture"]["findings"]["patching"]
    got = _kinds(result, "patching")[want["kind"]]
    assert [(f.host, want["cve"] in f.title, want["version"] in f.title) for f in got] == [
        (want["host"], True, True)
    ]
    assert got[0].stories  # patient zero is in the story


def test_coverage_truth(case: Any, result: PostureResult) -> None:
    want = case[1]["posture"]["findings"]["detection_coverage"]["missing_sysmon"]
    got = {f.host for f in _kinds(result, "detection_coverage")["missing_sysmon"]}
    assert got == set(want)
    assert result.coverage and any(n for _, n, _ in result.coverage)


def test_step_table_names_a_defence_for_each_move(case: Any, result: PostureResult) -> None:
    moves = case[1]["story"]["lateral_hosts"]
    for m in moves:
        rows = [s for s in result.steps if f"{m['from_host']} -> {m['host']}" in s.step]
        assert {r.control for r in rows} >= {"segmentation", "detection_coverage"}
    verdicts = {s.verdict for s in result.steps}
    assert "would have stopped" in verdicts and "did not stop" in verdicts


@pytest.mark.parametrize(
    ("field", "control", "reason"),
    [
        ("traces", "phishing_reporting", "--message-trace"),
        ("signins", "mfa", "--signins"),
        ("inventory", "patching", "--inventory"),
        ("kev", "patching", "--kev"),
    ],
)
def test_removing_an_input_makes_its_control_unknown(
    case: Any, field: str, control: str, reason: str
) -> None:
    empty: Any = None if field == "kev" else ()
    r = assess_case(dataclasses.replace(case[2], **{field: empty}))
    c = r.control(control)
    assert c is not None and c.status == "unknown" and reason in c.summary
    assert all(o.status != "unknown" for o in r.controls if o.control != control)


def test_without_zones_a_default_policy_is_used_and_said(case: Any) -> None:
    r = assess_case(dataclasses.replace(case[2], zones=None))
    c = r.control("segmentation")
    assert c is not None and c.status != "unknown" and "default policy" in c.summary


def test_result_round_trips_through_json(result: PostureResult) -> None:
    doc = orjson.loads(orjson.dumps(result.to_dict()))
    assert PostureResult.from_dict(doc).to_dict() == result.to_dict()
    assert set(doc["controls"][0]) >= {
        "control",
        "status",
        "score",
        "summary",
        "inputs",
        "findings",
    }
    assert set(doc["controls"][1]["findings"][0]) >= {
        "severity",
        "title",
        "host",
        "account",
        "evidence",
        "stories",
    }
