"""``spearhunt runs``: the runs of a case, and dropping one that never finished; and the
warning every command reading a case gives when a run of it never finished."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from spearhunt.cli.console import err, out
from spearhunt.cli.main import app


def warn_unfinished(store: Path) -> None:
    """Say, on stderr, which runs of the case started and never finished (killed midway):
    what they wrote is partial, and how to drop them."""
    from spearhunt.store import runs
    from spearhunt.store.case import open_case

    if not store.exists():
        return
    with open_case(store) as case:
        unfinished = runs.unfinished(case)
    for r in unfinished:
        err.print(
            f"warning: {store}: run {r.run_id} ({r.command or '?'}, started "
            f"{str(r.started)[:19]} UTC) never finished (killed?): the case holds part of its "
            f"input. Drop it with: spearhunt runs --store {store} --drop {r.run_id}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@app.command("runs")
def runs_command(
    store: Path = typer.Option(..., "--store", "-s", exists=True, help="Case store."),
    drop: list[int] = typer.Option(
        [],
        "--drop",
        help="Remove everything this run wrote (for a run that never finished); repeatable.",
    ),
) -> None:
    """List the runs of a case (command, state, counts), or drop a run that never finished:
    its events, detections, warnings, mail and network rows, and the correlation results
    saved since it started, so the case holds only whole runs again."""
    from spearhunt.store import runs
    from spearhunt.store.case import open_case

    if drop:
        with open_case(store, write=True) as case:
            for run_id in drop:
                d = runs.drop(case, run_id)
                out.print(
                    f"dropped run {run_id} ({d.run.command or '?'}): {d.events:,} events, "
                    f"{d.detections:,} detections, {d.results} correlation results removed",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            case.checkpoint()
        err.print(
            f"run `spearhunt correlate --store {store}` again for stories",
            markup=False,
            soft_wrap=True,
        )
        return
    with open_case(store) as case:
        rows = runs.runs(case)
    table = Table(box=None)
    for col in ("run", "started (UTC)", "state", "events", "detections", "command"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r.run_id),
            str(r.started)[:19],
            r.status if r.status != "running" else "[red]never finished[/]",
            f"{r.events:,}",
            f"{r.detections:,}",
            r.command,
            style="dim" if r.status == "dropped" else None,
        )
    out.print(table)
    warn_unfinished(store)
