"""The README's Spark examples, walked like the rest of the README (tests/docs), on the Spark
tests' session (the commands' own session would start a second JVM)."""

from __future__ import annotations

import pytest

from tests.docs.test_readme_walk import README, Sandbox, examples, walk

pytestmark = [pytest.mark.spark, pytest.mark.shared_data]


def test_the_readme_spark_examples_run(tmp_path, monkeypatch, capsys, spark):
    found = examples(README.read_text(encoding="utf-8"))
    spark_blocks = {ex.block for ex in found if ex.spark}
    assert spark_blocks, "the README shows Spark"
    sandbox = Sandbox(tmp_path)
    monkeypatch.chdir(sandbox.work)
    walk(sandbox, [ex for ex in found if ex.block in spark_blocks], capsys)
