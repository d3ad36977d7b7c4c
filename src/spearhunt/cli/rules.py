"""``spearhunt rules check``: load and compile a rule tree, report what cannot run and why."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import orjson
import typer
from rich.table import Table
from rich.text import Text

from spearhunt.cli.console import err, out, progress_bar
from spearhunt.cli.main import app

rules_app = typer.Typer(help="Work with Sigma rules.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


PLACEHOLDER = re.compile(r"unresolved placeholder (%[^%\s]+%)")


@rules_app.command("check")
def check(
    paths: list[Path] = typer.Argument(
        None, help="Rule files or folders (default: spearhunt's own pack)."
    ),
    placeholders: Path | None = typer.Option(
        None, "--placeholders", exists=True, help="YAML file with values for Sigma %placeholders%."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Recompile instead of using the cache."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any rule cannot run."),
) -> None:
    """Compile every rule and list the ones that cannot run, with the reason."""
    from spearhunt.detect.engine.plan import Router
    from spearhunt.detect.hunt import load_rules
    from spearhunt.detect.sigma.compiler import RuleProblem

    with progress_bar("compiling") as bar:
        result, compiler = load_rules(paths or [], not paths, placeholders, not no_cache, bar)
    problems = [p for p in result.problems if p.kind != "skipped"]
    uncompiled = len(problems)  # rules (or files) that did not compile; the rest did
    router = Router(result.rules)
    for i, variant in router.unrouted:
        r = result.rules[i]
        # a rule with another variant that routes still runs
        if all(v != variant for j, v in router.unrouted if j == i) or len(r.variants) == 1:
            problems.append(
                RuleProblem(
                    r.info.source,
                    f"logsource {r.logsource_name} maps to no Windows channel or provider",
                    r.info.rule_id,
                    r.info.title,
                    "unsupported",
                )
            )
    runnable = len(result.rules) - len(
        {i for i, _ in router.unrouted if len(result.rules[i].variants) == 1}
    )
    if as_json:
        out.print_json(
            orjson.dumps(
                {
                    "rules": len(result.rules),
                    "runnable": runnable,
                    "correlation_rules": len(result.correlations),
                    "problems": [
                        {
                            "source": p.source,
                            "rule_id": p.rule_id,
                            "title": p.title,
                            "kind": p.kind,
                            "reason": p.reason,
                        }
                        for p in problems
                    ],
                }
            ).decode()
        )
    else:
        kinds = Counter(p.kind for p in problems)
        out.print(
            f"{len(result.rules) + uncompiled:,} rules read: {len(result.rules):,} compiled, "
            f"{runnable:,} runnable, {len(problems):,} cannot run "
            f"({', '.join(f'{k}: {n}' for k, n in kinds.items()) or 'none'}); "
            f"{len(result.correlations)} correlation rule(s); "
            f"{compiler.cache_hits:,} file(s) from cache"
        )
        wanted = sorted({m for p in problems for m in PLACEHOLDER.findall(p.reason)}, key=str.lower)
        if wanted:
            waiting = sum(bool(PLACEHOLDER.search(p.reason)) for p in problems)
            out.print(
                Text(
                    f"{waiting:,} rule(s) wait for placeholder values ({', '.join(wanted)}): "
                    "give them with --placeholders FILE.yml, a YAML map of name to value(s), "
                    "e.g. 'Admins_Workstations: [adm-ws-01, adm-ws-02]'"
                )
            )
        if problems:
            t = Table(box=None)
            t.add_column("kind")
            t.add_column("rule")
            t.add_column("reason")
            for p in problems:
                t.add_row(
                    p.kind,
                    Text(f"{p.title or '-'}\n{p.source}", style="dim" if not p.title else ""),
                    Text(p.reason[:400]),
                )
            out.print(t)
    if strict and problems:
        err.print(f"{len(problems)} rule(s) cannot run")
        raise typer.Exit(1)
