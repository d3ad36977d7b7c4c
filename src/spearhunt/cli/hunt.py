"""``spearhunt hunt``: Sigma rules over event logs."""

from __future__ import annotations

import dataclasses
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import typer
from rich.table import Table
from rich.text import Text

from spearhunt.cli.console import STATE, SafeConsole, err, out, progress_bar
from spearhunt.cli.main import app
from spearhunt.errors import UsageError
from spearhunt.model import Detection, IngestWarning
from spearhunt.model.detection import LEVELS
from spearhunt.normalize.timefix import parse_offsets
from spearhunt.report.detections import DetectionWriter, details
from spearhunt.store.files import private_open

if TYPE_CHECKING:
    from spearhunt.detect.hunt import HuntSummary

FORMATS = ("table", "csv", "jsonl", "json")
LEVEL_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "informational": "dim",
}
WARNINGS_SHOWN = 20


def parse_time(text: str | None, option: str) -> datetime | None:
    """ISO 8601 date or date-time (UTC unless an offset is given) -> naive UTC datetime."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"{option}: not an ISO 8601 date or time: {text!r}") from exc
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


@app.command("hunt")
def hunt_command(
    paths: list[str] = typer.Argument(
        ...,
        help="EVTX files, JSON/JSONL(.gz) event files, folders (recursive) or globs; with --engine spark: Parquet datasets (spearhunt ingest) and JSON Lines, local or any URI Spark reads (hdfs://, s3a://).",
    ),
    rules: list[Path] = typer.Option(
        [],
        "--rules",
        "-r",
        help="Sigma rule file or folder (repeatable). spearhunt's own pack is always included unless --no-pack.",
    ),
    no_pack: bool = typer.Option(
        False, "--no-pack", help="Do not load spearhunt's built-in rule pack."
    ),
    min_level: str = typer.Option(
        "informational",
        "--min-level",
        "-l",
        help="Only rules at this level or above: " + ", ".join(LEVELS) + ".",
    ),
    time_from: str | None = typer.Option(
        None, "--from", help="Only events at or after this time (ISO 8601, UTC)."
    ),
    time_to: str | None = typer.Option(
        None, "--to", help="Only events at or before this time (ISO 8601, UTC)."
    ),
    time_offset: list[str] = typer.Option(
        [],
        "--time-offset",
        help="SOURCE_GLOB=+HH:MM: add this to the event times of matching input files, for "
        "local time written as UTC that no UTC field in the records can correct (repeatable).",
    ),
    fmt: str = typer.Option(
        "table", "--format", "-f", help="Output format: table, csv, jsonl or json."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write results to this file instead of stdout."
    ),
    store: Path | None = typer.Option(
        None,
        "--store",
        help="Append events and detections to this DuckDB case file for correlate/report "
        "(a file the case holds already is skipped).",
    ),
    replace: bool = typer.Option(
        False,
        "--replace",
        help="With --store: read inputs the case holds already again, in place of the "
        "earlier copy.",
    ),
    placeholders: Path | None = typer.Option(
        None, "--placeholders", exists=True, help="YAML file with values for Sigma %placeholders%."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Recompile every rule instead of using the compiled-rule cache."
    ),
    memory_limit: str = typer.Option(
        "auto",
        "--memory-limit",
        help="Engine memory before it spills to disk (e.g. 512MB, 4GB); more is faster on big "
        "inputs. auto: a quarter of this machine's memory, 768MB to 4GB.",
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="Engine threads (default: all cores)."
    ),
    engine: str = typer.Option(
        "duckdb",
        "--engine",
        help="duckdb (embedded, default) or spark (pip install 'spearhunt\\[spark]').",
    ),
    spark_master: str | None = typer.Option(
        None,
        "--spark-master",
        help="Spark master URL (spark://host:7077, yarn, k8s://..., local[*]); default: spark-submit's, else local[*].",
    ),
    spark_conf: list[str] = typer.Option(
        [],
        "--spark-conf",
        help="Spark setting KEY=VALUE (repeatable), e.g. spark.executor.memory=8g.",
    ),
) -> None:
    """Run Sigma rules (SigmaHQ's and spearhunt's pack) over Windows event logs and JSON telemetry."""
    from spearhunt.detect.hunt import HuntOptions, hunt

    if engine not in ("duckdb", "spark"):
        raise UsageError("--engine must be duckdb or spark")
    if engine != "spark" and (spark_master or spark_conf):
        given = "--spark-master" if spark_master else "--spark-conf"
        raise UsageError(f"{given} applies to Spark only: add --engine spark")
    conf = []
    for item in spark_conf:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--spark-conf wants KEY=VALUE, got {item!r}")
        conf.append((key.strip(), value.strip()))
    if engine == "spark" and STATE.quiet:
        conf = quiet_spark(conf)
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    if min_level not in LEVELS:
        raise UsageError(f"--min-level must be one of {', '.join(LEVELS)}")
    if store is not None:
        from spearhunt.cli.case import warn_unfinished

        warn_unfinished(store)
    opts = HuntOptions(
        paths=paths,
        rules=rules,
        with_pack=not no_pack,
        min_level=min_level,
        time_from=parse_time(time_from, "--from"),
        time_to=parse_time(time_to, "--to"),
        store=store,
        replace=replace,
        placeholders=placeholders,
        use_cache=not no_cache,
        memory_limit=memory_limit,
        threads=threads,
        command="hunt " + " ".join(sys.argv[2:]),
        engine=engine,
        spark_master=spark_master,
        spark_conf=tuple(conf),
        time_offsets=parse_offsets(time_offset),
    )
    # Sigma correlation rules among the rules run over this hunt's own detections (as
    # Hayabusa does); the case store and `spearhunt correlate` see them again, with stories.
    from spearhunt.correlate.sigma import (
        base_rules,
        correlate_detections,
        correlation_fields,
        load_correlation_rules,
    )

    correlations = load_correlation_rules(list(rules), with_pack=not no_pack)
    opts = dataclasses.replace(
        opts,
        keep=frozenset(base_rules(correlations)),
        keep_fields=frozenset(correlation_fields(correlations)),
    )
    if engine == "spark":
        from spearhunt.detect.engine.spark import require_pyspark

        require_pyspark()  # before any output file is opened
    with ExitStack() as stack:
        stream: TextIO = (
            stack.enter_context(private_open(output, "w", encoding="utf-8", newline=""))
            if output
            else sys.stdout
        )
        lines = (
            TableLines(stream, color=output is None and sys.stdout.isatty())
            if fmt == "table"
            else None
        )
        writer = None if lines else DetectionWriter(fmt, stream)

        def on_detection(d: Detection) -> None:
            if lines:
                lines.add(d)
            else:
                writer.write(d)  # type: ignore[union-attr]

        def on_warning(w: IngestWarning) -> None:
            if STATE.verbose:
                err.print(f"warning: {w.location()}: {w.message}", markup=False)

        bar = stack.enter_context(progress_bar("hunting"))
        summary = hunt(
            opts,
            on_detection,
            on_progress=bar,
            on_warning=on_warning,
            on_json=writer if writer and fmt != "csv" else None,
        )
        hits, _ = correlate_detections(correlations, summary.kept)
        summary.correlation_rules = len(correlations)
        summary.correlations = [h.to_dict() for h in hits]
        if writer:
            writer.close(summary.to_dict())
        if lines:
            lines.close()
    # The summary is for people: on stdout after a table, else on stderr so pipes stay clean.
    if not STATE.quiet or fmt == "table":
        print_summary(summary, out if fmt == "table" and output is None else err)


QUIET_LOG4J = Path(__file__).with_name("log4j2-quiet.properties")


def quiet_spark(conf: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Spark settings that keep its JVM's log4j to errors (for -q), added to the driver's
    Java options the user gave, if any."""
    key = "spark.driver.extraJavaOptions"
    flag = f"-Dlog4j2.configurationFile={QUIET_LOG4J.as_uri()}"
    given = " ".join(v for k, v in conf if k == key)
    return [*[(k, v) for k, v in conf if k != key], (key, f"{flag} {given}".strip())]


