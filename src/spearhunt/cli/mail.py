"""``spearhunt mail``: triage reported mails and their attachments."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from spearhunt.cli.console import STATE, err, neutralize, out, progress_bar
from spearhunt.cli.main import app
from spearhunt.errors import UsageError
from spearhunt.store.files import private_open

FAIL_ON = ("suspicious", "malicious")
EXIT_VERDICT = 3


@app.command("mail")
def mail(
    paths: Annotated[
        list[Path], typer.Argument(help="Mail files (.eml, .msg, mbox) or folders of them.")
    ],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or jsonl.")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write results here instead of stdout.")
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            help="Append results to this case DuckDB (a file the case holds already is skipped).",
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="With --store: a mail file the case holds replaces its earlier copy."
        ),
    ] = False,
    extract_dir: Annotated[
        Path | None,
        typer.Option("--extract", help="Write attachments here (defanged names, no exec bits)."),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on", help="Exit 3 when a mail is at least this bad: suspicious|malicious."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", exists=True, help="YAML overriding the shipped mail config."),
    ] = None,
    yara_dir: Annotated[
        Path | None,
        typer.Option(
            "--yara", exists=True, help="Folder of YARA rules run on every extracted part."
        ),
    ] = None,
) -> None:
    """Give an explained verdict (malicious / suspicious / clean) for every mail and attachment."""
    from rich.markup import escape

    from spearhunt.detect.mail import MailAnalyzer, YaraRules, load_config
    from spearhunt.detect.mail.run import Triaged, triage
    from spearhunt.model.mail import MailFailure
    from spearhunt.report import mail as render

    if fmt not in render.FORMATS:
        raise UsageError(f"--format must be one of {', '.join(render.FORMATS)}")
    if fail_on is not None and fail_on not in FAIL_ON:
        raise UsageError("--fail-on must be suspicious or malicious")
    analyzer = MailAnalyzer(load_config(config), YaraRules(yara_dir) if yara_dir else None)
    sink = private_open(output, "wb") if output else sys.stdout.buffer
    verdicts = []
    failures = []
    try:
        with progress_bar("mail") as progress:
            for item in triage(paths, analyzer, on_progress=progress):
                if isinstance(item, MailFailure):
                    failures.append(item)
                    err.print(  # names and errors quote the mail: never read as markup
                        f"[yellow]skipped[/] {escape(item.file)}: {escape(item.error)}",
                        markup=True,
                        highlight=False,
                    )
                    continue
                assert isinstance(item, Triaged)
                verdicts.append(item.verdict)
                if extract_dir is not None:
                    from spearhunt.store.extract import extract

                    extract(item.raw, extract_dir)
                if fmt == "jsonl":
                    sink.write(render.to_jsonl_line(item.verdict))
                elif fmt == "table":
                    text = neutralize(render.to_text(item.verdict)) + "\n"
                    if output:
                        sink.write(text.encode())
                    else:
                        out.print(text, markup=False, highlight=False, end="")
        summary = render.summarize(verdicts, failures)
        if fmt == "json":
            sink.write(render.to_json(verdicts, summary))
        elif fmt == "table" and not STATE.quiet:
            err.print(render.summary_text(summary), markup=False, highlight=False)
    finally:
        if output:
            sink.close()
        else:
            sink.flush()
    if store is not None:
        from spearhunt.cli.case import warn_unfinished
        from spearhunt.store.mail import write

        warn_unfinished(store)
        write(
            store,
            verdicts,
            replace,
            lambda w: err.print(f"warning: {w.location()}: {w.message}", markup=False),
        )
    if fail_on is not None:
        rank = {"clean": 0, "suspicious": 1, "malicious": 2}
        # A mail that cannot be read (too deep, too big, broken) may be built to be unreadable:
        # it counts as suspicious, never as clean.
        if any(rank[v.verdict] >= rank[fail_on] for v in verdicts) or (
            failures and rank["suspicious"] >= rank[fail_on]
        ):
            raise typer.Exit(EXIT_VERDICT)
