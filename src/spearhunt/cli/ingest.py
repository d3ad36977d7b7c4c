"""``spearhunt ingest``: event logs -> a partitioned Parquet dataset for Spark or DuckDB."""

from __future__ import annotations

from pathlib import Path

import typer

from spearhunt.cli.console import STATE, err, progress_bar
from spearhunt.cli.main import app
from spearhunt.detect.engine.parquet import schema_doc
from spearhunt.errors import UsageError
from spearhunt.model import IngestWarning

HELP = (
    "Normalize event logs (EVTX, evtx_dump JSON, flat JSON Lines, Winlogbeat/ECS; plain or "
    ".gz) into Parquet partitioned by computer/channel/day, with the DuckDB engine's own "
    "normalization and event keys. Appending to an existing dataset continues its keys. "
    "`spearhunt hunt --engine spark DIR` (or DuckDB) reads it.\n\n"
    "Columns:\n\n" + schema_doc().replace("\n", "\n\n")
)


@app.command("ingest", help=HELP)
def ingest_command(
    paths: list[str] = typer.Argument(..., help="Event files, folders (recursive) or globs."),
    to_parquet: Path = typer.Option(
        ..., "--to-parquet", help="Dataset folder to write (created or appended to)."
    ),
    memory_limit: str = typer.Option(
        "auto",
        "--memory-limit",
        help="Memory before normalization spills to disk (e.g. 1GB). auto: a quarter of "
        "this machine's memory, 768MB to 4GB.",
    ),
) -> None:
    from spearhunt.detect.engine.parquet import ingest_to_parquet

    if to_parquet.exists() and not to_parquet.is_dir():
        raise UsageError(f"--to-parquet must be a folder: {to_parquet}")
    warnings: list[IngestWarning] = []

    def on_warning(w: IngestWarning) -> None:
        warnings.append(w)
        if STATE.verbose:
            err.print(f"warning: {w.location()}: {w.message}", markup=False)

    with progress_bar("ingesting") as bar:
        files, events = ingest_to_parquet(
            paths, to_parquet, on_warning=on_warning, on_progress=bar, memory_limit=memory_limit
        )
    if not STATE.quiet:
        err.print(
            f"{files:,} file(s), {events:,} events -> {to_parquet}"
            + (f"; {len(warnings):,} warning(s)" if warnings else ""),
            markup=False,
        )
