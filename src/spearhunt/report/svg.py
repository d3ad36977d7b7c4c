"""Inline SVG pictures of a story: timeline (hosts as lanes), attack graph, ATT&CK heat map.

Every text and attribute value goes through :func:`el`, which escapes it; attribute *names*
and tags only ever come from this module. Colours come from a fixed palette keyed by tactic,
never from data, and no ``style`` attribute is written (the report's CSP forbids them).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from markupsafe import Markup, escape

from spearhunt.model.attack import tactic_key
from spearhunt.model.hosts import short_host
from spearhunt.model.story import Story
from spearhunt.report.attack import matrix
from spearhunt.report.document import EvidenceRow, TechniqueUse

TACTIC_COLOURS = {
    "reconnaissance": "#9aa5b1",
    "resource_development": "#7b8794",
    "initial_access": "#c0392b",
    "execution": "#e67e22",
    "persistence": "#b7950b",
    "privilege_escalation": "#8e5a2b",
    "stealth": "#6c7a89",
    "defense_impairment": "#4d5b6a",
    "credential_access": "#d35496",
    "discovery": "#16a2b8",
    "lateral_movement": "#7d4cdb",
    "collection": "#27ae60",
    "command_and_control": "#2f6fd0",
    "exfiltration": "#a81d5b",
    "impact": "#222222",
    "other": "#95a5a6",
}
HEAT = ("#fff4e0", "#ffd8a8", "#ffb070", "#f5803e", "#d9480f", "#a61e00")
# Control and bidi-override characters (RLO and friends) would let a file name reverse the text
# around it on screen; they are shown as [U+202E] instead, in the SVG and the HTML alike.
_CONTROLS = re.compile(
    "[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def visible(text: str) -> str:
    """``text`` with control and bidi-override characters made visible (``[U+202E]``)."""
    return _CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def el(tag: str, attrs: dict[str, Any] | None = None, *children: Any) -> Markup:
    """``<tag a="v">children</tag>`` with values and text escaped; ``Markup`` children kept."""
    parts = [f"<{tag}"]
    for name, value in (attrs or {}).items():
        if value is None:
            continue
        parts.append(f' {name}="{escape(visible(_fmt(value)))}"')
    if not children:
        return Markup("".join(parts) + "/>")
    inner = "".join(
        str(c) if isinstance(c, Markup) else str(escape(visible(str(c)))) for c in children
    )
    return Markup("".join(parts) + ">" + inner + f"</{tag}>")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return str(value)


def cut(text: str, n: int) -> str:
    """At most ``n`` characters, an ellipsis when cut."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def wrap(text: str, width: int, lines: int) -> list[str]:
    """Greedy word wrap into at most ``lines`` lines, the last one cut."""
    out: list[str] = []
    words = " ".join(str(text).split()).split(" ")
    cur = ""
    for i, word in enumerate(words):
        if not cur:
            cur = word
        elif len(cur) + 1 + len(word) <= width:
            cur += " " + word
        else:
            out.append(cur)
            cur = word
            if len(out) == lines - 1:
                cur = " ".join(words[i:])
                break
    out.append(cut(cur, width))
    return [cut(line, width) for line in out[:lines]]


def colour(tactic: str | None) -> str:
    """Palette colour of a tactic."""
    return TACTIC_COLOURS.get(tactic_key(tactic or "other"), TACTIC_COLOURS["other"])


def svg(width: float, height: float, label: str, *children: Any) -> Markup:
    """The outer ``<svg>`` with an accessible label."""
    return el(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {width:.0f} {height:.0f}",
            "width": f"{width:.0f}",
            "height": f"{height:.0f}",
            "role": "img",
            "aria-label": label,
            "font-family": FONT,
            "font-size": 12,
            "class": "pic",
        },
        *children,
    )


