"""Text renderers of a correlation result: they only read the frozen result document."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from spearhunt.model.story import CorrelationResult, Story


def _t(ts: object) -> str:
    return str(ts)[:19] if ts else "-"


def stories_table(result: CorrelationResult, top: int = 20) -> Table:
    """One row per story, best first."""
    table = Table(box=None, title=f"{len(result.stories)} stories", title_justify="left")
    for col in ("id", "score", "patient zero", "hosts", "exfiltration", "tactics", "first seen"):
        table.add_column(col)
    for s in result.stories[:top]:
        pz = s.patient_zero
        table.add_row(
            s.id,
            f"{s.score:.1f}",
            Text(f"{pz.host} ({pz.user or '?'})" + (" [mail]" if pz.message_id else "")),
            str(len(s.hosts)),
            Text(", ".join(sorted({x.destination for x in s.exfiltration}))[:60]),
            str(len(s.stages)),
            _t(s.first_seen),
        )
    return table


def unassigned_table(result: CorrelationResult, top: int = 30) -> Table | None:
    """The high and critical detections that are in no story, by host and rule."""
    if not result.unassigned:
        return None
    total = sum(u.count for u in result.unassigned)
    table = Table(
        box=None,
        title=f"{total:,} high/critical detections in no story ({len(result.unassigned)} host/rule pairs)",
        title_justify="left",
    )
    for col in ("host", "level", "count", "first", "last", "rule"):
        table.add_column(col)
    for u in result.unassigned[:top]:
        table.add_row(
            Text(u.host), u.level, str(u.count), _t(u.first), _t(u.last), Text(u.rule_title)
        )
    return table


def story_view(s: Story, evidence_rows: int = 60) -> Group:
    """One story: summary, score parts, hosts, stages, exfiltration and evidence."""
    pz = s.patient_zero
    head = Text()
    head.append(f"Story {s.id}", style="bold")
    head.append(f"  score {s.score:.1f}\n{s.title}\n")
    head.append(f"Patient zero: {pz.host}, user {pz.user or '?'}")
    if pz.message_id:
        head.append(
            f"\n  mail {pz.message_id} ({pz.mail_verdict}) from {pz.mail_sender}: {pz.mail_subject!r}"
        )
        head.append(f"\n  attachment {pz.attachment} sha256 {pz.attachment_sha256}")
    head.append(f"\n  how: {pz.how}")
    parts = Table(box=None, title="Score", title_justify="left")
    for col in ("part", "points", "why"):
        parts.add_column(col)
    for p in s.score_parts:
        parts.add_row(p.name, f"{p.points:.1f}", Text(p.detail))
    hosts = Table(box=None, title="Hosts", title_justify="left")
    for col in ("host", "first seen", "from", "via", "account", "alerts", "how"):
        hosts.add_column(col)
    for h in s.hosts:
        hosts.add_row(
            h.host,
            _t(h.first_seen),
            h.reached_from or "-",
            h.via or "-",
            h.account or "-",
            str(h.alerts),
            Text(h.how[:90]),
        )
    stages = Table(box=None, title="Stages", title_justify="left")
    for col in ("tactic", "first seen", "last seen", "facts"):
        stages.add_column(col)
    for st in s.stages:
        stages.add_row(st.tactic, _t(st.first_seen), _t(st.last_seen), str(st.count))
    items: list[object] = [head, parts, hosts, stages]
    if s.exfiltration:
        ex = Table(box=None, title="Exfiltration", title_justify="left")
        for col in ("host", "destination", "ip", "bytes", "first seen", "last seen", "why"):
            ex.add_column(col)
        for x in s.exfiltration:
            ex.add_row(
                x.host,
                Text(x.destination),
                x.ip or "-",
                f"{x.bytes:,}",
                _t(x.first_seen),
                _t(x.last_seen),
                Text("; ".join(x.reasons)),
            )
        items.append(ex)
    if s.staged:
        items.append(Text("Staged: " + ", ".join(s.staged)))
    if s.key_evidence:
        key = Table(box=None, title="What tells the story", title_justify="left")
        for col in ("first", "last", "host", "level", "count", "what"):
            key.add_column(col)
        for line in s.key_evidence:
            key.add_row(
                _t(line.first),
                _t(line.last) if line.count > 1 else "",
                line.host or "-",
                line.level or line.kind,
                str(line.count),
                Text(line.what[:80]),
            )
        items.append(key)
    ev = Table(
        box=None, title=f"Evidence ({len(s.evidence)}; first {evidence_rows})", title_justify="left"
    )
    for col in ("time", "host", "kind", "level", "what", "ref"):
        ev.add_column(col)
    for e in s.evidence[:evidence_rows]:
        ev.add_row(_t(e.ts), e.host or "-", e.kind, e.level or "-", Text(e.what[:80]), Text(e.ref))
    items.append(ev)
    return Group(*items)  # type: ignore[arg-type]
