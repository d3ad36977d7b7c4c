"""Spark normalizing raw JSON Lines keeps the last value of a key given twice, as the DuckDB
engine and the output do (tests/detect/test_duplicate_keys.py): a rule must not match a
value the analyst never sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.detect.test_duplicate_keys import CLEAN, EVTX, FLAT, rules_and_events

pytestmark = pytest.mark.spark


def test_spark_matches_and_outputs_the_last_value_of_a_repeated_key(tmp_path: Path, spark):
    from spearhunt.detect.engine.spark import SparkEngine
    from spearhunt.detect.engine.spark import read_events as spark_read

    rules, data = rules_and_events(tmp_path, [FLAT, EVTX, CLEAN])
    eng = SparkEngine(spark, rules)
    found = list(eng.detections(eng.run(spark_read(spark, [str(data)]))))
    assert {(d.rule.title, d.record_id) for d in found} == {
        ("evil", 1),
        ("evil", 2),
        ("good", 3),
    }
    images = {d.record_id: d.event.get("Image") for d in found if d.rule.title == "evil"}
    assert images == {1: "C:\\evil.exe", 2: "C:\\evil.exe"}
