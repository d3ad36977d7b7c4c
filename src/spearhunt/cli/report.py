"""``spearhunt report``: HTML, ATT&CK Navigator, STIX and timelines of a stored case."""

from __future__ import annotations

from pathlib import Path

import typer

from spearhunt.cli.console import STATE, err, out, progress_bar
from spearhunt.cli.main import app

DEFAULT_FORMATS = "html,navigator,stix,timeline,csv"


@app.command("report")
def report_command(
    store: Path = typer.Option(
        ..., "--store", "-s", exists=True, help="Case store (after correlate or investigate)."
    ),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder to write the report files into."),
    story: str | None = typer.Option(
        None, "--story", help="Only this story (id or unique prefix)."
    ),
    formats: str = typer.Option(
        DEFAULT_FORMATS,
        "--format",
        "-f",
        help="Comma-separated: html, navigator, stix, timeline (Timesketch), csv (Hayabusa-like).",
    ),
) -> None:
    """Write the case's reports from the saved correlation result and the store: a self-contained
    HTML report, ATT&CK Navigator layers, a STIX 2.1 bundle and timelines. Re-runs nothing."""
    from spearhunt.cli.case import warn_unfinished
    from spearhunt.report.render import parse_formats, write_report

    warn_unfinished(store)

    wanted = parse_formats(formats)
    with progress_bar("writing report") as bar:
        written = write_report(store, out_dir, wanted, story, on_progress=bar)
    rep = written.report
    if not rep.correlated:
        err.print(
            f"note: no correlation result in {store}; run `spearhunt correlate --store {store}` for stories"
        )
    for fmt, path in written.files:
        out.print(f"{fmt:<10} {path}")
    if not STATE.quiet:
        err.print(
            f"{len(written.files)} files, {rep.stories_total} stories, {rep.detections:,} detections "
            f"in {written.seconds:.1f}s"
        )
