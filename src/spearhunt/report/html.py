"""The HTML report: one self-contained file (inline CSS, SVG and a small script, no fetches).

Jinja2 autoescapes every value; the only ``Markup`` the template receives is the SVG built by
``report.svg`` (which escapes its own text) and our own CSS/JS. A Content-Security-Policy
with hashes of exactly that CSS and JS is a second line of defence: even a value that escaped
escaping could neither run script nor load anything.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from spearhunt.model.detection import LEVEL_RANK
from spearhunt.model.hosts import short_host
from spearhunt.model.posture import TITLES as POSTURE_TITLES
from spearhunt.report import svg
from spearhunt.report.attack import matrix
from spearhunt.report.document import CaseReport, StoryReport, host_label

MAX_HOST_ROWS = 200


def _asset(name: str) -> str:
    return (
        resources.files("spearhunt.report").joinpath("templates", name).read_text(encoding="utf-8")
    )


def _sha(text: str) -> str:
    return (
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"
    )


def _t(ts: dt.datetime | None, seconds: bool = True) -> str:
    if ts is None:
        return "-"
    return ts.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _size(n: int | None) -> str:
    return svg._size(int(n or 0))


def _finalize(value: Any) -> Any:
    """Every ``{{ }}`` output: our own Markup as is, text with control characters made visible
    (autoescaping follows)."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return svg.visible(value)


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("spearhunt.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.filters.update(
        t=_t,
        size=_size,
        num=lambda n: f"{int(n or 0):,}",
        host=host_label,
        rank=lambda lv: LEVEL_RANK.get(lv or "", -1),
        cut=svg.cut,
    )
    return env


def render(report: CaseReport, *, links: dict[str, str] | None = None) -> str:
    """The report as one HTML document."""
    css, js = _asset("report.css"), _asset("report.js")
    csp = (
        f"default-src 'none'; style-src {_sha(css)}; script-src {_sha(js)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    m = matrix()
    stories = [_story_view(s) for s in report.stories]
    exfil_bytes = (
        sum(x.bytes for s in report.result.stories for x in s.exfiltration)
        if not report.story_id
        else sum(x.bytes for s in report.stories for x in s.story.exfiltration)
    )
    story_hosts = {
        short_host(h.host)
        for s in (
            report.result.stories if not report.story_id else [s.story for s in report.stories]
        )
        for h in s.hosts
    }
    host_tactics = [t for t in m.tactics if any(h.count(t.key) for h in report.hosts)]
    if any(h.count("other") for h in report.hosts):
        host_tactics.append(type(m.tactics[0])("other", "", "Other"))
    host_max = max((n for h in report.hosts for _, n in h.by_tactic), default=1)
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            r=report,
            css=Markup(css),
            js=Markup(js),
            csp=csp,
            stories=stories,
            matrix=m,
            exfil_bytes=exfil_bytes,
            story_hosts=sorted(story_hosts),
            heatmap=svg.heatmap(report.techniques, label="ATT&CK heat map of the case"),
            host_tactics=host_tactics,
            host_rows=report.hosts[:MAX_HOST_ROWS],
            host_max=host_max,
            heat_class=lambda n: f"hc{min(5, 1 + int(4 * n / host_max)) if n else 0}",
            tactic_name=lambda k: m.tactic(k).name if m.tactic(k) else k.replace("_", " ").title(),  # type: ignore[union-attr]
            links=links or {},
            titles=POSTURE_TITLES,
            legend=[
                t for t in m.tactics if t.key not in ("reconnaissance", "resource_development")
            ],
        )
    )


def _story_view(s: StoryReport) -> dict[str, Any]:
    story = s.story
    kinds = sorted({e.kind for e in s.evidence})
    return {
        "s": s,
        "story": story,
        "kinds": kinds,
        "timeline": svg.timeline(story, s.evidence),
        "graph": svg.attack_graph(story, s.evidence),
        "heatmap": svg.heatmap(s.techniques, label=f"ATT&CK heat map of story {story.id}"),
        "exfil_bytes": sum(x.bytes for x in story.exfiltration),
        "anchor": "story-" + "".join(c if c.isalnum() or c == "-" else "_" for c in story.id),
    }
