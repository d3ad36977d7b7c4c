"""One hunt over the Engine interface: what reaches the caller, the summary, the case store
and the correlation base rules is decided once, whichever engine ran the rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from spearhunt.detect.engine.base import EngineCounters, InputCounts
from spearhunt.detect.engine.plan import Router
from spearhunt.detect.hunt import _deliver
from spearhunt.detect.options import HuntOptions, HuntSummary
from spearhunt.model import Detection, RuleInfo

ALERT = RuleInfo("r-alert", "Alert", "high")
HELPER = RuleInfo("r-helper", "Helper", "informational", output=False)


def _d(rule: RuleInfo, n: int) -> Detection:
    return Detection(rule, datetime(2024, 5, 1, 10, n), f"ws{n}", "Security", 4624, n, "x", {}, n)


class FakeEngine:
    """An engine that builds nothing itself (as Spark): the hunt counts and stores."""

    name = "fake"
    router = Router([])

    def __init__(self, hits: list[Detection], counts: bool = False) -> None:
        self.hits, self.counts = hits, counts
        self.stored: list[Detection] = []

    def unrouted_reason(self, index: int, variant: str) -> str:
        return ""

    def add_inputs(self, on_progress: object) -> InputCounts:
        return InputCounts()

    def run(self, on_progress: object) -> None:
        return None

    def detections(self, only: Sequence[int] | None = None) -> Iterator[Detection]:
        infos = [ALERT, HELPER]
        wanted = None if only is None else {infos[i].rule_id for i in only}
        return iter([d for d in self.hits if wanted is None or d.rule.rule_id in wanted])

    def json_runs(self, lead: str, end: str) -> None:
        return None

    def output_counts(self) -> list[tuple[int, str | None, int]] | None:
        if not self.counts:
            return None
        return [(0, d.computer, 1) for d in self.hits if d.rule.output]

    def store_hits(self) -> Callable[[list[Detection]], None] | None:
        return None if self.counts else self.stored.extend

    def counters(self) -> EngineCounters:
        return EngineCounters(len(self.hits))

    def close(self) -> None:
        return None


def _run(engine: FakeEngine) -> tuple[HuntSummary, list[Detection]]:
    out: list[Detection] = []
    summary = HuntSummary()
    opts = HuntOptions(paths=[], keep=frozenset({"r-helper"}))
    _deliver(engine, opts, [ALERT, HELPER], summary, out.append, None)
    return summary, out


def test_helpers_are_stored_and_kept_but_never_output_by_an_engine_that_counts_nothing():
    hits = [_d(ALERT, 1), _d(HELPER, 2), _d(ALERT, 3)]
    engine = FakeEngine(hits)
    summary, out = _run(engine)
    assert out == [hits[0], hits[2]]
    assert summary.detections == 2 and dict(summary.by_host) == {"ws1": 1, "ws3": 1}
    assert summary.kept == [hits[1]]
    assert engine.stored == hits  # the store gets every hit, helpers too


def test_an_engine_that_counts_itself_gives_the_same_summary():
    hits = [_d(ALERT, 1), _d(HELPER, 2), _d(ALERT, 3)]
    spark_like, _ = _run(FakeEngine(hits))
    duck_like, out = _run(FakeEngine(hits, counts=True))
    assert out == [hits[0], hits[2]]
    assert duck_like.to_dict()["by_level"] == spark_like.to_dict()["by_level"] == {"high": 2}
    assert duck_like.by_host == spark_like.by_host
    assert duck_like.kept == spark_like.kept == [hits[1]]


def test_kept_detections_hold_only_the_fields_the_correlations_read():
    # A base rule may match a large share of the input: its kept detections carry the
    # correlation's fields, not whole events (the pack's helpers held ~380 MB at 1M events).
    import dataclasses

    event = {"IpAddress": "10.0.0.9", "TargetUserName": "bob", "CommandLine": "x" * 500}
    hits = [dataclasses.replace(_d(HELPER, 2), event=event)]
    for counts in (False, True):
        summary = HuntSummary()
        opts = HuntOptions(
            paths=[], keep=frozenset({"r-helper"}), keep_fields=frozenset({"IpAddress", "Nope"})
        )
        _deliver(FakeEngine(hits, counts), opts, [ALERT, HELPER], summary, None, None)
        assert [d.event for d in summary.kept] == [{"IpAddress": "10.0.0.9"}]
        assert summary.kept[0].event_key == 2 and summary.kept[0].computer == "ws2"
    whole = HuntSummary()
    opts = HuntOptions(paths=[], keep=frozenset({"r-helper"}))  # keep_fields None: all
    _deliver(FakeEngine(hits), opts, [ALERT, HELPER], whole, None, None)
    assert whole.kept[0].event == event
