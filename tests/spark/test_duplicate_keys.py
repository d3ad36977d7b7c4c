"""Spark normalizing raw JSON Lines keeps the last value of a key given twice, as the DuckDB
engine and the output do (tests/detect/test_duplicate_keys.py): a rule must not match a
value the analyst never sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from spearhunt.detect.sigma.compiler import RuleCompiler
from tests.detect.test_duplicate_keys import CLEAN, EVTX, FLAT, RULE

pytestmark = pytest.mark.spark


def test_spark_matches_and_outputs_the_last_value_of_a_repeated_key(tmp_path: Path, spark):
    from spearhunt.detect.engine.spark import SparkEngine
    from spearhunt.detect.engine.spark import read_events as spark_read

    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for n, title in enumerate(("evil", "good")):
        rule_id = f"00000000-0000-4000-8000-00000000000{n}"
        (rules_dir / f"{title}.yml").write_text(
            RULE.format(title=title, image=f"{title}.exe", id=rule_id)
        )
    rules = RuleCompiler(use_cache=False).compile_all(sorted(rules_dir.glob("*.yml"))).rules
    data = tmp_path / "events.jsonl"
    data.write_text("\n".join([FLAT, EVTX, CLEAN]) + "\n")
    eng = SparkEngine(spark, rules)
    found = list(eng.detections(eng.run(spark_read(spark, [str(data)]))))
    assert {(d.rule.title, d.record_id) for d in found} == {
        ("evil", 1),
        ("evil", 2),
        ("good", 3),
    }
    images = {d.record_id: d.event.get("Image") for d in found if d.rule.title == "evil"}
    assert images == {1: "C:\\evil.exe", 2: "C:\\evil.exe"}
