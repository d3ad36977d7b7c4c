"""Spark reads a rule's own ``Channel`` as DuckDB does: event 104's cleared log, in every
shape, from JSON Lines (normalized by Spark) and from the Parquet that ``ingest`` writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from spearhunt.detect.engine.parquet import ingest_to_parquet
from tests.detect.test_cleared_log_channel import corpus

pytestmark = pytest.mark.spark


def _hits(spark, paths: list[str], rules) -> set[tuple[str, int]]:
    from spearhunt.detect.engine.spark import SparkEngine
    from spearhunt.detect.engine.spark import read_events as spark_read

    eng = SparkEngine(spark, rules)
    hits = eng.run(spark_read(spark, paths))
    assert not eng.stats.failed_rules, eng.stats.failed_rules
    return {(d.rule.title, d.record_id) for d in eng.detections(hits)}


def test_spark_fires_on_a_cleared_security_log_not_a_foo_log_in_every_shape(
    tmp_path: Path, spark
) -> None:
    data, rules, want = corpus(tmp_path)
    assert _hits(spark, [str(data)], rules) == want
    out = tmp_path / "parquet"
    ingest_to_parquet([str(data)], out, on_warning=lambda w: None)
    assert _hits(spark, [str(out)], rules) == want
