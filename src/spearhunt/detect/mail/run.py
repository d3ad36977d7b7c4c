"""Triage a set of inputs: read every mail, judge it, hand back verdicts and per-file failures."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from spearhunt.detect.mail.analyze import MailAnalyzer
from spearhunt.ingest.mail import DEFAULT_LIMITS, Limits, RawMail, iter_files, read_file
from spearhunt.model.callbacks import Progress
from spearhunt.model.mail import MailFailure, MailVerdict

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Triaged:
    """A verdict with the mail it was made from (for extraction)."""

    raw: RawMail
    verdict: MailVerdict


def triage(
    paths: Iterable[Path],
    analyzer: MailAnalyzer,
    limits: Limits = DEFAULT_LIMITS,
    on_progress: Progress | None = None,
) -> Iterator[Triaged | MailFailure]:
    """Verdicts in input order; a file that cannot be read or judged yields a MailFailure."""
    files = list(iter_files(paths))
    for done, path in enumerate(files, 1):
        if not path.exists():
            yield MailFailure(str(path), "no such file or folder")
            continue
        for item in read_file(path, limits, analyzer.config.archive_passwords):
            if isinstance(item, MailFailure):
                yield item
                continue
            try:
                yield Triaged(item, analyzer.analyze(item))
            except RecursionError:
                yield MailFailure(item.source, "mail structure nested too deeply to judge")
            except Exception as exc:  # a checker bug on one hostile mail must not end the run
                log.debug("analysis failed on %s", item.source, exc_info=True)
                yield MailFailure(
                    item.source, f"analysis failed: {type(exc).__name__}: {exc}"[:300]
                )
        if on_progress is not None:
            on_progress(done, len(files), path.name)
