"""Spark equals DuckDB on the shared EVTX corpus with every SigmaHQ Windows rule.

The EVTX files go through ``ingest_to_parquet`` (the DuckDB engine's normalization and event
keys) and Spark hunts the Parquet; DuckDB hunts the EVTX files themselves, in the same order.
The sets of (rule id, event key) must be identical.
"""

from __future__ import annotations

import time

import pytest

from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.engine.parquet import ingest_to_parquet
from spearhunt.detect.sigma.compiler import RuleCompiler, find_rule_files
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import sniff
from tests.conftest import shared_data

pytestmark = [pytest.mark.shared_data, pytest.mark.slow, pytest.mark.spark]


def test_spark_detections_equal_duckdb_on_shared_evtx_with_all_sigmahq_windows_rules(
    spark, tmp_path
):
    from spearhunt.detect.engine.spark import SparkEngine
    from spearhunt.detect.engine.spark import read_events as spark_read

    data = shared_data()
    files = sorted(data.rglob("*.evtx"))
    rules = (
        RuleCompiler()
        .compile_all(find_rule_files([shared_data("sigma", "rules", "windows")]))
        .rules
    )

    t0 = time.perf_counter()
    duck = DuckEngine(rules, on_warning=lambda w: None)
    for f in files:
        i = duck.source(str(f))
        for b in read_events(sniff(f), lambda w: None):
            duck.add(i, b)
    duck.run_rules()
    want = {(d.rule.rule_id, d.event_key) for d in duck.detections()}
    t1 = time.perf_counter()

    out = tmp_path / "parquet"
    n_files, n_events = ingest_to_parquet([str(f) for f in files], out, on_warning=lambda w: None)
    assert n_events == duck.stats.events
    t2 = time.perf_counter()

    eng = SparkEngine(spark, rules)
    got = {
        (d.rule.rule_id, d.event_key)
        for d in eng.detections(eng.run(spark_read(spark, [str(out)])))
    }
    t3 = time.perf_counter()
    print(
        f"\n{n_files} EVTX files, {n_events} events, {len(rules)} rules: "
        f"DuckDB {len(want)} detections ({t1 - t0:.1f}s), Spark {len(got)} detections "
        f"({t3 - t2:.1f}s, {eng.stats.queries} queries, {eng.stats.rule_slices} rule-slices); "
        f"ingest {t2 - t1:.1f}s"
    )
    assert len(want) > 5000
    assert eng.stats.events == n_events
    assert got == want, (sorted(want - got)[:10], sorted(got - want)[:10])
    assert set(eng.stats.failed_rules) == set(duck.stats.failed_rules)
