"""One correlation run over a case store: load facts, run the Sigma correlation rules, the
network analytics and the story builder, save the result document into the store."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from spearhunt import __version__
from spearhunt.correlate import facts as F
from spearhunt.correlate.config import CorrelateOptions
from spearhunt.correlate.network import analyse
from spearhunt.correlate.network import read_rows as read_net
from spearhunt.correlate.sigma import hits_as_alerts, load_correlation_rules, run_correlations
from spearhunt.correlate.story import build, unassigned
from spearhunt.errors import StoreError
from spearhunt.model.callbacks import Progress
from spearhunt.model.story import CorrelationResult
from spearhunt.store import results
from spearhunt.store.case import Case, open_case

log = logging.getLogger(__name__)


def correlate_store(
    store: Path, opts: CorrelateOptions, on_progress: Progress | None = None, save: bool = True
) -> CorrelationResult:
    """Correlate everything in ``store``; the result is also saved there unless ``save`` is false."""
    if not store.exists():
        raise StoreError("no such case store", where=str(store))
    with open_case(store, write=save) as case, case.errors("correlation failed"):
        result = correlate_case(case, opts, on_progress)
        if save:
            results.save(case, result)
            case.checkpoint()
    return result


def correlate_case(
    case: Case, opts: CorrelateOptions, on_progress: Progress | None = None
) -> CorrelationResult:
    """Correlate over an open case."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def step(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        timings[name] = now - t0
        t0 = now
        if on_progress:
            on_progress(0, None, name)

    facts = F.load(case, opts.internal)
    step("load")
    rules = load_correlation_rules(opts.rule_dirs, opts.with_pack)
    hits, hidden = (
        run_correlations(case, rules, facts) if "detections" in facts.tables else ([], set())
    )
    if hidden:
        facts.alerts = [
            dataclasses.replace(a, hidden=True) if a.rule_id in hidden else a for a in facts.alerts
        ]
    facts.alerts += hits_as_alerts(hits, facts)
    step("sigma correlations")
    net = analyse(read_net(case), facts, opts.allowlist, opts)
    step("network")
    stories = build(F.CaseLookup(case), facts, net, opts)
    left = unassigned(facts, stories, opts)
    step("stories")
    counts = (
        ("events", sum(facts.host_events.values())),
        ("hosts", len(facts.hosts)),
        ("detections", len(facts.alerts) - len(hits)),
        ("correlation_hits", len(hits)),
        ("suspicious_mails", len(facts.mails)),
        ("remote_logons", len(facts.logons)),
        ("flows", len(net.flows)),
        ("beacons", len(net.beacons)),
        ("stories", len(stories)),
        ("unassigned", sum(u.count for u in left)),
    )
    params = (
        *opts.windows.to_pairs(),
        ("correlation_rules", str(len(rules))),
        ("zeek", str(net.has_zeek).lower()),
    )
    log.debug("correlation timings: %s", {k: round(v, 2) for k, v in timings.items()})
    return CorrelationResult(
        tuple(stories),
        tuple(hits),
        tuple(net.beacons),
        params,
        counts,
        __version__,
        meta={"timings": timings},
        unassigned=tuple(left),
    )


def saved_result(store: Path) -> CorrelationResult | None:
    """The latest result saved in ``store``, if any."""
    with open_case(store) as case:
        saved = results.latest(case)
    return saved[0] if saved else None
