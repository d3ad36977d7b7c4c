"""One hunt: read the inputs, compile the rules, run the engine, summarize.

Library code: it reports through callbacks (``on_progress``, ``on_warning``,
``on_detection``) and returns a frozen summary; printing is the CLI's job.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb

from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.engine.memory import budget, out_of_memory_message, parse_memory
from spearhunt.detect.sigma.compiler import (
    CompiledRule,
    FileResult,
    RuleCompiler,
    RuleProblem,
    find_rule_files,
)
from spearhunt.detect.sigma.placeholders import load_placeholders
from spearhunt.errors import EngineError, IngestError, UsageError
from spearhunt.ingest.archives import sources_of
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import EVENT_KINDS, Kind, expand_paths
from spearhunt.model import Detection, IngestWarning
from spearhunt.model.callbacks import Progress
from spearhunt.model.detection import LEVEL_RANK, RuleInfo, json_runs
from spearhunt.normalize.timefix import correct_times
from spearhunt.store.case import CaseStore
from spearhunt.store.db import connect

log = logging.getLogger(__name__)

PACK = Path(__file__).resolve().parent / "sigma" / "pack"


@dataclass
class HuntOptions:
    """What the user asked for."""

    paths: Sequence[str]
    rules: Sequence[Path] = ()
    with_pack: bool = True
    min_level: str = "informational"
    time_from: datetime | None = None
    time_to: datetime | None = None
    store: Path | None = None
    replace: bool = False  # re-read inputs the store holds already, in place of the earlier copy
    placeholders: Path | None = None
    use_cache: bool = True
    memory_limit: str = "768MB"
    threads: int | None = None
    command: str = "hunt"
    engine: str = "duckdb"  # or "spark" (detect.hunt_spark)
    spark_master: str | None = None
    spark_conf: Sequence[tuple[str, str]] = ()
    # Rule ids whose detections (output or not) the summary keeps, for the caller to evaluate
    # the Sigma correlation rules that reference them (``HuntSummary.kept``).
    keep: frozenset[str] = frozenset()
    time_offsets: Sequence[tuple[str, int]] = ()  # (source glob, seconds): --time-offset


class JsonSink(Protocol):
    """Takes detections as JSON texts (``DetectionWriter`` for json and jsonl)."""

    @property
    def json_frame(self) -> tuple[str, str]:
        """What goes before and after each text."""
        ...

    def write_json(self, data: bytes, count: int) -> None:
        """``count`` framed texts, back to back, in UTF-8."""
        ...


@dataclass
class HuntSummary:
    """What a hunt did and found, for the end-of-run summary and the JSON output."""

    files: int = 0
    files_failed: int = 0
    events: int = 0
    detections: int = 0
    rules_loaded: int = 0
    rules_cached: int = 0
    rules_not_run: list[RuleProblem] = field(default_factory=list)
    rules_failed: dict[str, str] = field(default_factory=dict)
    warnings: list[IngestWarning] = field(default_factory=list)
    by_host: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    seconds_rules_compile: float = 0.0
    engine: dict[str, Any] = field(default_factory=dict)
    store: str | None = None
    kept: list[Detection] = field(default_factory=list, repr=False)  # of ``HuntOptions.keep``
    # Sigma correlation rules evaluated over the run's detections, and their hits (JSON form),
    # filled by the caller that evaluates them (correlate/ runs after detect/).
    correlation_rules: int = 0
    correlations: list[dict[str, Any]] = field(default_factory=list)
    # id(rule) -> [rule, detections]; the tallies by level, tactic and rule are derived from it.
    _per_rule: dict[int, list[Any]] = field(default_factory=dict, repr=False)

    def count(self, d: Detection) -> None:
        """Add one detection to the tallies."""
        self.add(d.rule, d.computer, 1)

    def add(self, rule: RuleInfo, computer: str | None, n: int) -> None:
        """Add ``n`` detections of one rule on one host to the tallies."""
        self.detections += n
        self._per_rule.setdefault(id(rule), [rule, 0])[1] += n
        self.by_host[computer or "?"] += n

    @property
    def by_level(self) -> Counter[str]:
        """Detections by rule level."""
        out: Counter[str] = Counter()
        for rule, n in self._per_rule.values():
            out[rule.level] += n
        return out

    @property
    def by_tactic(self) -> Counter[str]:
        """Detections by ATT&CK tactic (a detection counts for each tactic of its rule)."""
        out: Counter[str] = Counter()
        for rule, n in self._per_rule.values():
            for t in rule.tactics:
                out[t] += n
        return out

    @property
    def by_rule(self) -> Counter[tuple[str, str, str]]:
        """Detections by (rule id, title, level)."""
        out: Counter[tuple[str, str, str]] = Counter()
        for rule, n in self._per_rule.values():
            out[(rule.rule_id, rule.title, rule.level)] += n
        return out

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        """The JSON form of the summary."""
        return {
            "files": self.files,
            "files_failed": self.files_failed,
            "events": self.events,
            "detections": self.detections,
            "events_per_second": round(self.events / self.seconds) if self.seconds else None,
            "seconds": round(self.seconds, 3),
            "rules": {
                "loaded": self.rules_loaded,
                "from_cache": self.rules_cached,
                "not_run": len(self.rules_not_run),
                "failed_at_run_time": len(self.rules_failed),
            },
            "by_level": dict(
                sorted(self.by_level.items(), key=lambda kv: -LEVEL_RANK.get(kv[0], 0))
            ),
            "by_tactic": dict(ranked(self.by_tactic)),
            "top_rules": [
                {"rule_id": r[0], "title": r[1], "level": r[2], "count": n}
                for r, n in ranked(self.by_rule)[:top]
            ],
            "top_hosts": [{"computer": h, "count": n} for h, n in ranked(self.by_host)[:top]],
            "warnings": len(self.warnings),
            "store": self.store,
            "correlations": {"rules": self.correlation_rules, "hits": self.correlations},
            "engine": self.engine,
        }


def ranked(counts: Counter[Any]) -> list[tuple[Any, int]]:
    """Most common first; ties by key, so the summary is the same run to run."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def load_rules(
    rule_dirs: Sequence[Path],
    with_pack: bool,
    placeholders: Path | None,
    use_cache: bool,
    on_progress: Progress | None = None,
) -> tuple[FileResult, RuleCompiler]:
    """Compile our pack and the user's rule folders (cached)."""
    roots = ([PACK] if with_pack else []) + list(rule_dirs)
    for r in rule_dirs:
        if not r.exists():
            raise UsageError(f"no such rule file or folder: {r}")
    files = find_rule_files(roots)
    if not files:
        raise UsageError("no Sigma rule files found (give --rules DIR)")
    compiler = RuleCompiler(load_placeholders(placeholders), use_cache=use_cache)
    return compiler.compile_all(files, on_progress, rule_set=roots), compiler