# -- time axis ---------------------------------------------------------------------------------
class _Scale:
    def __init__(self, start: dt.datetime, end: dt.datetime, x0: float, x1: float) -> None:
        if end <= start:
            end = start + dt.timedelta(hours=1)
        pad = (end - start) * 0.03
        self.start, self.end = start - pad, end + pad
        self.x0, self.x1 = x0, x1

    def x(self, ts: dt.datetime) -> float:
        span = (self.end - self.start).total_seconds()
        return self.x0 + (ts - self.start).total_seconds() / span * (self.x1 - self.x0)

    def ticks(self) -> list[tuple[dt.datetime, str]]:
        span = (self.end - self.start).total_seconds()
        steps = [
            60,
            300,
            900,
            3600,
            3 * 3600,
            6 * 3600,
            12 * 3600,
            86400,
            2 * 86400,
            7 * 86400,
            30 * 86400,
        ]
        step = next((s for s in steps if span / s <= 10), steps[-1])
        epoch = dt.datetime(2000, 1, 1)
        first = epoch + dt.timedelta(
            seconds=math.ceil((self.start - epoch).total_seconds() / step) * step
        )
        fmt = "%m-%d" if step >= 86400 else "%m-%d %H:%M"
        out = []
        t = first
        while t <= self.end:
            out.append((t, t.strftime(fmt)))
            t += dt.timedelta(seconds=step)
        return out


