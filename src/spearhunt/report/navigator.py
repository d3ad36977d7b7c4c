"""ATT&CK Navigator layers (layer format 4.5) of a case and of each story.

Scores are ``attack.technique_score``: the worst rule level times log2(1 + count), so a
technique seen often at high level outranks a single informational hit. Comments name the
rules and a few pieces of evidence; metadata repeats them as name/value pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spearhunt import __version__
from spearhunt.model.attack import ATTACK_VERSION
from spearhunt.report.attack import LEVEL_POINTS, matrix
from spearhunt.report.document import CaseReport, StoryReport, TechniqueUse

LAYER_VERSION = "4.5"
NAVIGATOR_VERSION = "5.1.0"
GRADIENT = ["#fff4e0", "#ffb070", "#d9480f"]
COMMENT_MAX = 1500


def layer(name: str, description: str, uses: Iterable[TechniqueUse]) -> dict[str, Any]:
    """One Navigator layer from technique uses."""
    m = matrix()
    techniques = []
    uses = list(uses)
    for u in uses:
        tactic = m.tactic(u.tactic)
        entry: dict[str, Any] = {
            "techniqueID": u.technique,
            "score": u.score,
            "color": "",
            "comment": _comment(u)[:COMMENT_MAX],
            "enabled": True,
            "metadata": _metadata(u),
            "links": [],
            "showSubtechniques": False,
        }
        if tactic:
            entry["tactic"] = tactic.shortname
        techniques.append(entry)
    top = max((u.score for u in uses), default=0.0)
    return {
        "name": name[:200],
        "versions": {
            "attack": ATTACK_VERSION,
            "navigator": NAVIGATOR_VERSION,
            "layer": LAYER_VERSION,
        },
        "domain": "enterprise-attack",
        "description": description[:2000],
        "filters": {"platforms": ["Windows"]},
        "sorting": 3,
        "layout": {
            "layout": "side",
            "aggregateFunction": "max",
            "showID": True,
            "showName": True,
            "showAggregateScores": False,
            "countUnscored": False,
            "expandedSubtechniques": "annotated",
        },
        "hideDisabled": False,
        "techniques": techniques,
        "gradient": {"colors": GRADIENT, "minValue": 0, "maxValue": max(round(top, 1), 1.0)},
        "legendItems": [
            {"label": f"{level} x1 = {points:g}", "color": "#ffffff"}
            for level, points in LEVEL_POINTS.items()
        ],
        "metadata": [
            {"name": "generator", "value": f"spearhunt {__version__}"},
            {"name": "score", "value": "worst rule level points x log2(1 + hits)"},
        ],
        "links": [],
        "showTacticRowBackground": False,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
        "selectVisibleTechniques": False,
    }


def _comment(u: TechniqueUse) -> str:
    parts = [f"{u.count} hit{'s' if u.count != 1 else ''}, worst level {u.level}."]
    if u.rules:
        parts.append("Rules: " + "; ".join(u.rules) + ".")
    if u.hosts:
        parts.append(
            "Hosts: " + ", ".join(u.hosts[:10]) + (" ..." if len(u.hosts) > 10 else "") + "."
        )
    if u.examples:
        parts.append("Evidence: " + " | ".join(u.examples))
    return " ".join(parts)


def _metadata(u: TechniqueUse) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"name": "hits", "value": str(u.count)},
        {"name": "worst level", "value": u.level},
    ]
    out += [{"name": "rule", "value": r[:300]} for r in u.rules]
    if u.examples:
        out.append({"divider": True})
        out += [{"name": "evidence", "value": e[:300]} for e in u.examples]
    return out


def case_layer(report: CaseReport) -> dict[str, Any]:
    """The layer of every detection in the case plus the stories' other evidence."""
    return layer(
        f"spearhunt case {report.name}",
        f"{report.detections} detections from {report.rules} rules on {report.hosts_total} hosts; "
        f"{report.stories_total} stories.",
        report.techniques,
    )


def story_layer(s: StoryReport) -> dict[str, Any]:
    """The layer of one story's evidence."""
    story = s.story
    return layer(
        f"spearhunt story {story.id}",
        f"{story.title} (score {story.score:.1f}, {s.evidence_total} evidence items, "
        f"{story.first_seen} to {story.last_seen} UTC)",
        s.techniques,
    )
