"""The ``spearhunt`` command: global options, sub-command registration, error mapping."""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from spearhunt import __version__
from spearhunt.cli.console import err, setup_logging
from spearhunt.cli.help import classic_type_names, one_line_summaries
from spearhunt.errors import SpearhuntError, UsageError

app = typer.Typer(
    name="spearhunt",
    help=(
        "Hunt espionage campaigns end to end: triage the phishing mail, run Sigma rules over "
        "Windows event logs and telemetry, and chain what you find into a campaign story."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Each module registers its commands on ``app`` when imported. New stages add a line here.
COMMAND_MODULES = (
    "spearhunt.cli.hunt",
    "spearhunt.cli.ingest",
    "spearhunt.cli.convert",
    "spearhunt.cli.rules",
    "spearhunt.cli.mail",
    "spearhunt.cli.simulate",
    "spearhunt.cli.demo",
    "spearhunt.cli.correlate",
    "spearhunt.cli.report",
    "spearhunt.cli.case",
    "spearhunt.cli.posture",
)

EXIT_USAGE = 2
EXIT_FAILURE = 1


def _version(value: bool) -> None:
    if value:
        typer.echo(f"spearhunt {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Only results and errors; no progress."
    ),
    verbose: int = typer.Option(
        0,
        "--verbose",
        "-v",
        count=True,
        show_default=False,
        help="More detail on stderr (-vv for debug).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """spearhunt: from the spear-phishing mail to the exfiltration."""
    setup_logging(quiet, verbose)


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name)
    classic_type_names()
    one_line_summaries(app)


def run(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map spearhunt errors to messages and exit codes."""
    _register()
    try:
        # with standalone_mode=False click hands back typer.Exit's code instead of raising it
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            return code
    except SpearhuntError as exc:
        from rich.markup import escape  # messages quote paths and extras like 'spearhunt[spark]'

        err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
        return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_FAILURE
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        err.print("aborted")
        return 130
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:
        # Typer/click usage errors (bad option, missing argument) know how to show themselves;
        # matched by shape because typer >= 0.20 vendors click under a private name.
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        raise
    return 0


def entry() -> None:
    """Console-script entry point."""
    sys.exit(run())
