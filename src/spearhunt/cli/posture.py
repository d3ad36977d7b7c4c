"""``spearhunt posture``: the five defences measured from evidence, tied to the case's stories."""

from __future__ import annotations

from pathlib import Path

import typer

from spearhunt.cli.console import err, out, progress_bar
from spearhunt.cli.main import app
from spearhunt.errors import UsageError
from spearhunt.model import IngestWarning

FORMATS = ("table", "json")


@app.command("posture")
def posture_command(
    store: Path = typer.Option(
        ..., "--store", "-s", exists=True, help="Case store (hunted, mail-triaged, correlated)."
    ),
    zones: Path | None = typer.Option(
        None, "--zones", exists=True, help="Zones file (YAML): zones and allowed flows."
    ),
    signins: list[Path] = typer.Option(
        [],
        "--signins",
        exists=True,
        help="Sign-in logs: Entra ID portal JSON/CSV or Graph signIns JSON, Okta System Log JSON.",
    ),
    inventory: list[Path] = typer.Option(
        [],
        "--inventory",
        exists=True,
        help="Software inventory: osquery results log / osqueryi --json, or CSV host,vendor,product,version.",
    ),
    kev: Path | None = typer.Option(
        None, "--kev", exists=True, help="CISA KEV catalog (known_exploited_vulnerabilities.json)."
    ),
    vulns: list[Path] = typer.Option(
        [], "--vulns", exists=True, help="CVE JSON 5 records (files or folders) for version ranges."
    ),
    traces: list[Path] = typer.Option(
        [],
        "--message-trace",
        exists=True,
        help="Message trace: Exchange Online CSV, Postfix or Sendmail maillog.",
    ),
    assets: Path | None = typer.Option(
        None,
        "--assets",
        exists=True,
        help="Assets file (as for correlate): host roles for the default zones without --zones.",
    ),
    year: int | None = typer.Option(
        None, "--maillog-year", help="Year of classic syslog lines (default: this year)."
    ),
    rules: list[Path] = typer.Option(
        [],
        "--rules",
        "-r",
        exists=True,
        help="Rule folders loaded besides spearhunt's pack (coverage).",
    ),
    no_pack: bool = typer.Option(
        False, "--no-pack", help="Leave spearhunt's own rule pack out of coverage."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="Write posture.json and navigator-coverage.json here."
    ),
) -> None:
    """Measure phishing reporting, MFA, segmentation, patching and detection coverage from the
    evidence given, and say which defence would have stopped which step of each story. A
    defence without input is UNKNOWN, with the input that would measure it."""
    from spearhunt.cli.case import warn_unfinished
    from spearhunt.posture.run import PostureInputs, assess_case
    from spearhunt.report.posture import posture_view, to_json, write_outputs
    from spearhunt.store.posture import save_result

    warn_unfinished(store)
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    for p in (zones, kev, *signins, *inventory, *vulns, *traces, *rules):
        if p is not None and not p.exists():
            raise UsageError(f"no such file or folder: {p}")
    inputs = PostureInputs(
        store=store,
        zones=zones,
        signins=tuple(signins),
        inventory=tuple(inventory),
        kev=kev,
        vulns=tuple(vulns),
        traces=tuple(traces),
        rules=tuple(rules),
        with_pack=not no_pack,
        trace_year=year,
        assets=assets,
    )
    skipped = 0

    def warn(w: IngestWarning) -> None:
        nonlocal skipped
        skipped += 1
        if skipped <= 20:
            err.print(f"warning: {w.location()}: {w.message}", highlight=False, markup=False)

    with progress_bar("posture") as bar:
        result = assess_case(inputs, on_warning=warn, on_progress=bar)
    save_result(store, result.to_dict())
    if skipped > 20:
        err.print(f"{skipped} input warnings in all (the first 20 shown)", highlight=False)
    if fmt == "json":
        out.file.write(to_json(result).decode())
    else:
        out.print(posture_view(result))
    if out_dir is not None:
        for path in write_outputs(result, out_dir):
            err.print(f"wrote {path}", highlight=False, markup=False)
