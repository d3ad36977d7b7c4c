"""``spearhunt simulate``: write a synthetic espionage intrusion with its answer key."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from spearhunt.cli.console import err, out, progress_bar
from spearhunt.cli.main import app
from spearhunt.simulate.config import VARIANT_HELP, SimulationConfig


@app.command(
    "simulate",
    help=(
        "Write a simulated spear-phishing intrusion (mail, Sysmon/Security JSONL per host, Zeek "
        "logs) hidden in office noise, with truth.json as the answer key.\n\n"
        f"Variants: {VARIANT_HELP}"
    ),
)
def simulate_command(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder to write (must be empty).")],
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same output, byte for byte.")] = 1,
    hosts: Annotated[int, typer.Option("--hosts", help="Hosts in the organisation (>= 6).")] = 40,
    users: Annotated[int, typer.Option("--users", help="Users in the organisation (>= 4).")] = 60,
    days: Annotated[int, typer.Option("--days", help="Days of logs (>= 4).")] = 14,
    noise: Annotated[int, typer.Option("--noise", help="Benign endpoint events per host per day.")] = 200,
    variant: Annotated[str | None, typer.Option(
        "--variant", help="e.g. macro+psexec+https; axes left out come from the seed.")] = None,
    scale: Annotated[int, typer.Option("--scale", help="Multiply the noise volume (benchmark loads).")] = 1,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a non-empty --out folder.")] = False,
    endpoint_format: Annotated[str, typer.Option(
        "--endpoint-format",
        help="Endpoint JSONL shape: flat (Sigma field names) or evtx-json (evtx_dump style).",
    )] = "flat",
) -> None:
    """Generate the simulation and print a short summary."""
    from spearhunt.simulate.writer import simulate

    config = SimulationConfig(seed=seed, hosts=hosts, users=users, days=days, noise=noise,
                              variant=variant, scale=scale, endpoint_format=endpoint_format)
    started = time.perf_counter()
    with progress_bar("simulating") as sink:
        result = simulate(out_dir, config, force=force, on_progress=sink)
    elapsed = time.perf_counter() - started
    story = result.truth["story"]
    net = result.network_records
    out.print(f"variant      {result.variant.name} (seed {seed})")
    out.print(f"mail         {result.mails} messages ({result.malicious_mails} malicious) in "
              f"{result.paths['mail']}")
    out.print(f"endpoint     {result.endpoint_events:,} events on {hosts} hosts in "
              f"{result.paths['endpoint']}")
    out.print(f"network      conn {net['conn']:,}, dns {net['dns']:,}, http {net['http']:,}, "
              f"ssl {net['ssl']:,} in {result.paths['network']}")
    out.print(f"malicious    {result.truth['counts']['malicious_events']:,} events, "
              f"{result.truth['counts']['malicious_network_records']:,} network records; "
              f"patient zero {story['patient_zero']['host']}, "
              f"{len(story['lateral_hosts'])} lateral hosts, "
              f"{len(story['exfiltration'])} exfiltration flows")
    out.print(f"answer key   {result.truth_path}")
    err.print(f"{result.total_records:,} records in {elapsed:.1f} s "
              f"({result.total_records / max(elapsed, 1e-9):,.0f}/s)")
