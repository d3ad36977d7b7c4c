"""A Parquet dataset (``spearhunt ingest --to-parquet``) through the DuckDB engine gives the
events and detections of the EVTX files it was written from, with the dataset's event keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import shared_data

from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.engine.parquet import add_parquet, ingest_to_parquet, parquet_files
from spearhunt.detect.hunt import HuntOptions, hunt
from spearhunt.model import Detection

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def lateral(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Path]]:
    """43 real EVTX files (several hosts and channels) and the dataset written from them."""
    evtx = shared_data("evtx-attack-samples", "Lateral Movement")
    rules = shared_data("sigma", "rules", "windows", "builtin", "security")
    out = tmp_path_factory.mktemp("pq") / "ds"
    files, events = ingest_to_parquet([str(evtx)], out, on_warning=lambda w: None)
    assert files == 43 and events > 1000
    return evtx, out, [rules]


def _hunt(paths: list[str], rules: list[Path]) -> tuple[int, set[tuple[str, int]]]:
    found: list[Detection] = []
    summary = hunt(HuntOptions(paths=paths, rules=rules, with_pack=False), found.append)
    return summary.events, {(d.rule.rule_id, d.event_key) for d in found}


def test_every_event_of_a_dataset_split_into_groups_is_indexed(lateral):
    # Files come in partition order, not key order: a later group holds keys below an
    # earlier group's top, and the engine must still index and match all of them.
    _, ds, _ = lateral
    assert len(parquet_files(ds)) > 10
    whole = DuckEngine([], on_warning=lambda w: None)
    add_parquet(whole, ds)
    whole.run_rules()
    split = DuckEngine([], on_warning=lambda w: None)
    add_parquet(split, ds, chunk_events=100)  # many groups
    split.run_rules()
    assert split.stats.chunks > 3
    assert split.stats.events == whole.stats.events > 1000


def test_hunting_a_dataset_finds_what_hunting_its_evtx_finds_with_the_same_keys(lateral):
    evtx, ds, rules = lateral
    events, want = _hunt([str(evtx)], rules)
    got_events, got = _hunt([str(ds)], rules)
    assert want, "the builtin Security rules fire on the lateral-movement samples"
    assert got_events == events
    assert got == want  # (rule, event key): the keys are the dataset's eid
