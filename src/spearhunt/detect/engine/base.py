"""The engine interface: what ``detect.hunt.hunt`` drives, DuckDB's or Spark's.

An engine of a run takes the run's inputs (a batch at a time for DuckDB, as Spark
DataFrames for Spark), runs every rule once, and gives back its hits in time order (then
event key, then rule) as ``Detection``; the hunt does the rest the same way for both
(summary, output of alerts only, the case store, correlation base rules).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from spearhunt.detect.engine.plan import Router
from spearhunt.model import Detection
from spearhunt.model.callbacks import Progress


@dataclass
class InputCounts:
    """What adding a run's inputs read."""

    files: int = 0
    files_failed: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class EngineCounters:
    """What every engine reports of a run (``detail``: its own figures, for -v and JSON)."""

    events: int = 0
    failed_rules: dict[int, str] = field(default_factory=dict)  # rule index -> why
    detail: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    """One run of one engine over a list of rules (indexes refer to that list)."""

    name: str
    router: Router

    def unrouted_reason(self, index: int, variant: str) -> str:
        """Why a rule variant the router left out runs nowhere."""
        ...

    def add_inputs(self, on_progress: Progress | None) -> InputCounts:
        """Read the run's inputs into the engine."""
        ...

    def run(self, on_progress: Progress | None) -> None:
        """Run every rule over what was added (once)."""
        ...

    def detections(self, only: Sequence[int] | None = None) -> Iterator[Detection]:
        """Every hit (of the rules ``only``, else all), in time order, then event, then rule."""
        ...

    def json_runs(self, lead: str, end: str) -> Iterator[tuple[bytes, int] | Detection] | None:
        """Output rules' detections as runs of JSON texts the engine builds itself
        (``model.detection.json_runs``), in the order of ``detections``; None if it cannot."""
        ...

    def output_counts(self) -> list[tuple[int, str | None, int]] | None:
        """(rule, computer, detections) of output rules if the engine counts them itself;
        None: the hunt counts them while it reads ``detections``."""
        ...

    def store_hits(self) -> Callable[[list[Detection]], None] | None:
        """None when the case store has every hit already (DuckDB writes into it); else
        what takes hits, in batches, as the hunt reads them (Spark)."""
        ...

    def counters(self) -> EngineCounters:
        """The run's figures."""
        ...

    def close(self) -> None:
        """Release what the run holds (threads, temporary files; not the case store)."""
        ...
