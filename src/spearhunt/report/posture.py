"""Renderers of a posture result: the terminal tables, the JSON document and the Navigator
layer of detection coverage. They only read the frozen ``PostureResult``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from rich.console import Group
from rich.table import Table
from rich.text import Text

from spearhunt import __version__
from spearhunt.errors import StoreError
from spearhunt.model.attack import ATTACK_VERSION
from spearhunt.model.posture import TITLES, PostureResult
from spearhunt.report.navigator import LAYER_VERSION, NAVIGATOR_VERSION
from spearhunt.store.files import private_dir, private_open

STATUS_STYLE = {
    "pass": "bold green",
    "partial": "bold yellow",
    "fail": "bold red",
    "unknown": "dim",
}
SEVERITY_STYLE = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
GRADIENT = ["#f8d7da", "#fff3cd", "#66bb6a"]


def controls_table(result: PostureResult) -> Group:
    """One row per defence (status, score, findings), then each defence's summary as wrapped
    text, so the table reads at 80 columns."""
    table = Table(box=None, title="Posture: the five defences", title_justify="left")
    table.add_column("defence", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("score", justify="right")
    table.add_column("findings", justify="right")
    for c in result.controls:
        table.add_row(
            TITLES.get(c.control, c.control),
            Text(c.status.upper(), style=STATUS_STYLE.get(c.status, "")),
            "-" if c.status == "unknown" else str(c.score),
            str(len(c.findings)),
        )
    notes = Text()
    for c in result.controls:
        notes.append(f"\n{TITLES.get(c.control, c.control)}: ", style="bold")
        notes.append(c.summary)
    return Group(table, notes)


def findings_table(result: PostureResult, per_control: int = 8) -> Table:
    """The worst findings of each control."""
    table = Table(box=None, title="Findings (worst first)", title_justify="left")
    for col in ("defence", "severity", "finding", "stories"):
        table.add_column(col, overflow="fold")
    order = {sev: i for i, sev in enumerate(SEVERITY_STYLE)}
    for c in result.controls:
        for f in sorted(c.findings, key=lambda f: order.get(f.severity, 9))[:per_control]:
            table.add_row(
                c.control,
                Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")),
                Text(f.title),
                Text(", ".join(f.stories[:3])),
            )
        if len(c.findings) > per_control:
            table.add_row(
                c.control, "", Text(f"... {len(c.findings) - per_control} more (--format json)"), ""
            )
    return table


def steps_table(result: PostureResult, rows: int = 40) -> Table:
    """Which defence would have stopped which step of each story."""
    table = Table(
        box=None, title="Which defence would have stopped which step", title_justify="left"
    )
    for col in ("story", "step", "defence", "verdict", "why"):
        table.add_column(col, overflow="fold")
    for s in result.steps[:rows]:
        style = (
            "yellow"
            if s.verdict == "could have stopped"
            else "green"
            if s.verdict.startswith("would")
            else "red"
            if s.verdict in ("did not stop", "blind")
            else "dim"
        )
        table.add_row(s.story, Text(s.step), s.control, Text(s.verdict, style=style), Text(s.why))
    return table


def posture_view(result: PostureResult) -> Group:
    """Everything for the terminal."""
    parts: list[Any] = [controls_table(result)]
    if any(c.findings for c in result.controls):
        parts += [Text(""), findings_table(result)]
    if result.steps:
        parts += [Text(""), steps_table(result)]
    return Group(*parts)


def coverage_layer(result: PostureResult) -> dict[str, Any]:
    """ATT&CK Navigator 4.5 layer: per technique of the loaded rules, how many could fire
    given the logs the case's hosts send (0: none could)."""
    top = max((n for _, n, _ in result.coverage), default=0)
    control = result.control("detection_coverage")
    return {
        "name": "spearhunt detection coverage",
        "versions": {
            "attack": ATTACK_VERSION,
            "navigator": NAVIGATOR_VERSION,
            "layer": LAYER_VERSION,
        },
        "domain": "enterprise-attack",
        "description": (control.summary if control else "")[:2000],
        "filters": {"platforms": ["Windows"]},
        "sorting": 3,
        "layout": {"layout": "side", "aggregateFunction": "max", "showID": True, "showName": True},
        "hideDisabled": False,
        "techniques": [
            {
                "techniqueID": t,
                "score": n,
                "color": "",
                "comment": note[:1500],
                "enabled": True,
                "metadata": [{"name": "rules that could fire", "value": str(n)}],
                "links": [],
                "showSubtechniques": False,
            }
            for t, n, note in result.coverage
        ],
        "gradient": {"colors": GRADIENT, "minValue": 0, "maxValue": max(top, 1)},
        "legendItems": [
            {"label": "no loaded rule could fire with the logs present", "color": GRADIENT[0]},
            {"label": "rules could fire", "color": GRADIENT[2]},
        ],
        "metadata": [{"name": "generator", "value": f"spearhunt {__version__}"}],
        "links": [],
        "showTacticRowBackground": False,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
        "selectVisibleTechniques": False,
    }


def to_json(result: PostureResult) -> bytes:
    """The JSON contract, indented."""
    return orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"


def write_outputs(result: PostureResult, out_dir: Path) -> list[Path]:
    """``posture.json`` and ``navigator-coverage.json`` in ``out_dir``."""
    try:
        private_dir(out_dir)  # reports of a case are private, as the case is
        doc, layer = out_dir / "posture.json", out_dir / "navigator-coverage.json"
        with private_open(doc, "wb") as fh:
            fh.write(to_json(result))
        with private_open(layer, "wb") as fh:
            fh.write(orjson.dumps(coverage_layer(result), option=orjson.OPT_INDENT_2) + b"\n")
    except OSError as exc:
        raise StoreError(
            f"cannot write posture outputs: {exc.strerror or exc}", where=str(out_dir)
        ) from exc
    return [doc, layer]
