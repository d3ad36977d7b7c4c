"""Cross-checks of the engine on the shared EVTX corpus with all SigmaHQ Windows rules:
SQL path vs Python path (must be identical), and vs Zircolite's per-file counts."""

from __future__ import annotations

import functools
import json
from collections import Counter, defaultdict

import pytest
from tests.conftest import shared_data

from spearhunt.detect.engine import duck, matching
from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.sigma.compiler import RuleCompiler, find_rule_files
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import sniff

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    data = shared_data()
    rules = (
        RuleCompiler(cache=tmp_path_factory.mktemp("cache"))
        .compile_all(find_rule_files([data / "sigma" / "rules" / "windows"]))
        .rules
    )
    files = sorted(data.rglob("*.evtx"))

    @functools.cache
    def run(mode: str) -> tuple[set[tuple[str, str, int]], Counter]:
        mp = pytest.MonkeyPatch()
        sql = mode.startswith("sql")
        mp.setattr(matching, "PYTHON_ROWS_MAX", 0 if sql else 10**9)
        mp.setattr(matching, "PYTHON_WORK_MAX", 0 if sql else 10**12)
        mp.setattr(matching, "RENDERER", "sqlglot" if mode == "sql-sqlglot" else "fast")
        # staged: chunks of ~1 MB of record texts (a small memory budget) gathered into
        # units of 4,000 events, several per run
        mp.setattr(duck, "CHUNK_EVENTS", 4_000)
        try:
            eng = DuckEngine(
                rules,
                on_warning=lambda w: None,
                **({"chunk_bytes": 1 << 20} if mode == "sql-staged" else {}),
            )
            for f in files:
                i = eng.source(str(f.relative_to(data)))
                for b in read_events(sniff(f), lambda w: None):
                    eng.add(i, b)
            eng.run_rules()
            hits = {(d.rule.rule_id, d.source, d.event_key) for d in eng.detections()}
            return hits, Counter()
        finally:
            mp.undo()

    return run, data


def test_sql_and_python_paths_agree_on_every_rule(corpus_run):
    run, _ = corpus_run
    sql, _ = run("sql")
    py, _ = run("python")
    print(f"\nSQL path {len(sql)} detections, Python path {len(py)}")
    assert len(sql) > 5000
    assert sql == py, (sorted(sql - py)[:10], sorted(py - sql)[:10])


def test_staged_small_chunks_give_the_same_detections(corpus_run):
    # Chunks smaller than a unit of work are staged and appended a unit at a time; chunks
    # that fill a unit go straight in. Both give the same detections with the same keys.
    run, _ = corpus_run
    direct, _ = run("sql")
    staged, _ = run("sql-staged")
    assert len(staged) > 5000
    assert staged == direct, (sorted(staged - direct)[:10], sorted(direct - staged)[:10])


def test_sqlglot_reference_rendering_gives_the_same_detections(corpus_run):
    run, _ = corpus_run
    fast, _ = run("sql")
    reference, _ = run("sql-sqlglot")
    print(f"\nfast renderer {len(fast)} detections, sqlglot AST {len(reference)}")
    assert fast == reference


def test_agrees_with_zircolite_on_what_it_detects(corpus_run):
    run, data = corpus_run
    hits, _ = run("sql")
    ours: dict[str, Counter] = defaultdict(Counter)
    for rule_id, source, _rec in hits:
        ours[source][rule_id] += 1
    base = json.loads(
        (data / "baselines" / "zircolite_sigmahq-windows_per-file-detections.json").read_text()
    )["per_file"]
    pairs = agree = 0
    missed = []
    for f, rules in base.items():
        for rule_id, n in rules.items():
            pairs += 1
            got = ours.get(f, Counter()).get(rule_id, 0)
            agree += got == n
            if got == 0:
                missed.append((f, rule_id, n))
    print(
        f"\nZircolite (file, rule) pairs: {pairs}, same count: {agree}, missed by us: {len(missed)}"
    )
    for m in missed[:20]:
        print("  missed", m)
    assert agree / pairs >= 0.99
    assert not missed
