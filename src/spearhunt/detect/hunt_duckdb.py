"""A hunt's DuckDB run: local files read a batch at a time into the embedded engine.

Inputs are sniffed as they come (archives member by member), event logs streamed into
``DuckEngine``, Parquet datasets (``spearhunt ingest --to-parquet``) added as one. With a
case store the engine works in the case file itself: its events and hits are the case's.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from spearhunt.detect.engine.base import EngineCounters, InputCounts
from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.engine.memory import budget, parse_memory
from spearhunt.detect.options import HuntOptions
from spearhunt.detect.sigma.compiler import CompiledRule
from spearhunt.errors import IngestError, UsageError
from spearhunt.ingest.archives import sources_of
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import EVENT_KINDS, Kind, expand_paths, sniff
from spearhunt.model import Detection, IngestWarning
from spearhunt.model.callbacks import Progress
from spearhunt.model.detection import json_runs
from spearhunt.normalize.timefix import UTC_FIELDS, correct_times
from spearhunt.store.case import CaseStore
from spearhunt.store.db import connect

log = logging.getLogger(__name__)


class DuckRun:
    """The DuckDB engine for one hunt (``detect.engine.base.Engine``)."""

    name = "duckdb"

    def __init__(
        self,
        opts: HuntOptions,
        rules: Sequence[CompiledRule],
        store: CaseStore | None,
        warn: Callable[[IngestWarning], None],
    ) -> None:
        if opts.threads is not None and opts.threads < 1:
            raise UsageError(f"--threads wants a number of threads (1 or more), got {opts.threads}")
        self.mem = budget(parse_memory(opts.memory_limit), opts.threads, os.cpu_count() or 1)
        self.opts, self.rules, self.store, self.warn = opts, list(rules), store, warn
        self.files = expand_paths(list(opts.paths))
        if store:  # a file the case holds already is not ingested twice
            self.files = store.admit(self.files, opts.replace, warn)
        self._tmp = tempfile.TemporaryDirectory(prefix="spearhunt-")
        # Without a store, the run's events live in memory up to the memory limit and spill
        # to the temporary directory past it, so RSS stays flat with size. (A database file
        # would compress them, which cost ~20% more time at 1M events for no memory gain.)
        self.con = store.con if store else connect()
        self.eid_base, self.src_base = store.next_ids() if store else (0, 0)
        self.con.execute(f"SET memory_limit = '{self.mem.duckdb_setting}'")
        self.con.execute("SET temp_directory = $1", [self._tmp.name])
        if self.mem.threads:
            self.con.execute(f"SET threads = {int(self.mem.threads)}")
        self.kinds: dict[str, str] = {}
        self.engine = DuckEngine(
            self.rules,
            con=self.con,
            on_warning=warn,
            eid_base=self.eid_base,
            src_base=self.src_base,
            chunk_bytes=self.mem.chunk_bytes,
            # --from/--to hold for corrected times: chunks are normalized with the window
            # widened by the largest correction, the exact one applied after correcting.
            time_from=_iso(opts.time_from, -_margin(opts)),
            time_to=_iso(opts.time_to, _margin(opts)),
        )
        self.router = self.engine.router

    def unrouted_reason(self, index: int, variant: str) -> str:
        """Why a rule the router left out runs nowhere."""
        return (
            f"logsource {self.rules[index].logsource_name} maps to no Windows channel or "
            "provider (matching on event id alone would fire across unrelated logs)"
        )

    def add_inputs(self, on_progress: Progress | None) -> InputCounts:
        """Every event log among the run's files, streamed into the engine."""
        counts = InputCounts()
        engine, warn = self.engine, self.warn
        # Files are sniffed as they come (a folder of 35k logs costs ~0.7 s to sniff, which
        # this way overlaps the engine's work on the previous chunk).
        sizes = [_size(p) for p in self.files]
        done_bytes, total_bytes = 0, sum(sizes) or 1
        read, t_read = 0, time.perf_counter()
        parquet: list[Path] = []
        for path, size in zip(self.files, sizes, strict=True):
            for s in sources_of(path, warn):  # an archive's members one by one
                if s.kind not in EVENT_KINDS:
                    log.debug("not an event log, skipped: %s (%s)", s.name, s.kind.value)
                    continue
                counts.files += 1
                if s.kind is Kind.PARQUET:  # already normalized: one dataset, added at the end
                    parquet.append(s.path)
                    continue
                idx = engine.source(s.name)
                self.kinds[s.name] = s.kind.value
                try:
                    for batch in read_events(s, warn, self.mem.batch_records):
                        engine.add(idx, batch)
                        read += len(batch)
                        if on_progress:
                            rate = read / max(time.perf_counter() - t_read, 1e-6)
                            on_progress(done_bytes, total_bytes, f"{read:,} events, {rate:,.0f}/s")
                except IngestError as exc:
                    counts.files_failed += 1
                    warn(IngestWarning(s.name, exc.message))
            done_bytes += size
            if on_progress:
                on_progress(done_bytes, total_bytes, f"{read:,} events, {path.name}")
        if parquet:
            counts.files_failed += _add_parquet(engine, parquet, self.eid_base, warn)
        # an archive without event logs may hold Zeek logs or mail for other stages
        # (investigate), so only plain files that are no event log are a usage error
        if (
            not counts.files
            and self.files
            and all(Path(a).is_file() for a in self.opts.paths)
            and not any(sniff(Path(a)).kind is Kind.ARCHIVE for a in self.opts.paths)
        ):
            raise UsageError("none of the inputs is an event log (EVTX, JSON Lines or JSON)")
        engine.flush()  # before the store is written: the engine thread shares its connection
        for fix in correct_times(
            self.con,
            engine.sources,
            self.src_base,
            self.eid_base + 1,
            self.opts.time_offsets,
            engine.slices_with(UTC_FIELDS),
        ):  # endpoint clocks written as UTC that are not (normalize.timefix)
            where = engine.sources[fix.src - self.src_base]
            warn(IngestWarning(where, f"{fix.computer or 'all computers'}: {fix.why}"))
        if self.opts.time_from or self.opts.time_to:
            engine.drop_outside(
                self.eid_base + 1, _iso(self.opts.time_from), _iso(self.opts.time_to)
            )
        if self.store:  # the engine's source list: Parquet inputs name their original files
            self.store.add_sources(
                self.src_base,
                [(p, self.kinds.get(p, Kind.PARQUET.value)) for p in engine.sources],
            )
        return counts

    def run(self, on_progress: Progress | None) -> None:
        """Every rule over every slice; the case store (if any) gets every match, also those
        of rules that only feed a correlation."""
        self.engine.run_rules()
        if self.store:
            self.store.add_matches([r.info for r in self.rules], self.engine.HITS)

    def detections(self, only: Sequence[int] | None = None) -> Iterator[Detection]:
        """Every hit in time order (of the rules ``only``)."""
        return self.engine.detections(only=only)

    def json_runs(self, lead: str, end: str) -> Iterator[tuple[bytes, int] | Detection]:
        """Output detections as runs of their JSON texts, built by DuckDB
        (``model.detection.json_runs``), or as ``Detection`` where Python must build them."""
        infos = [r.info for r in self.rules]
        return json_runs(self.engine, infos, self.engine.sources, self.src_base, lead, end)

    def output_counts(self) -> list[tuple[int, str | None, int]]:
        """(rule, computer, detections) of output rules, counted by DuckDB."""
        return self.engine.output_counts()

    def store_hits(self) -> None:
        """None: the case store has every hit (the engine works in it)."""
        return

    def counters(self) -> EngineCounters:
        """The run's figures."""
        st = self.engine.stats
        return EngineCounters(
            st.events,
            dict(st.failed_rules),
            {
                "chunks": st.chunks,
                "slices": st.slices,
                "queries": st.queries,
                "python_slices": st.python_slices,
                "rule_slices": st.rule_slices,
                "invalid_records": st.invalid_records,
                "seconds_normalize": round(st.seconds_normalize, 3),
                "seconds_rules": round(st.seconds_rules, 3),
                "phases": {k: round(v, 3) for k, v in st.phase.items()},
                "distinct_rows": st.distinct_rows,
            },
        )

    def close(self) -> None:
        """Stop the engine thread and drop the spill folder."""
        self.engine.close()
        self._tmp.cleanup()


