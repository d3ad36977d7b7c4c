"""Shared console, verbosity and progress plumbing for the commands."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

# Results go to stdout; messages, warnings and progress to stderr so pipes stay clean.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


@dataclass
class Verbosity:
    """Global verbosity chosen with --quiet / --verbose."""

    quiet: bool = False
    verbose: int = 0


STATE = Verbosity()


def setup_logging(quiet: bool, verbose: int) -> None:
    """Route library logging to stderr at the level the user asked for."""
    STATE.quiet = quiet
    STATE.verbose = verbose
    level = (
        logging.ERROR
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    handler = RichHandler(console=err, show_path=False, show_time=False, markup=False)
    logging.basicConfig(level=level, handlers=[handler], format="%(message)s", force=True)


def progress_enabled() -> bool:
    """Progress bars only for a person watching: not quiet, stderr is a terminal."""
    return not STATE.quiet and sys.stderr.isatty()


class ProgressSink:
    """Adapts library ``on_progress`` callbacks to a Rich bar (or to nothing)."""

    def __init__(self, progress: Progress | None, description: str) -> None:
        self._progress = progress
        self._task = progress.add_task(description, total=None, note="") if progress else None
        self.events = 0

    def __call__(self, done: int, total: int | None, note: str = "") -> None:
        if self._progress is None or self._task is None:
            return
        self._progress.update(self._task, completed=done, total=total, note=note)


@contextmanager
def progress_bar(description: str) -> Iterator[ProgressSink]:
    """A progress bar on stderr, or a silent sink when not wanted."""
    if not progress_enabled():
        yield ProgressSink(None, description)
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        sink = ProgressSink(progress, description)
        if sink._task is not None:
            progress.update(sink._task, note="")
        yield sink
