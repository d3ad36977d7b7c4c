"""Write the report files of a case: the formats ``spearhunt report`` and the demo produce."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from spearhunt.errors import StoreError, UsageError
from spearhunt.model.callbacks import Progress
from spearhunt.report.document import CaseReport, load, timeline_rows
from spearhunt.store.files import private_dir, private_open

log = logging.getLogger(__name__)
FORMATS = ("html", "navigator", "stix", "timeline", "csv")


@dataclass(frozen=True, slots=True)
class Written:
    """What one report run wrote."""

    files: tuple[tuple[str, Path], ...]  # (format, path)
    seconds: float
    report: CaseReport

    def path(self, fmt: str) -> Path | None:
        """The first file written for a format."""
        return next((p for f, p in self.files if f == fmt), None)


def parse_formats(text: str) -> tuple[str, ...]:
    """``html,stix`` -> ("html", "stix"); unknown names are a usage error."""
    names = tuple(dict.fromkeys(x.strip().lower() for x in text.split(",") if x.strip()))
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise UsageError(
            f"--format takes a comma-separated list of {', '.join(FORMATS)} (got {text!r})"
        )
    return names


def safe_name(text: str) -> str:
    """A story id as a file-name part."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:80].strip("._") or "story"


def write_report(
    store: Path,
    out_dir: Path,
    formats: tuple[str, ...] = FORMATS,
    story_id: str | None = None,
    on_progress: Progress | None = None,
) -> Written:
    """Load the case's report document once and write every requested format into ``out_dir``."""
    from spearhunt.report import html, navigator, stix, timeline

    started = time.perf_counter()
    report = load(store, story_id)
    try:
        private_dir(out_dir)
    except OSError as exc:
        raise StoreError(
            f"cannot create report folder: {exc.strerror or exc}", where=str(out_dir)
        ) from exc
    files: list[tuple[str, Path]] = []
    suffix = f"-{safe_name(report.story_id)}" if report.story_id else ""

    def step(name: str) -> None:
        if on_progress:
            on_progress(len(files), None, name)

    def dump(path: Path, doc: object) -> None:
        with private_open(path, "wb") as fh:
            fh.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")

    planned = _names(report, formats, suffix)
    if "navigator" in formats:
        step("navigator")
        if report.story_id is None:
            dump(out_dir / f"navigator-case{suffix}.json", navigator.case_layer(report))
            files.append(("navigator", out_dir / f"navigator-case{suffix}.json"))
        for s in report.stories:
            if not s.techniques:  # an empty layer shows nothing and reads as a broken file
                continue
            path = out_dir / f"navigator-{safe_name(s.story.id)}.json"
            dump(path, navigator.story_layer(s))
            files.append(("navigator", path))
    if "stix" in formats:
        step("stix")
        path = out_dir / f"stix-bundle{suffix}.json"
        dump(path, stix.bundle(report))
        files.append(("stix", path))
    if "timeline" in formats:
        step("timeline")
        jl, cs = out_dir / f"timesketch{suffix}.jsonl", out_dir / f"timesketch{suffix}.csv"
        with (
            private_open(jl, "w", encoding="utf-8") as a,
            private_open(cs, "w", encoding="utf-8", newline="") as b,
        ):
            timeline.write_timesketch(timeline_rows(store, report), a, b)
        files += [("timeline", jl), ("timeline", cs)]
    if "csv" in formats:
        step("csv")
        path = out_dir / f"hayabusa{suffix}.csv"
        with private_open(path, "w", encoding="utf-8", newline="") as fh:
            timeline.write_hayabusa(timeline_rows(store, report), fh)
        files.append(("csv", path))
    if "html" in formats:
        step("html")
        path = out_dir / f"report{suffix}.html"
        with private_open(path, "w", encoding="utf-8") as fh:
            fh.write(html.render(report, links=planned))
        files.insert(0, ("html", path))
    return Written(tuple(files), time.perf_counter() - started, report)


def _names(report: CaseReport, formats: tuple[str, ...], suffix: str) -> dict[str, str]:
    out = {}
    if "navigator" in formats and (
        not report.story_id or any(s.techniques for s in report.stories)
    ):
        out["ATT&CK Navigator"] = (
            f"navigator-{'case' if not report.story_id else safe_name(report.story_id)}.json"
        )
    if "stix" in formats:
        out["STIX 2.1"] = f"stix-bundle{suffix}.json"
    if "timeline" in formats:
        out["Timesketch"] = f"timesketch{suffix}.jsonl"
    if "csv" in formats:
        out["Hayabusa-like CSV"] = f"hayabusa{suffix}.csv"
    return out
