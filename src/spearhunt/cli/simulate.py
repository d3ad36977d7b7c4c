"""``spearhunt simulate``: write a synthetic espionage intrusion with its answer key."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Annotated

import typer

from spearhunt.cli.console import STATE, err, out, progress_bar
from spearhunt.cli.main import app
from spearhunt.errors import SimulateError, UsageError
from spearhunt.simulate.config import (
    SOURCES,
    VARIANT_HELP,
    SimulationConfig,
    parse_sources,
    parse_variant,
)


@app.command(
    "simulate",
    help=(
        "Write a simulated spear-phishing intrusion (mail, Sysmon/Security JSONL per host, Zeek "
        "logs) hidden in office noise, with truth.json as the answer key. --only generates "
        "some of the sources and skips the others (Zeek alone still runs the endpoint activity "
        "it comes from, unwritten); what it generates is the same, byte for byte, as in a run "
        "of all sources.\n\n"
        f"Variants: {VARIANT_HELP}"
    ),
)
def simulate_command(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder to write (must be empty).")],
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same output, byte for byte.")] = 1,
    hosts: Annotated[int, typer.Option("--hosts", help="Hosts in the organisation (>= 6).")] = 40,
    users: Annotated[int, typer.Option("--users", help="Users in the organisation (>= 4).")] = 60,
    days: Annotated[int, typer.Option("--days", help="Days of logs (>= 4).")] = 14,
    noise: Annotated[
        int, typer.Option("--noise", help="Benign endpoint events per host per day.")
    ] = 200,
    variant: Annotated[
        str | None,
        typer.Option(
            "--variant", help="e.g. macro+psexec+https; axes left out come from the seed."
        ),
    ] = None,
    scale: Annotated[
        int, typer.Option("--scale", help="Multiply the noise volume (benchmark loads).")
    ] = 1,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a non-empty --out folder.")
    ] = False,
    endpoint_format: Annotated[
        str,
        typer.Option(
            "--endpoint-format",
            help="Endpoint JSONL shape: flat (Sigma field names) or evtx-json (evtx_dump style).",
        ),
    ] = "flat",
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help=f"Generate only these sources ({', '.join(SOURCES)}); repeat the option or give a "
            "comma list. Default: all.",
        ),
    ] = None,
) -> None:
    """Generate the simulation and print a short summary."""
    from spearhunt.simulate.writer import check_out_dir, simulate

    try:  # options the simulator cannot honour are usage errors, found before any work
        config = SimulationConfig(
            seed=seed,
            hosts=hosts,
            users=users,
            days=days,
            noise=noise,
            variant=variant,
            scale=scale,
            endpoint_format=endpoint_format,
            sources=parse_sources(only),
        )
        config.validate()
        parse_variant(variant, random.Random(0))
        check_out_dir(out_dir, force=force)
    except SimulateError as exc:
        raise UsageError(exc.message, where=exc.where) from exc
    started = time.perf_counter()
    with progress_bar("simulating") as sink:
        result = simulate(out_dir, config, force=force, on_progress=sink)
    elapsed = time.perf_counter() - started
    if STATE.quiet:  # the folder is the result; its README.txt says what is in it
        return
    story = result.truth["story"]
    counts = result.truth["counts"]
    net = result.network_records
    paths = result.paths
    out.print(f"variant      {result.variant.name} (seed {seed})")
    if "mail" in paths:
        out.print(
            f"mail         {result.mails} messages ({result.malicious_mails} malicious) in "
            f"{paths['mail']}"
        )
    if "endpoint" in paths:
        out.print(
            f"endpoint     {result.endpoint_events:,} events on {hosts} hosts in "
            f"{paths['endpoint']}"
        )
    if "network" in paths:
        out.print(
            f"network      conn {net['conn']:,}, dns {net['dns']:,}, http {net['http']:,}, "
            f"ssl {net['ssl']:,} in {paths['network']}"
        )
    if len(config.sources) < len(SOURCES):
        out.print(f"skipped      {', '.join(s for s in SOURCES if s not in config.sources)}")
    found = ", ".join(
        f"{counts[key]:,} {what}"
        for key, what in (
            ("malicious_events", "events"),
            ("malicious_network_records", "network records"),
        )
        if key in counts
    )
    out.print(
        f"malicious    {found + '; ' if found else ''}"
        f"patient zero {story['patient_zero']['host']}, "
        f"{len(story['lateral_hosts'])} lateral hosts, "
        f"{len(story['exfiltration'])} exfiltration flows"
    )
    out.print(f"answer key   {result.truth_path}")
    err.print(
        f"{result.total_records:,} records in {elapsed:.1f} s "
        f"({result.total_records / max(elapsed, 1e-9):,.0f}/s)"
    )
