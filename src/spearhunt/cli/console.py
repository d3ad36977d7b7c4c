"""Shared console, verbosity and progress plumbing for the commands."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Iterator
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
from rich.segment import Segment

# C0 controls but tab and newline, DEL, and the C1 controls (0x9b is a one-byte CSI).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def neutralize(text: str) -> str:
    """Text from logs and mail made inert for a terminal: every control character (ESC of a
    colour, title, clear-screen or OSC 8 link sequence, BEL, CR ...) is shown as ``\\xNN``,
    as the HTML report escapes markup."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class SafeConsole(Console):
    """A Rich console whose printed text cannot drive the terminal.

    Rich's own styling (colours, links, the progress bar's cursor moves) is emitted from
    styles and control segments; only the text of segments, where attacker strings end up,
    is neutralized, so every table and message of every command is covered in one place.
    """

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            seg if seg.control else Segment(neutralize(seg.text), seg.style) for seg in buffer
        )


# Results go to stdout; messages, warnings and progress to stderr so pipes stay clean.
out = SafeConsole(highlight=False, soft_wrap=True)
err = SafeConsole(stderr=True, highlight=False)


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