class TableLines:
    """Detections as aligned lines (streams; a table of 100k rows would not)."""

    def __init__(self, stream: TextIO, color: bool) -> None:
        self.console = SafeConsole(
            file=stream,
            force_terminal=color,
            no_color=not color,
            highlight=False,
            soft_wrap=True,
            width=10_000 if not color else None,
        )
        self.count = 0

    def add(self, d: Detection) -> None:
        ts = d.to_dict()["timestamp"] or "-"
        line = Text()
        line.append(ts[:23].replace("T", " ") + "  ")
        line.append(f"{d.rule.level[:4].upper():4}", style=LEVEL_STYLE.get(d.rule.level, ""))
        line.append(f"  {d.computer or '-'}  {d.channel or '-'}:{d.event_id}  ")
        line.append(d.rule.title, style="bold")
        techs = ",".join(d.rule.techniques)
        if techs:
            line.append(f"  [{techs}]", style="dim")
        det = details(d.event, limit=4)
        if det:
            line.append("\n    " + det, style="dim")
        self.console.print(line)
        self.count += 1

    def close(self) -> None:
        if self.count == 0:
            self.console.print("no detections")


def print_summary(s: HuntSummary, console: object) -> None:
    """The end-of-run summary: what was read, what fired, what could not run."""
    from rich.console import Console

    from spearhunt.detect.hunt import ranked

    con: Console = console  # type: ignore[assignment]
    rate = f"{s.events / s.seconds:,.0f} events/s" if s.seconds else ""
    con.print(
        f"\n[bold]Summary[/]  {s.files:,} files, {s.events:,} events, "
        f"{s.detections:,} detections in {s.seconds:.1f}s ({rate}); "
        f"{s.rules_loaded:,} rules ({s.rules_cached:,} file(s) from cache)"
    )
    # Titles are printed as lines of their own: a table's title wraps at the table's width,
    # which for two narrow columns breaks it inside words.
    if s.by_level:
        t = Table(show_header=False, box=None)
        for level in reversed(LEVELS):
            if s.by_level.get(level):
                t.add_row(Text(level, style=LEVEL_STYLE[level]), f"{s.by_level[level]:,}")
        con.print("[bold]Detections by level[/]")
        con.print(t)
    if s.by_tactic:
        t = Table(show_header=False, box=None)
        for tactic, n in ranked(s.by_tactic):
            t.add_row(tactic, f"{n:,}")
        con.print("[bold]By ATT&CK tactic[/]")
        con.print(t)
    if s.by_rule:
        t = Table(box=None)
        t.add_column("count", justify="right")
        t.add_column("level")
        t.add_column("rule")
        for (_rid, title, level), n in ranked(s.by_rule)[:10]:
            t.add_row(f"{n:,}", Text(level, style=LEVEL_STYLE.get(level, "")), Text(title))
        con.print("[bold]Top rules[/]")
        con.print(t)
    if s.by_host:
        t = Table(box=None, show_header=False)
        for host, n in ranked(s.by_host)[:10]:
            t.add_row(Text(host), f"{n:,}")
        con.print("[bold]Top hosts[/]")
        con.print(t)
    if s.correlation_rules:
        con.print(
            f"[bold]Sigma correlation rules[/]: {s.correlation_rules} evaluated over these "
            f"detections, {len(s.correlations)} hit(s)"
        )
        t = Table(box=None)
        for col in ("first seen (UTC)", "level", "rule", "group", "count", "hosts"):
            t.add_column(col)
        for h in s.correlations[:10]:
            t.add_row(
                (h["first_seen"] or "-")[:19].replace("T", " "),
                Text(h["level"], style=LEVEL_STYLE.get(h["level"], "")),
                Text(h["title"]),
                Text(" ".join(f"{k}={v}" for k, v in h["group"].items())),
                str(h["count"]),
                Text(", ".join(h["hosts"][:5])),
            )
        if s.correlations:
            con.print(t)
    if s.rules_not_run or s.rules_failed:
        con.print(
            f"[yellow]{len(s.rules_not_run) + len(s.rules_failed)} rule(s) could not run[/] "
            + ("(see `spearhunt rules check`, or -v)" if not STATE.verbose else "")
        )
        if STATE.verbose:
            for p in s.rules_not_run:
                con.print(Text(f"  {p.title} ({p.rule_id}): {p.reason}"))
            for rule_id, reason in s.rules_failed.items():
                con.print(Text(f"  {rule_id}: {reason}"))
    if s.warnings:
        con.print(f"[yellow]{len(s.warnings):,} warning(s)[/]: records or files skipped")
        for w in s.warnings[:WARNINGS_SHOWN]:
            con.print(Text(f"  {w.location()}: {w.message}"))
        if len(s.warnings) > WARNINGS_SHOWN:
            con.print(
                f"  ... {len(s.warnings) - WARNINGS_SHOWN:,} more (use --store to keep them all)"
            )
    if s.store:
        con.print(f"case store: {s.store}")
    if STATE.verbose and s.engine:
        con.print(
            Text("engine: " + ", ".join(f"{k} {v}" for k, v in s.engine.items()), style="dim")
        )
