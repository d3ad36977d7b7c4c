"""``spearhunt convert``: compiled Sigma rules as SQL files, one per rule variant."""

from __future__ import annotations

from pathlib import Path

import typer

from spearhunt.cli.console import STATE, err
from spearhunt.cli.main import app
from spearhunt.errors import UsageError


@app.command("convert")
def convert_command(
    rules: list[Path] = typer.Option(
        ..., "--rules", "-r", help="Sigma rule file or folder (repeatable)."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Folder for the .sql files (one per rule variant, plus _view.sql)."
    ),
    dialect: str = typer.Option("duckdb", "--dialect", help="spark or duckdb."),
    no_pack: bool = typer.Option(
        False, "--no-pack", help="Do not include spearhunt's built-in rule pack."
    ),
    force: bool = typer.Option(
        False, "--force", help="Write into a non-empty --out, replacing its .sql files."
    ),
    placeholders: Path | None = typer.Option(
        None, "--placeholders", exists=True, help="YAML file with values for Sigma %placeholders%."
    ),
) -> None:
    """Write every rule variant as a SQL file for another tool (Spark SQL or DuckDB).

    The queries read the flat events view `spearhunt_flat`, which _view.sql builds from the
    Parquet of `spearhunt ingest`: columns "c:<field>" hold lowercased values, "o:<field>" the
    original text, <field> being the Sigma name lowercased without spaces."""
    from spearhunt.detect.convert import convert
    from spearhunt.detect.engine.sql import DIALECTS
    from spearhunt.detect.hunt import load_rules

    if dialect not in DIALECTS:
        raise UsageError(f"--dialect must be one of {', '.join(DIALECTS)}")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise UsageError(
                f"--out {out} is not empty: give an empty or new folder, or --force to replace "
                "its .sql files (files of an earlier conversion would mix with this one)"
            )
        for old in out.glob("*.sql"):
            old.unlink()
    result, _ = load_rules(rules, not no_pack, placeholders, True)
    n = convert(result.rules, DIALECTS[dialect], out)
    if not STATE.quiet:
        err.print(
            f"{n:,} rule variant(s) of {len(result.rules):,} rule(s) -> {out}"
            + (
                f"; {len(result.problems):,} rule(s) not converted (see `spearhunt rules check`)"
                if result.problems
                else ""
            ),
            markup=False,
        )
