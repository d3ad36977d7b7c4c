"""One posture assessment: read the inputs and the case, judge the five controls, tie them to
the stories. The command calls ``assess_case`` and only prints."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spearhunt import __version__
from spearhunt.ingest.posture.inventory import read_inventory
from spearhunt.ingest.posture.signins import read_signins
from spearhunt.ingest.posture.trace import read_traces
from spearhunt.ingest.posture.vulns import read_cve_records, read_kev
from spearhunt.ingest.posture.zones import read_zones
from spearhunt.model import IngestWarning
from spearhunt.model.callbacks import Progress
from spearhunt.model.posture import (
    CaseView,
    KevEntry,
    PostureResult,
    SignIn,
    Software,
    TraceRow,
    VersionRange,
    ZonePolicy,
)
from spearhunt.posture import coverage, mfa, patching, phishing, segmentation
from spearhunt.posture.coverage import RuleReach
from spearhunt.posture.steps import story_steps
from spearhunt.store.posture import read_case

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PostureInputs:
    """What ``spearhunt posture`` was given besides the case."""

    store: Path
    zones: Path | None = None
    signins: tuple[Path, ...] = ()
    inventory: tuple[Path, ...] = ()
    kev: Path | None = None
    vulns: tuple[Path, ...] = ()
    traces: tuple[Path, ...] = ()
    rules: tuple[Path, ...] = ()
    with_pack: bool = True
    trace_year: int | None = None
    report_boxes: tuple[str, ...] = field(default=())
    assets: Path | None = None  # correlate's assets file: host roles for the default zones


def load_rule_reach(rule_dirs: Sequence[Path], with_pack: bool = True) -> list[RuleReach]:
    """The loaded rules (spearhunt's pack and ``rule_dirs``) as what each needs to fire."""
    from spearhunt.detect.engine.plan import route
    from spearhunt.detect.hunt import load_rules

    if not with_pack and not rule_dirs:
        return []
    result, _ = load_rules(list(rule_dirs), with_pack, None, use_cache=True)
    out = []
    for r in result.rules:
        routes = []
        for _, tree in r.variants:
            rt = route(tree)
            channels = (
                frozenset(c.lower() for c in rt.channels) if rt.channels is not None else None
            )
            routes.append((channels, rt.event_ids))
        out.append(RuleReach(r.info.rule_id, r.info.title, r.info.techniques, tuple(routes)))
    return out


def assess_case(
    inputs: PostureInputs,
    on_warning: Callable[[IngestWarning], None] | None = None,
    on_progress: Progress | None = None,
) -> PostureResult:
    """Read everything, judge the five defences."""
    warnings: list[str] = []

    def warn(w: IngestWarning) -> None:
        warnings.append(f"{w.location()}: {w.message}")
        if on_warning:
            on_warning(w)

    def step(name: str) -> None:
        if on_progress:
            on_progress(0, None, name)

    watched = tuple(patching.components())
    view = read_case(inputs.store, watched)
    step("case read")
    policy = read_zones(inputs.zones) if inputs.zones else None
    signins = list(read_signins(list(inputs.signins), warn)) if inputs.signins else None
    software = list(read_inventory(list(inputs.inventory), warn)) if inputs.inventory else None
    kev = read_kev(inputs.kev, warn) if inputs.kev else None
    ranges = list(read_cve_records(list(inputs.vulns), warn)) if inputs.vulns else []
    traces = (
        list(read_traces(list(inputs.traces), warn, inputs.trace_year)) if inputs.traces else None
    )
    step("inputs read")
    rules = load_rule_reach(inputs.rules, inputs.with_pack) if view.hosts else []
    step("rules loaded")
    roles = _roles(inputs.assets, view) if inputs.assets and policy is None else None
    return assess(view, policy, signins, software, kev, ranges, traces, rules, warnings, roles)


def _roles(path: Path, view: CaseView) -> dict[str, str]:
    """Host -> role from the assets file, for the hosts the case's flows name."""
    from spearhunt.correlate.config import load_assets

    assets = load_assets(path)
    hosts = {h for f in view.flows for h in (f.src_host, f.dst_host) if h}
    out = {}
    for host in hosts:
        entry = assets.lookup(host)
        if entry is not None and entry.role:
            out[host] = entry.role
    return out


def assess(
    view: CaseView,
    policy: ZonePolicy | None = None,
    signins: Sequence[SignIn] | None = None,
    software: Sequence[Software] | None = None,
    kev: Sequence[KevEntry] | None = None,
    ranges: Sequence[VersionRange] | None = None,
    traces: Sequence[TraceRow] | None = None,
    rules: Sequence[RuleReach] = (),
    warnings: Sequence[str] = (),
    roles: dict[str, str] | None = None,
) -> PostureResult:
    """The five controls over plain values (no files, no DuckDB)."""
    stories = view.stories
    owners = {s.patient_zero.host: s.patient_zero.user for s in stories if s.patient_zero.user}
    as_of = (view.last or dt.datetime.now(dt.UTC).replace(tzinfo=None)).date()
    cov, layer = coverage.assess(view.hosts, view.tamper, rules, stories, view.fired_techniques)
    controls = (
        phishing.assess(view.mails, traces, view.opened, stories, owners),
        mfa.assess(signins, view.logons, view.privileged, stories),
        segmentation.assess(view.flows, policy, stories, roles),
        patching.assess(software, kev, ranges or [], view.running, stories, as_of),
        cov,
    )
    return PostureResult(
        controls=controls,
        steps=story_steps(stories, controls, view.hosts),
        coverage=layer,
        created=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
        version=__version__,
        warnings=tuple(warnings[:1000]),
    )