def timeline(story: Story, evidence: Iterable[EvidenceRow], width: int = 1100) -> Markup:
    """Stages over time above, one lane per host below (mail on its own lane), marks coloured
    by tactic, lateral moves as arrows between lanes, exfiltration as bars."""
    rows = [e for e in evidence if e.ts is not None]
    stamps = [e.ts for e in rows if e.ts] + [
        t for s in story.stages for t in (s.first_seen, s.last_seen) if t
    ]
    if not stamps:
        return svg(
            width, 40, "timeline (no timestamps)", el("text", {"x": 10, "y": 24}, "No timestamps.")
        )
    left, right = 150, width - 20
    scale = _Scale(min(stamps), max(stamps), left, right)
    m = matrix()
    parts: list[Markup] = []
    y = 28
    parts.append(el("text", {"x": 8, "y": 16, "class": "pic-h"}, "Stages"))
    for st in sorted(story.stages, key=lambda s: m.order(s.tactic)):
        if st.first_seen is None:
            continue
        x0 = scale.x(st.first_seen)
        x1 = max(scale.x(st.last_seen or st.first_seen), x0 + 4)
        tac = m.tactic(st.tactic)
        parts.append(
            el(
                "text",
                {"x": left - 8, "y": y + 10, "text-anchor": "end", "class": "pic-lbl"},
                tac.name if tac else st.tactic,
            )
        )
        parts.append(
            el(
                "rect",
                {
                    "x": x0,
                    "y": y + 1,
                    "width": x1 - x0,
                    "height": 11,
                    "rx": 3,
                    "fill": colour(st.tactic),
                },
                el(
                    "title",
                    {},
                    f"{st.tactic}: {st.count} facts, {_t(st.first_seen)} to {_t(st.last_seen)}",
                ),
            )
        )
        y += 16
    y += 14
    parts.append(el("text", {"x": 8, "y": y, "class": "pic-h"}, "Hosts"))
    y += 8
    lanes: list[str] = []
    if any(e.kind == "mail" for e in rows):
        lanes.append("mail")
    for h in story.hosts:
        if short_host(h.host) not in lanes:
            lanes.append(short_host(h.host))
    for e in rows:
        lane = "mail" if e.kind == "mail" else e.host
        if lane not in lanes:
            lanes.append(lane)
    lane_h = 30
    top = y
    lane_y = {name: top + i * lane_h + lane_h / 2 for i, name in enumerate(lanes)}
    for i, name in enumerate(lanes):
        parts.append(
            el(
                "rect",
                {
                    "x": left,
                    "y": top + i * lane_h,
                    "width": right - left,
                    "height": lane_h,
                    "class": "lane" + (" alt" if i % 2 else ""),
                },
            )
        )
        parts.append(
            el(
                "text",
                {"x": left - 8, "y": lane_y[name] + 4, "text-anchor": "end", "class": "pic-lbl"},
                cut("✉ mail" if name == "mail" else name, 22),
                el("title", {}, name),
            )
        )
    bottom = top + len(lanes) * lane_h
    for ts, label in scale.ticks():
        x = scale.x(ts)
        parts.append(el("line", {"x1": x, "x2": x, "y1": 20, "y2": bottom, "class": "grid"}))
        parts.append(
            el(
                "text",
                {"x": x, "y": bottom + 14, "text-anchor": "middle", "class": "pic-tick"},
                label,
            )
        )
    # exfiltration bars under the marks
    for flow in story.exfiltration:
        lane = short_host(flow.host)
        if lane in lane_y and flow.first_seen:
            x0 = scale.x(flow.first_seen)
            x1 = max(scale.x(flow.last_seen or flow.first_seen), x0 + 6)
            parts.append(
                el(
                    "rect",
                    {
                        "x": x0,
                        "y": lane_y[lane] - 9,
                        "width": x1 - x0,
                        "height": 18,
                        "rx": 3,
                        "class": "exfil-bar",
                    },
                    el(
                        "title",
                        {},
                        f"exfiltration {flow.bytes:,} bytes to {flow.destination} "
                        f"({_t(flow.first_seen)} to {_t(flow.last_seen)})",
                    ),
                )
            )
    # lateral movement arrows
    for h in story.hosts:
        if h.reached_from and h.first_seen:
            a, b = short_host(h.reached_from), short_host(h.host)
            if a in lane_y and b in lane_y:
                xm = scale.x(h.first_seen)
                parts.append(
                    el(
                        "line",
                        {
                            "x1": xm,
                            "x2": xm,
                            "y1": lane_y[a],
                            "y2": lane_y[b],
                            "class": "move",
                            "marker-end": "url(#arrow-move)",
                        },
                        el(
                            "title",
                            {},
                            f"{a} -> {b} via {h.via or '?'} as {h.account or '?'} "
                            f"at {_t(h.first_seen)}",
                        ),
                    )
                )
    # marks, bucketed so thousands of rows stay a few hundred shapes
    buckets: dict[tuple[str, int, str], list[EvidenceRow]] = defaultdict(list)
    for e in rows:
        lane = "mail" if e.kind == "mail" else e.host
        tactic = _main_tactic(e.tactics)
        assert e.ts is not None
        buckets[(lane, int(scale.x(e.ts) // 5), tactic)].append(e)
    for (lane, _, tactic), items in sorted(buckets.items(), key=lambda kv: -m.order(kv[0][2])):
        first = items[0]
        assert first.ts is not None
        r = 4 + min(5.0, math.log2(len(items)) * 1.5)
        tip = (
            f"{len(items)} x " if len(items) > 1 else ""
        ) + f"{_t(first.ts)} {first.host} {first.what}"
        shape = (
            (
                "rect",
                {
                    "x": scale.x(first.ts) - r,
                    "y": lane_y[lane] - r,
                    "width": 2 * r,
                    "height": 2 * r,
                    "transform": f"rotate(45 {scale.x(first.ts):.1f} {lane_y[lane]:.1f})",
                },
            )
            if first.kind in ("mail", "network")
            else ("circle", {"cx": scale.x(first.ts), "cy": lane_y[lane], "r": r})
        )
        attrs = {**shape[1], "fill": colour(tactic), "class": "mark"}
        parts.append(el(shape[0], attrs, el("title", {}, cut(tip, 300))))
    height = bottom + 24
    defs = el(
        "defs",
        {},
        el(
            "marker",
            {
                "id": "arrow-move",
                "viewBox": "0 0 10 10",
                "refX": 9,
                "refY": 5,
                "markerWidth": 7,
                "markerHeight": 7,
                "orient": "auto-start-reverse",
            },
            el("path", {"d": "M0,0 L10,5 L0,10 z", "class": "move-head"}),
        ),
    )
    return svg(width, height, f"Timeline of story {story.id}", defs, *parts)


def _main_tactic(tactics: tuple[str, ...]) -> str:
    m = matrix()
    known = [t.replace("-", "_") for t in tactics if m.tactic(t)]
    return max(known, key=m.order) if known else "other"


def _t(ts: dt.datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S") if ts else "?"


# -- attack graph --------------------------------------------------------------------------------
NODE_W, NODE_H, GAP_X, GAP_Y = 180, 50, 150, 34


def attack_graph(story: Story, evidence: Iterable[EvidenceRow], width: int = 1100) -> Markup:
    """Mail -> patient zero -> hosts reached (by hop) -> external destinations; edges labelled
    with the technique and the time."""
    pz = story.patient_zero
    columns: list[list[tuple[str, str, str, str, str]]] = []  # (id, kind, tag, line1, line2)
    edges: list[tuple[str, str, str, str, str]] = []  # (from, to, label1, label2, kind)
    if pz.message_id:
        columns.append([("mail", "mail", "MAIL", pz.mail_sender or "?", pz.mail_subject or "")])
        edges.append(
            ("mail", f"h:{short_host(pz.host)}", "T1566.001 opened", _hm(pz.first_seen), "mail")
        )
    depth: dict[str, int] = {short_host(pz.host): 0}
    reach = {short_host(h.host): h for h in story.hosts}
    changed = True
    while changed:
        changed = False
        for name, h in reach.items():
            src = short_host(h.reached_from) if h.reached_from else None
            if name not in depth and src in depth:
                depth[name] = depth[src] + 1
                changed = True
    for name in reach:
        depth.setdefault(name, 1)
    for d in range(max(depth.values(), default=0) + 1):
        col = []
        for name, h in reach.items():
            if depth[name] == d:
                role = (
                    "patient zero" + (f" · {h.account}" if h.account else "")
                    if d == 0
                    else f"as {h.account or '?'}"
                )
                col.append(
                    (
                        f"h:{name}",
                        "host",
                        "PATIENT ZERO" if d == 0 else "HOST",
                        name,
                        f"{role} · {h.alerts} alerts"
                        if d
                        else f"{h.account or '?'} · {h.alerts} alerts",
                    )
                )
                if h.reached_from:
                    edges.append(
                        (
                            f"h:{short_host(h.reached_from)}",
                            f"h:{name}",
                            h.via or "?",
                            _hm(h.first_seen),
                            "move",
                        )
                    )
        if col:
            columns.append(col)
    ext: list[tuple[str, str, str, str, str]] = []
    exfil_tech = _exfil_techniques(evidence)
    for flow in story.exfiltration:
        nid = f"x:{flow.destination}"
        if nid not in {n[0] for n in ext}:
            ext.append(
                (
                    nid,
                    "exfil",
                    "EXFILTRATION",
                    flow.destination,
                    f"{flow.ip or '-'} · {_size(flow.bytes)} out",
                )
            )
        tech = exfil_tech.get(short_host(flow.host), "exfiltration")
        edges.append(
            (
                f"h:{short_host(flow.host)}",
                nid,
                f"{tech} · {_size(flow.bytes)}",
                _hm(flow.first_seen),
                "exfil",
            )
        )
    for b in story.beacons:
        nid = f"x:{b.destination}"
        if nid not in {n[0] for n in ext}:
            ext.append(
                (
                    nid,
                    "c2",
                    "COMMAND AND CONTROL",
                    b.destination,
                    f"{b.ip or '-'} · every {b.interval_s:.0f}s",
                )
            )
        edges.append((f"h:{short_host(b.host)}", nid, "T1071 beacon", _hm(b.first_seen), "c2"))
    if ext:
        columns.append(ext)
    ncols = max(len(columns), 1)
    width = max(width, 20 + ncols * NODE_W + (ncols - 1) * GAP_X + 20)
    step = (width - 40 - NODE_W) / max(ncols - 1, 1)
    tallest = max((len(c) for c in columns), default=1)
    height = max(130, tallest * (NODE_H + GAP_Y) + 40)
    pos: dict[str, tuple[float, float]] = {}
    nodes: list[Markup] = []
    for ci, col in enumerate(columns):
        x = 20 + ci * step if ncols > 1 else (width - NODE_W) / 2
        total = len(col) * NODE_H + (len(col) - 1) * GAP_Y
        y0 = (height - total) / 2
        for ri, (nid, kind, tag, l1, l2) in enumerate(col):
            y = y0 + ri * (NODE_H + GAP_Y)
            pos[nid] = (x, y)
            nodes.append(
                el(
                    "g",
                    {"class": f"node node-{kind}"},
                    el("title", {}, f"{tag}\n{l1}\n{l2}"),
                    el("rect", {"x": x, "y": y, "width": NODE_W, "height": NODE_H, "rx": 8}),
                    el("text", {"x": x + 10, "y": y + 13, "class": "n0"}, tag),
                    el("text", {"x": x + 10, "y": y + 29, "class": "n1"}, cut(l1, 23)),
                    el("text", {"x": x + 10, "y": y + 43, "class": "n2"}, cut(l2, 29)),
                )
            )
    lines: list[Markup] = []
    labels: list[Markup] = []
    into: dict[str, int] = defaultdict(int)
    for src, dst, lab1, lab2, kind in edges:
        if src not in pos or dst not in pos:
            continue
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        k = into[dst]
        into[dst] += 1
        ay, by = y0 + NODE_H / 2, y1 + NODE_H / 2 + (k % 3 - 1) * 10 * (k > 0)
        if x1 > x0:
            ax, bx = x0 + NODE_W, x1
            cx = bx - GAP_X / 2
            path = f"M{ax:.1f},{ay:.1f} C{cx:.1f},{ay:.1f} {cx - 20:.1f},{by:.1f} {bx:.1f},{by:.1f}"
            lx, ly = bx - GAP_X / 2 + 4, by - 14 - 28 * (k if k else 0)
        else:  # same or earlier column: loop round the right side
            ax, bx = x0 + NODE_W, x1 + NODE_W
            cx = max(ax, bx) + 50
            path = f"M{ax:.1f},{ay:.1f} C{cx:.1f},{ay:.1f} {cx:.1f},{by:.1f} {bx:.1f},{by:.1f}"
            lx, ly = cx + 36, (ay + by) / 2 - 8
        lines.append(
            el(
                "path",
                {"d": path, "class": f"edge edge-{kind}", "marker-end": f"url(#arrow-{kind})"},
                el("title", {}, f"{lab1} {lab2}"),
            )
        )
        t1, t2 = cut(lab1, 22), cut(lab2, 22)
        w = max(len(t1), len(t2)) * 6.0 + 12
        labels.append(
            el(
                "g",
                {"class": f"elabel elabel-{kind}"},
                el("rect", {"x": lx - w / 2, "y": ly - 12, "width": w, "height": 28, "rx": 4}),
                el("text", {"x": lx, "y": ly, "text-anchor": "middle", "class": "l1"}, t1),
                el("text", {"x": lx, "y": ly + 12, "text-anchor": "middle", "class": "l2"}, t2),
            )
        )
    defs = el(
        "defs",
        {},
        *(
            el(
                "marker",
                {
                    "id": f"arrow-{k}",
                    "viewBox": "0 0 10 10",
                    "refX": 10,
                    "refY": 5,
                    "markerWidth": 8,
                    "markerHeight": 8,
                    "orient": "auto-start-reverse",
                },
                el("path", {"d": "M0,0 L10,5 L0,10 z", "class": f"head-{k}"}),
            )
            for k in ("mail", "move", "exfil", "c2")
        ),
    )
    return svg(width, height, f"Attack graph of story {story.id}", defs, *lines, *nodes, *labels)


def _exfil_techniques(evidence: Iterable[EvidenceRow]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in evidence:
        if "exfiltration" in e.tactics and e.techniques:
            out.setdefault(e.host, e.techniques[0])
    return out


def _hm(ts: dt.datetime | None) -> str:
    return ts.strftime("%m-%d %H:%M") if ts else "?"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


# -- ATT&CK heat map -----------------------------------------------------------------------------
def heatmap(
    uses: Iterable[TechniqueUse], width: int = 1100, label: str = "ATT&CK heat map"
) -> Markup:
    """The ATT&CK matrix (kill-chain tactics as columns) with the techniques seen, shaded by
    score; every cell's tooltip names its rules and hosts."""
    m = matrix()
    uses = list(uses)
    present = {u.tactic for u in uses}
    tactics = [
        t
        for t in m.tactics
        if t.key not in ("reconnaissance", "resource_development") or t.key in present
    ]
    extra = sorted(present - {t.key for t in tactics})
    cols: list[tuple[str, str]] = [(t.key, t.name) for t in tactics] + [
        (k, k.replace("_", " ").title()) for k in extra
    ]
    col_w = (width - 2) / len(cols)
    cell_h, head_h = 52, 36
    by_tactic: dict[str, list[TechniqueUse]] = defaultdict(list)
    for u in uses:
        by_tactic[u.tactic].append(u)
    top = max((u.score for u in uses), default=1.0) or 1.0
    rows = max((len(v) for v in by_tactic.values()), default=0)
    height = head_h + max(rows, 1) * (cell_h + 3) + 8
    parts: list[Markup] = []
    chars = max(8, int(col_w / 6.2))
    hchars = max(8, int(col_w / 7.0))
    for ci, (key, name) in enumerate(cols):
        x = 1 + ci * col_w
        n = len(by_tactic.get(key, ()))
        parts.append(
            el(
                "rect",
                {
                    "x": x + 1,
                    "y": 1,
                    "width": col_w - 2,
                    "height": head_h - 4,
                    "rx": 3,
                    "fill": colour(key),
                    "class": "hm-head" + ("" if n else " hm-empty"),
                },
                el("title", {}, f"{name}: {n} technique{'s' if n != 1 else ''}"),
            )
        )
        head = wrap(name, hchars, 2)
        for li, line in enumerate(head):
            parts.append(
                el(
                    "text",
                    {
                        "x": x + col_w / 2,
                        "y": (20 if len(head) == 1 else 14 + li * 13),
                        "text-anchor": "middle",
                        "class": "hm-ht",
                    },
                    line,
                )
            )
        for ri, u in enumerate(sorted(by_tactic.get(key, ()), key=lambda u: -u.score)):
            y = head_h + ri * (cell_h + 3)
            shade = min(len(HEAT) - 1, int(u.score / top * (len(HEAT) - 1) + 0.5))
            tip = (
                f"{u.technique} {m.full_name(u.technique)} ({name})\nscore {u.score} · {u.count} hits · worst {u.level}"
                + (f"\nrules: {'; '.join(u.rules)}" if u.rules else "")
                + (f"\nhosts: {', '.join(u.hosts[:8])}" if u.hosts else "")
            )
            cell = [
                el("title", {}, tip),
                el(
                    "rect",
                    {
                        "x": x + 1,
                        "y": y,
                        "width": col_w - 2,
                        "height": cell_h,
                        "rx": 3,
                        "fill": HEAT[shade],
                    },
                ),
                el("text", {"x": x + 6, "y": y + 14, "class": "hm-id"}, u.technique),
                el(
                    "text",
                    {"x": x + col_w - 6, "y": y + 14, "text-anchor": "end", "class": "hm-n"},
                    f"{u.count}",
                ),
            ]
            cell += [
                el("text", {"x": x + 6, "y": y + 28 + li * 12, "class": "hm-name"}, line)
                for li, line in enumerate(wrap(m.name(u.technique), chars, 2))
            ]
            parts.append(el("g", {"class": f"hm-cell heat{shade}"}, *cell))
    return svg(width, height, label, *parts)
