"""One hunt, whichever engine runs it: compile the rules, feed the engine the inputs, run it,
hand its hits out, summarize (``detect.engine.base.Engine``: DuckDB or Spark).

Library code: it reports through callbacks (``on_progress``, ``on_warning``,
``on_detection``) and returns a frozen summary; printing is the CLI's job.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from spearhunt.detect.engine.base import Engine
from spearhunt.detect.engine.memory import budget, out_of_memory_message, parse_memory
from spearhunt.detect.hunt_duckdb import DuckRun
from spearhunt.detect.options import HuntOptions, HuntSummary, JsonSink, ranked
from spearhunt.detect.sigma.compiler import (
    CompiledRule,
    FileResult,
    RuleCompiler,
    RuleProblem,
    find_rule_files,
)
from spearhunt.detect.sigma.placeholders import load_placeholders
from spearhunt.errors import EngineError, UsageError
from spearhunt.model import Detection, IngestWarning
from spearhunt.model.callbacks import Progress
from spearhunt.model.detection import LEVEL_RANK, RuleInfo
from spearhunt.store.case import CaseStore

__all__ = ["PACK", "HuntOptions", "HuntSummary", "JsonSink", "hunt", "load_rules", "ranked"]

log = logging.getLogger(__name__)

PACK = Path(__file__).resolve().parent / "sigma" / "pack"
ENGINES = ("duckdb", "spark")


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
    """Run the hunt on ``opts.engine``; detections of output rules reach ``on_detection`` in
    time order (None: only the summary and the case store get them).

    With ``on_json``, detections the engine can write itself go to it instead, as the JSON
    texts of ``Detection.to_dict``, in runs, in the same order (DuckDB).
    """
    t0 = time.perf_counter()
    summary = HuntSummary()
    if opts.engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}")
    if opts.engine == "duckdb":  # a bad --memory-limit or --threads before any work
        budget(parse_memory(opts.memory_limit), opts.threads, 1)
    rules = select_rules(opts, summary, on_progress)
    infos = [r.info for r in rules]

    def warn(w: IngestWarning) -> None:
        summary.warnings.append(w)
        if on_warning:
            on_warning(w)

    store = CaseStore(opts.store, opts.command) if opts.store else None
    engine: Engine | None = None
    try:
        if on_progress and opts.engine == "spark":
            on_progress(0, None, "starting Spark")
        engine = _open(opts, rules, store, warn)
        for index, variant in engine.router.unrouted:
            rule = rules[index]
            summary.rules_not_run.append(
                RuleProblem(
                    rule.info.source,
                    engine.unrouted_reason(index, variant),
                    rule.info.rule_id,
                    rule.info.title,
                    "unsupported",
                )
            )
        t_read = time.perf_counter()
        counts = engine.add_inputs(on_progress)
        summary.files, summary.files_failed = counts.files, counts.files_failed
        t_match = time.perf_counter()
        if on_progress:
            on_progress(0, None, "matching rules")
        engine.run(on_progress)
        t_output = time.perf_counter()
        _deliver(engine, opts, infos, summary, on_detection, on_json)
        if store:
            store.add_warnings(summary.warnings)
        st = engine.counters()
        summary.events = st.events
        summary.rules_failed = {infos[i].rule_id: msg for i, msg in st.failed_rules.items()}
        summary.engine = {
            **st.detail,
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
        threads = engine.mem.threads if isinstance(engine, DuckRun) else opts.threads
        raise EngineError(out_of_memory_message(opts.memory_limit, threads)) from exc
    finally:
        if engine is not None:
            engine.close()
        if store:
            store.close()
    return summary


def _open(
    opts: HuntOptions,
    rules: Sequence[CompiledRule],
    store: CaseStore | None,
    warn: Callable[[IngestWarning], None],
) -> Engine:
    """The engine of ``opts.engine`` for this run."""
    if opts.engine == "spark":
        from spearhunt.detect.hunt_spark import SparkRun

        return SparkRun(opts, rules, store, warn)
    return DuckRun(opts, rules, store, warn)


def _deliver(
    engine: Engine,
    opts: HuntOptions,
    infos: list[RuleInfo],
    summary: HuntSummary,
    on_detection: Callable[[Detection], None] | None,
    on_json: JsonSink | None,
) -> None:
    """The run's hits: output rules' detections to the caller and the summary, every hit to
    the case store (when the engine does not write it itself), the correlation base rules'
    to ``summary.kept``. Rules with ``output`` unset (helpers of a Sigma correlation rule
    with 'generate: false') are never output, whichever engine ran them."""
    keep = [i for i, info in enumerate(infos) if info.rule_id in opts.keep]
    counted = engine.output_counts()
    store_hits = engine.store_hits()
    runs = engine.json_runs(*on_json.json_frame) if on_json is not None else None
    if runs is not None and on_json is not None:
        for item in runs:
            if isinstance(item, tuple):
                on_json.write_json(*item)
            elif on_detection is not None:
                on_detection(item)
    if (runs is None and on_detection is not None) or counted is None or store_hits:
        kept = set(keep) if counted is None else set()
        kept_ids = {id(infos[i]) for i in kept}
        batch: list[Detection] = []
        for d in engine.detections():
            if d.rule.output:
                if counted is None:
                    summary.count(d)
                if runs is None and on_detection is not None:
                    on_detection(d)
            if id(d.rule) in kept_ids:
                summary.kept.append(_lean(d, opts.keep_fields))
            if store_hits:
                batch.append(d)
                if len(batch) >= 50_000:
                    store_hits(batch)
                    batch = []
        if store_hits:
            store_hits(batch)
    if counted is not None:
        for index, computer, n in counted:
            summary.add(infos[index], computer, n)
        if keep:
            summary.kept = [_lean(d, opts.keep_fields) for d in engine.detections(only=keep)]


def _lean(d: Detection, fields: frozenset[str] | None) -> Detection:
    """``d`` with only ``fields`` of its event (all with None)."""
    if fields is None:
        return d
    return dataclasses.replace(d, event={k: v for k, v in d.event.items() if k in fields})