def select_rules(
    opts: HuntOptions, summary: HuntSummary, on_progress: Progress | None = None
) -> list[CompiledRule]:
    """Compile the rules a hunt runs (by --min-level), recording the counts in ``summary``."""
    t0 = time.perf_counter()
    result, compiler = load_rules(
        opts.rules, opts.with_pack, opts.placeholders, opts.use_cache, on_progress
    )
    summary.seconds_rules_compile = time.perf_counter() - t0
    min_rank = LEVEL_RANK.get(opts.min_level, 0)
    rules = [r for r in result.rules if r.info.level_rank >= min_rank]
    summary.rules_loaded = len(rules)
    summary.rules_cached = compiler.cache_hits
    summary.rules_not_run = [p for p in result.problems if p.kind != "skipped"]
    return rules


def hunt(
    opts: HuntOptions,
    on_detection: Callable[[Detection], None] | None,
    on_progress: Progress | None = None,
    on_warning: Callable[[IngestWarning], None] | None = None,
    on_json: JsonSink | None = None,
) -> HuntSummary:
    """Run the hunt; detections reach ``on_detection`` in time order (None: only the summary
    and the case store get them).

    With ``on_json``, detections the engine can write itself go to it instead, as the JSON
    texts of ``Detection.to_dict``, in runs, in the same order.
    """
    t0 = time.perf_counter()
    summary = HuntSummary()
    if opts.threads is not None and opts.threads < 1:
        raise UsageError(f"--threads wants a number of threads (1 or more), got {opts.threads}")
    mem = budget(parse_memory(opts.memory_limit), opts.threads, os.cpu_count() or 1)
    files = expand_paths(list(opts.paths))
    rules = select_rules(opts, summary, on_progress)

    def warn(w: IngestWarning) -> None:
        summary.warnings.append(w)
        if on_warning:
            on_warning(w)

    store = CaseStore(opts.store, opts.command) if opts.store else None
    if store:  # a file the case holds already is not ingested twice
        files = store.admit(files, opts.replace, warn)
    tmp = tempfile.TemporaryDirectory(prefix="spearhunt-")
    engine_ref: DuckEngine | None = None
    try:
        # Without a store, the run's events live in memory up to the memory limit and spill
        # to the temporary directory past it, so RSS stays flat with size. (A database file
        # would compress them, which cost ~20% more time at 1M events for no memory gain.)
        con = store.con if store else connect()
        eid_base, src_base = store.next_ids() if store else (0, 0)
        con.execute(f"SET memory_limit = '{mem.duckdb_setting}'")
        con.execute("SET temp_directory = $1", [tmp.name])
        if mem.threads:
            con.execute(f"SET threads = {int(mem.threads)}")
        kinds: dict[str, str] = {}
        engine = engine_ref = DuckEngine(
            rules,
            con=con,
            on_warning=warn,
            eid_base=eid_base,
            src_base=src_base,
            chunk_bytes=mem.chunk_bytes,
            time_from=opts.time_from.isoformat(sep=" ") if opts.time_from else None,
            time_to=opts.time_to.isoformat(sep=" ") if opts.time_to else None,
        )
        for n, route in enumerate(engine.router.unrouted):
            rule = rules[route[0]]
            summary.rules_not_run.append(
                RuleProblem(
                    rule.info.source,
                    f"logsource {rule.logsource_name} maps to no Windows channel or provider "
                    "(matching on event id alone would fire across unrelated logs)",
                    rule.info.rule_id,
                    rule.info.title,
                    "unsupported",
                )
            )
            del n
        # Files are sniffed as they come (a folder of 35k logs costs ~0.7 s to sniff, which
        # this way overlaps the engine's work on the previous chunk).
        sizes = [_size(p) for p in files]
        done_bytes, total_bytes = 0, sum(sizes) or 1
        read, t_read, event_files = 0, time.perf_counter(), 0
        parquet: list[Path] = []
        for path, size in zip(files, sizes, strict=True):
            for s in sources_of(path, warn):  # an archive's members one by one
                if s.kind not in EVENT_KINDS:
                    log.debug("not an event log, skipped: %s (%s)", s.name, s.kind.value)
                    continue
                event_files += 1
                summary.files += 1
                if s.kind is Kind.PARQUET:  # already normalized: one dataset, added at the end
                    parquet.append(s.path)
                    continue
                idx = engine.source(s.name)
                kinds[s.name] = s.kind.value
                try:
                    for batch in read_events(s, warn, mem.batch_records):
                        engine.add(idx, batch)
                        read += len(batch)
                        if on_progress:
                            rate = read / max(time.perf_counter() - t_read, 1e-6)
                            on_progress(done_bytes, total_bytes, f"{read:,} events, {rate:,.0f}/s")
                except IngestError as exc:
                    summary.files_failed += 1
                    warn(IngestWarning(s.name, exc.message))
            done_bytes += size
            if on_progress:
                on_progress(done_bytes, total_bytes, f"{read:,} events, {path.name}")
        if parquet:
            read += _add_parquet(engine, parquet, eid_base, summary, warn)
        if not event_files and files and all(Path(a).is_file() for a in opts.paths):
            raise UsageError("none of the inputs is an event log (EVTX, JSON Lines or JSON)")
        engine.flush()  # before the store is written: the engine thread shares its connection
        for fix in correct_times(
            con, engine.sources, src_base, eid_base + 1, opts.time_offsets
        ):  # endpoint clocks written as UTC that are not (normalize.timefix)
            where = engine.sources[fix.src - src_base]
            warn(IngestWarning(where, f"{fix.computer or 'all computers'}: {fix.why}"))
        if store:  # the engine's source list: Parquet inputs name their original files
            store.add_sources(
                src_base, [(p, kinds.get(p, Kind.PARQUET.value)) for p in engine.sources]
            )
        t_match = time.perf_counter()
        if on_progress:
            on_progress(0, None, "matching rules")
        engine.run_rules()
        if opts.keep:
            keep = [i for i, r in enumerate(rules) if r.info.rule_id in opts.keep]
            summary.kept = list(engine.detections(only=keep))
        t_output = time.perf_counter()
        if store:  # all of them, also those of rules that only feed a correlation
            store.add_matches([r.info for r in rules], engine.HITS)
            store.add_warnings(summary.warnings)
        if on_json is not None:
            for item in json_runs(
                engine, [r.info for r in rules], engine.sources, src_base, *on_json.json_frame
            ):
                if isinstance(item, tuple):
                    on_json.write_json(*item)
                elif on_detection is not None:
                    on_detection(item)
        elif on_detection is not None:
            for d in engine.detections():
                if d.rule.output:
                    on_detection(d)
        for rule_index, computer, n in engine.output_counts():
            summary.add(rules[rule_index].info, computer, n)
        st = engine.stats
        summary.events = st.events
        summary.rules_failed = {rules[i].info.rule_id: msg for i, msg in st.failed_rules.items()}
        summary.engine = {
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
            # Wall clock of the run's stages; normalizing overlaps reading in "ingest".
            "stages": {
                "setup": round(t_read - t0, 3),
                "ingest": round(t_match - t_read, 3),
                "match": round(t_output - t_match, 3),
                "output": round(time.perf_counter() - t_output, 3),
            },
        }
        summary.seconds = time.perf_counter() - t0
        if store:
            store.finish(summary.events, summary.detections)
            summary.store = str(opts.store)
    except duckdb.OutOfMemoryException as exc:
        raise EngineError(out_of_memory_message(opts.memory_limit, mem.threads)) from exc
    finally:
        if engine_ref is not None:
            engine_ref.close()
        if store:
            store.close()
        tmp.cleanup()
    return summary


def _add_parquet(
    engine: DuckEngine,
    files: list[Path],
    eid_base: int,
    summary: HuntSummary,
    warn: Callable[[IngestWarning], None],
) -> int:
    """The Parquet inputs (``spearhunt ingest --to-parquet``), as one dataset: their event
    keys stay the dataset's ``eid`` (plus the case store's base) unless events read before
    them, or a second dataset with the same keys, make them move up past the keys in use."""
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
                summary.files_failed += 1
                warn(IngestWarning(str(f), exc.message))
        if not good:
            return 0
        low, _, distinct = eid_range(good)
    if distinct and low + eid_base >= engine.next_eid:
        return add_parquet(engine, good, eid_base=eid_base)
    log.info("Parquet event keys renumbered: they overlap keys of this run")
    added = 0
    for f in good:
        low, _, _ = eid_range([f])
        added += add_parquet(engine, f, eid_base=engine.next_eid - low)
    return added


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
