"""One hunt on Apache Spark: the same rules, options and summary as ``detect.hunt.hunt``.

Inputs are Parquet datasets (``spearhunt ingest --to-parquet``) and JSON Lines, as local
paths or any URI the user's Spark reads (hdfs://, s3a:// ...). EVTX is a local format: it is
turned into Parquet first. Detections reach ``on_detection`` in the DuckDB engine's order and
shape; with a case store they are appended with the events they matched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from spearhunt.detect.hunt import HuntOptions, HuntSummary, JsonSink, select_rules
from spearhunt.detect.sigma.compiler import RuleProblem
from spearhunt.errors import UsageError
from spearhunt.model import Detection, IngestWarning
from spearhunt.model.callbacks import Progress
from spearhunt.store.case import CaseStore

log = logging.getLogger(__name__)


def _check_inputs(paths: list[str]) -> None:
    from spearhunt.ingest.sources import Kind, sniff

    for p in paths:
        if "://" in p:
            continue
        path = Path(p)
        if not path.exists():
            raise UsageError(f"no such file or folder: {p}")
        files = (
            [path]
            if path.is_file()
            else [*list(path.rglob("*.evtx"))[:1], *list(path.rglob("*.zip"))[:1]]
        )
        kinds = {sniff(f).kind for f in files if f.is_file()}
        if kinds & {Kind.EVTX, Kind.ARCHIVE}:
            what = "EVTX" if Kind.EVTX in kinds else "A log archive (zip, tar)"
            raise UsageError(
                f"{p}: {what} is read on one machine; convert it first with "
                f"`spearhunt ingest {p} --to-parquet DIR` and hunt DIR"
            )


def hunt_spark(
    opts: HuntOptions,
    on_detection: Callable[[Detection], None] | None,
    on_progress: Progress | None = None,
    on_warning: Callable[[IngestWarning], None] | None = None,
    on_json: JsonSink | None = None,
) -> HuntSummary:
    """Run the hunt on Spark; detections reach ``on_detection`` in time order (``on_json``
    is not used: Spark's detections are all built in Python)."""
    from spearhunt.detect.engine import spark as sp

    sp.require_pyspark()
    t0 = time.perf_counter()
    summary = HuntSummary()
    # Local paths as absolute ones: the JVM resolves relative paths against its own working
    # folder, which is not this process's once it has changed (a session reused in-process).
    paths = [p if "://" in str(p) else str(Path(p).absolute()) for p in map(str, opts.paths)]
    _check_inputs(paths)
    rules = select_rules(opts, summary, on_progress)
    if on_progress:
        on_progress(0, None, "starting Spark")
    spark = sp.session(opts.spark_master, dict(opts.spark_conf))
    store = CaseStore(opts.store, opts.command) if opts.store else None
    try:
        eid_base = store.next_ids()[0] if store else 0
        engine = sp.SparkEngine(spark, rules, eid_base=eid_base)
        for idx, variant in engine.router.unrouted:
            rule = rules[idx]
            summary.rules_not_run.append(
                RuleProblem(
                    rule.info.source,
                    f"{variant}: logsource maps to no channel or provider; "
                    "matching on event id alone would fire across unrelated logs",
                    rule.info.rule_id,
                    rule.info.title,
                    "unsupported",
                )
            )
        events = sp.read_events(
            spark,
            paths,
            time_from=opts.time_from.isoformat(sep=" ") if opts.time_from else None,
            time_to=opts.time_to.isoformat(sep=" ") if opts.time_to else None,
        )
        # Files, not arguments: a dataset folder or a glob names many (what Spark listed).
        summary.files = sp.count_input_files(spark, paths)
        hits = engine.run(events, on_progress)
        if on_progress:
            on_progress(0, None, "matching rules")
        batch: list[Detection] = []
        for d in engine.detections(hits):
            # The rules of DuckDB's hunt: a base rule of a correlation with 'generate: false'
            # feeds the correlation (and the case store), it is no alert of its own.
            if d.rule.output:
                summary.count(d)
                if on_detection is not None:
                    on_detection(d)
            if d.rule.rule_id in opts.keep:
                summary.kept.append(d)
            if store:
                batch.append(d)
                if len(batch) >= 50_000:
                    _store(store, batch)
                    batch = []
        if store:
            _store(store, batch)
        st = engine.stats
        if st.invalid_records:
            w = IngestWarning(
                ", ".join(paths),
                f"{st.invalid_records} record(s) that are not JSON objects skipped",
            )
            summary.warnings.append(w)
            if on_warning:
                on_warning(w)
        if store:
            store.add_warnings(summary.warnings)
        summary.events = st.events
        summary.rules_failed = {rules[i].info.rule_id: msg for i, msg in st.failed_rules.items()}
        summary.engine = {
            "engine": "spark",
            "master": spark.sparkContext.master,
            "slices": st.slices,
            "queries": st.queries,
            "rule_slices": st.rule_slices,
            "invalid_records": st.invalid_records,
            "seconds_plan": round(st.seconds_plan, 3),
            "seconds_rules": round(st.seconds_rules, 3),
        }
        summary.seconds = time.perf_counter() - t0
        if store:
            store.finish(summary.events, summary.detections)
            summary.store = str(opts.store)
    finally:
        if store:
            store.close()
    return summary


def _store(store: CaseStore, detections: list[Detection]) -> None:
    """Detections, their sources and the events they matched (not every event: a fleet's
    events stay in the Parquet dataset, which keeps the same event keys minus the base)."""
    if not detections:
        return
    known = store.source_ids()
    new = sorted({d.source for d in detections} - set(known))
    if new:
        first = store.next_ids()[1]
        store.add_sources(first, [(p, "spark") for p in new])
        known.update({p: first + i for i, p in enumerate(new)})
    import orjson

    rows = {
        d.event_key: (
            d.event_key,
            d.timestamp,
            d.computer,
            d.channel,
            None,
            d.event_id,
            d.record_id,
            known[d.source],
            None,
            orjson.dumps(d.event).decode(),
        )
        for d in detections
    }
    store.add_events(list(rows.values()))
    store.add_detections(detections)