def _add_parquet(
    engine: DuckEngine,
    files: list[Path],
    eid_base: int,
    warn: Callable[[IngestWarning], None],
) -> int:
    """The Parquet inputs (``spearhunt ingest --to-parquet``), as one dataset: their event
    keys stay the dataset's ``eid`` (plus the case store's base) unless events read before
    them, or a second dataset with the same keys, make them move up past the keys in use.
    Returns the number of files that failed."""
    from spearhunt.detect.engine.parquet import add_parquet, eid_range

    try:
        good = files
        low, _, distinct = eid_range(good)
    except IngestError:
        good = []
        for f in files:  # a file that is not a dataset's is reported and left out, alone
            try:
                eid_range([f])
                good.append(f)
            except IngestError as exc:
                warn(IngestWarning(str(f), exc.message))
        if not good:
            return len(files)
        low, _, distinct = eid_range(good)
    if distinct and low + eid_base >= engine.next_eid:
        add_parquet(engine, good, eid_base=eid_base)
        return len(files) - len(good)
    log.info("Parquet event keys renumbered: they overlap keys of this run")
    for f in good:
        low, _, _ = eid_range([f])
        add_parquet(engine, f, eid_base=engine.next_eid - low)
    return len(files) - len(good)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# Time zones span -12:00 to +14:00: a clock written as UTC is at most this far off.
ZONE_MARGIN = timedelta(hours=26)


def _margin(opts: HuntOptions) -> timedelta:
    """How far a correction may move an event time: any time zone, or a --time-offset."""
    given = max((abs(secs) for _, secs in opts.time_offsets), default=0)
    return max(ZONE_MARGIN, timedelta(seconds=given))


def _iso(t: datetime | None, shift: timedelta = timedelta(0)) -> str | None:
    """``t`` (moved by ``shift``) as the engine's SQL text, or None."""
    return (t + shift).isoformat(sep=" ") if t else None
