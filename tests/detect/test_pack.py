"""spearhunt's own rules: ATT&CK tags, and their positive and negative events on both paths."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml

from spearhunt.detect.engine import matching
from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.hunt import PACK
from spearhunt.detect.sigma.compiler import RuleCompiler, find_rule_files
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import sniff

CASES = yaml.safe_load((Path(__file__).parent / "pack_cases.yml").read_text())


@pytest.fixture(scope="module")
def pack():
    result = RuleCompiler(use_cache=False).compile_all(find_rule_files([PACK]))
    assert not [p for p in result.problems if p.kind != "skipped"], result.problems
    return {r.info.rule_id: r for r in result.rules}


def _events(case: dict) -> list[dict]:
    out = []
    for e in case:
        e = dict(e)
        base = CASES["defaults"].get(e.pop("base", ""), {})
        out.append({**base, "TimeCreated": "2026-03-02T08:00:00Z", **e})
    return out


def _matches(rule, events, tmp_path: Path, mode: str) -> list[int]:
    data = tmp_path / f"{mode}.jsonl"
    data.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    mp = pytest.MonkeyPatch()
    mp.setattr(matching, "PYTHON_ROWS_MAX", 0 if mode == "sql" else 10**9)
    mp.setattr(matching, "PYTHON_WORK_MAX", 0 if mode == "sql" else 10**12)
    try:
        eng = DuckEngine([rule], on_warning=lambda w: None)
        i = eng.source(str(data))
        for b in read_events(sniff(data), lambda w: None):
            eng.add(i, b)
        eng.run_rules()
        return sorted(d.event_key - 1 for d in eng.detections())
    finally:
        mp.undo()


def test_every_pack_rule_has_attack_tags_and_cases(pack):
    assert len(pack) >= 12
    for rule_id, rule in pack.items():
        assert rule.info.techniques, f"{rule.info.title} has no ATT&CK technique tag"
        assert rule.info.tactics, f"{rule.info.title} has no ATT&CK tactic tag"
        assert rule_id in CASES["cases"], f"{rule.info.title} has no test events"
        assert CASES["cases"][rule_id]["positive"] and CASES["cases"][rule_id]["negative"]


@pytest.mark.parametrize("mode", ["sql", "python"])
@pytest.mark.parametrize("rule_id", sorted(CASES["cases"]))
def test_pack_rule_fires_on_positives_only(pack, rule_id, mode, tmp_path):
    case = CASES["cases"][rule_id]
    pos, neg = _events(case["positive"]), _events(case["negative"])
    got = _matches(pack[rule_id], pos + neg, tmp_path, mode)
    assert got == list(range(len(pos))), f"{pack[rule_id].info.title}: matched {got}"
