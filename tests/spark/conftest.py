"""One local SparkSession for the whole Spark test run (starting one costs 10-20 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip(
        "pyspark", reason="pyspark not installed: pip install -e '.[dev]' (or '.[spark]')"
    )
    from spearhunt.detect.engine.spark import session

    s = session(
        "local[2]",
        {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"},
        app_name="spearhunt-tests",
    )
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()
