"""A hunt's Spark run: the same rules, options and summary as DuckDB's (``detect.hunt``).

Inputs are Parquet datasets (``spearhunt ingest --to-parquet``) and JSON Lines, as local
paths or any URI the user's Spark reads (hdfs://, s3a:// ...). EVTX is a local format: it is
turned into Parquet first. Detections reach ``on_detection`` in the DuckDB engine's order and
shape; with a case store they are appended with the events they matched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from spearhunt.detect.engine.base import EngineCounters, InputCounts
from spearhunt.detect.options import HuntOptions
from spearhunt.detect.sigma.compiler import CompiledRule
from spearhunt.errors import EngineError, UsageError
from spearhunt.model import Detection, IngestWarning
from spearhunt.model.callbacks import Progress
from spearhunt.store.case import CaseStore

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

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


class SparkRun:
    """The Spark engine for one hunt (``detect.engine.base.Engine``)."""

    name = "spark"

    def __init__(
        self,
        opts: HuntOptions,
        rules: Sequence[CompiledRule],
        store: CaseStore | None,
        warn: Callable[[IngestWarning], None],
    ) -> None:
        from spearhunt.detect.engine import spark as sp

        sp.require_pyspark()
        self.opts, self.rules, self.store, self.warn = opts, list(rules), store, warn
        # Local paths as absolute ones: the JVM resolves relative paths against its own working
        # folder, which is not this process's once it has changed (a session reused in-process).
        self.paths = [p if "://" in p else str(Path(p).absolute()) for p in map(str, opts.paths)]
        _check_inputs(self.paths)
        self.spark = sp.session(opts.spark_master, dict(opts.spark_conf))
        eid_base = store.next_ids()[0] if store else 0
        self.engine = sp.SparkEngine(self.spark, self.rules, eid_base=eid_base)
        self.router = self.engine.router
        self._events: DataFrame | None = None

    def unrouted_reason(self, index: int, variant: str) -> str:
        """Why a rule variant the router left out runs nowhere."""
        return (
            f"{variant}: logsource maps to no channel or provider; "
            "matching on event id alone would fire across unrelated logs"
        )

    def add_inputs(self, on_progress: Progress | None) -> InputCounts:
        """The inputs as one events DataFrame (read lazily by Spark)."""
        from spearhunt.detect.engine import spark as sp

        opts = self.opts
        self._events = sp.read_events(
            self.spark,
            self.paths,
            time_from=opts.time_from.isoformat(sep=" ") if opts.time_from else None,
            time_to=opts.time_to.isoformat(sep=" ") if opts.time_to else None,
        )
        # Files, not arguments: a dataset folder or a glob names many (what Spark listed).
        return InputCounts(files=sp.count_input_files(self.spark, self.paths))

    def run(self, on_progress: Progress | None) -> None:
        """Plan and submit every rule (Spark runs them as the hits are read)."""
        if self._events is None:
            raise EngineError("Spark run has no inputs (add_inputs first)")
        self.engine.run(self._events, on_progress)
        if self.engine.stats.invalid_records:
            self.warn(
                IngestWarning(
                    ", ".join(self.paths),
                    f"{self.engine.stats.invalid_records} record(s) that are not JSON objects "
                    "skipped",
                )
            )

    def detections(self, only: Sequence[int] | None = None) -> Iterator[Detection]:
        """Every hit in time order (of the rules ``only``)."""
        wanted = None if only is None else {id(self.rules[i].info) for i in only}
        for d in self.engine.detections():
            if wanted is None or id(d.rule) in wanted:
                yield d

    def json_runs(self, lead: str, end: str) -> None:
        """None: Spark's detections are built in Python."""
        return

    def output_counts(self) -> None:
        """None: the hunt counts Spark's detections as it reads them."""
        return

    def store_hits(self) -> Callable[[list[Detection]], None] | None:
        """Hits go to the case store with the events they matched, as they are read."""
        store = self.store
        if store is None:
            return None
        return lambda batch: _store(store, batch)

    def counters(self) -> EngineCounters:
        """The run's figures."""
        st = self.engine.stats
        return EngineCounters(
            st.events,
            dict(st.failed_rules),
            {
                "engine": "spark",
                "master": self.spark.sparkContext.master,
                "slices": st.slices,
                "queries": st.queries,
                "rule_slices": st.rule_slices,
                "invalid_records": st.invalid_records,
                "seconds_plan": round(st.seconds_plan, 3),
                "seconds_rules": round(st.seconds_rules, 3),
            },
        )

    def close(self) -> None:
        """Nothing of the run to release (the Spark session outlives it)."""


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
