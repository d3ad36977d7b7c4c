"""``spearhunt correlate``, ``spearhunt story`` and ``spearhunt investigate``."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import orjson
import typer

from spearhunt.cli.console import STATE, err, out, progress_bar
from spearhunt.cli.main import app
from spearhunt.errors import UsageError

FORMATS = ("table", "json")


INTERNAL_HELP = (
    "A network of the victim's own, as CIDR (repeatable; default: private address space). "
    "Anything outside is a destination: give it when C2 sits in private space too."
)
BEACON_HELP = "Connections to one destination before it can score as a beacon."
EXFIL_HELP = "Megabytes out to one rare destination that count as exfiltration."
GAP_HELP = (
    "Quiet time without an alert on a host that ends an episode (a later one is a new story)."
)


def _options(  # type: ignore[no-untyped-def]
    window: str,
    allowlist: Path | None,
    assets: Path | None,
    rules: list[Path],
    internal: Sequence[str] = (),
    beacon_min: int = 12,
    exfil_mb: float = 10.0,
    episode_gap: str = "2d",
):
    import dataclasses

    from spearhunt.correlate.config import (
        CorrelateOptions,
        Windows,
        internal_from,
        load_allowlist,
        load_assets,
        parse_duration,
    )

    if beacon_min < 3:
        raise UsageError("--beacon-min-conns must be 3 or more")
    if exfil_mb <= 0:
        raise UsageError("--exfil-min-mb must be above 0")
    windows = dataclasses.replace(Windows(), story=parse_duration(window))
    asset_list = load_assets(assets)
    return CorrelateOptions(
        windows=windows,
        allowlist=load_allowlist(allowlist),
        assets=asset_list,
        rule_dirs=tuple(rules),
        internal=internal_from(list(internal), asset_list),
        beacon_min_conns=beacon_min,
        exfil_min_bytes=int(exfil_mb * 1024 * 1024),
        episode_gap=parse_duration(episode_gap),
    )


def _print(result, fmt: str) -> None:  # type: ignore[no-untyped-def]
    from spearhunt.report.story import stories_table, story_view, unassigned_table

    if fmt == "json":
        out.file.write(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    out.print(stories_table(result))
    if result.stories:
        out.print()
        out.print(story_view(result.stories[0], evidence_rows=25))
    left = unassigned_table(result)
    if left is not None:  # nothing severe is left out without a word
        out.print()
        out.print(left)


@app.command("correlate")
def correlate_command(
    store: Path = typer.Option(
        ..., "--store", "-s", exists=True, help="Case store written by hunt/mail/investigate."
    ),
    window: str = typer.Option(
        "14d", "--window", help="Longest time a story may span (e.g. 7d, 36h)."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    allowlist: Path | None = typer.Option(
        None,
        "--allowlist",
        exists=True,
        help="YAML allow-list: hosts, users, rules, hashes, domains, ips.",
    ),
    assets: Path | None = typer.Option(
        None,
        "--assets",
        exists=True,
        help="YAML asset criticality: assets: [{match, criticality, role}].",
    ),
    rules: list[Path] = typer.Option(
        [], "--rules", "-r", help="Extra folders with Sigma correlation rules."
    ),
    internal: list[str] = typer.Option([], "--internal", help=INTERNAL_HELP),
    beacon_min: int = typer.Option(12, "--beacon-min-conns", help=BEACON_HELP),
    exfil_mb: float = typer.Option(10.0, "--exfil-min-mb", help=EXFIL_HELP),
    episode_gap: str = typer.Option("2d", "--episode-gap", help=GAP_HELP),
) -> None:
    """Chain the case's mail verdicts, detections, logons and network records into ranked
    campaign stories (also saved in the store)."""
    from spearhunt.cli.case import warn_unfinished
    from spearhunt.correlate.run import correlate_store

    warn_unfinished(store)
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    with progress_bar("correlating") as bar:
        result = correlate_store(
            store,
            _options(window, allowlist, assets, rules, internal, beacon_min, exfil_mb, episode_gap),
            on_progress=bar,
        )
    _print(result, fmt)


@app.command("story")
def story_command(
    story_id: str = typer.Argument(..., help="Story id (or a unique prefix)."),
    store: Path = typer.Option(
        ..., "--store", "-s", exists=True, help="Case store that was correlated."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """One story: timeline, hosts, exfiltration and evidence (from the last correlation saved)."""
    from spearhunt.cli.case import warn_unfinished
    from spearhunt.correlate.config import CorrelateOptions, load_allowlist
    from spearhunt.correlate.run import correlate_store, saved_result
    from spearhunt.report.story import story_view

    warn_unfinished(store)

    result = saved_result(store) or correlate_store(
        store, CorrelateOptions(allowlist=load_allowlist(None))
    )
    story = result.story(story_id)
    if story is None:
        raise UsageError(
            f"no story {story_id!r} in {store} (ids: {', '.join(s.id for s in result.stories[:10])})"
        )
    if fmt == "json":
        out.file.write(orjson.dumps(story.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        out.print(story_view(story, evidence_rows=200))


@app.command("investigate")
def investigate_command(
    paths: list[str] = typer.Argument(
        ..., help="Folders or files: mail, endpoint logs, Zeek logs, in any mix."
    ),
    rules: list[Path] = typer.Option(
        [],
        "--rules",
        "-r",
        help="Extra Sigma rule folders (detection and correlation rules) besides spearhunt's pack.",
    ),
    store: Path | None = typer.Option(
        None, "--store", "-s", help="Case store to write (default: a temporary one)."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    window: str = typer.Option("14d", "--window", help="Longest time a story may span."),
    allowlist: Path | None = typer.Option(
        None, "--allowlist", exists=True, help="YAML allow-list."
    ),
    assets: Path | None = typer.Option(
        None, "--assets", exists=True, help="YAML asset criticality."
    ),
    internal: list[str] = typer.Option([], "--internal", help=INTERNAL_HELP),
    beacon_min: int = typer.Option(12, "--beacon-min-conns", help=BEACON_HELP),
    exfil_mb: float = typer.Option(10.0, "--exfil-min-mb", help=EXFIL_HELP),
    episode_gap: str = typer.Option("2d", "--episode-gap", help=GAP_HELP),
    time_offset: list[str] = typer.Option(
        [],
        "--time-offset",
        help="SOURCE_GLOB=+HH:MM: add this to the event times of matching input files "
        "(local time written as UTC that no UTC field in the records corrects; repeatable).",
    ),
) -> None:
    """Mail triage, hunt, network ingest and correlation over the inputs in one go."""
    from rich.text import Text

    from spearhunt.model import IngestWarning
    from spearhunt.normalize.timefix import parse_offsets
    from spearhunt.pipeline import CaseInputs, CaseOptions, build_case

    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    tmp = None
    if store is None:
        tmp = tempfile.TemporaryDirectory(prefix="spearhunt-case-")
        store = Path(tmp.name) / "case.duckdb"
    elif store.exists():
        raise UsageError(
            f"{store} exists; investigate writes a new case (use correlate on an existing one)"
        )
    try:
        with progress_bar("investigating") as bar:
            # The rule folders hold detection and correlation rules alike: both stages read them.
            warnings: list[IngestWarning] = []
            summary = build_case(
                CaseInputs.sniff(paths, warnings.append),
                store,
                CaseOptions(
                    _options(
                        window,
                        allowlist,
                        assets,
                        rules,
                        internal,
                        beacon_min,
                        exfil_mb,
                        episode_gap,
                    ),
                    tuple(rules),
                    time_offsets=parse_offsets(time_offset),
                ),
                on_progress=bar,
                on_warning=warnings.append,
            )
        if not STATE.quiet:
            err.print(summary.line(), highlight=False)
            if warnings:  # what was skipped is said at the default verbosity
                err.print(
                    f"{len(warnings):,} warning(s): files, records or mails skipped, times corrected",
                    highlight=False,
                )
                for w in warnings[: 5 if not STATE.verbose else None]:
                    err.print(Text(f"  {w.location()}: {w.message}"))
        _print(summary.result, fmt)
    finally:
        if tmp:
            tmp.cleanup()
