"""Story scores from explainable parts (each shown with the score):

- alerts: risk by level, capped per rule so one noisy rule cannot dominate;
- mail: the verdict of the mail that started the story, when it is tied to a host;
- tactics: a bonus per distinct ATT&CK tactic;
- kill-chain order: a bonus per phase seen after the one before it (initial access before
  execution before lateral movement before exfiltration ...);
- lateral movement, exfiltration and beaconing found by the graph walk and network analytics;
- asset criticality of the hosts involved, from the assets file.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

from spearhunt.correlate.config import Assets
from spearhunt.correlate.facts import Alert, Mail
from spearhunt.model.story import ScorePart, Story

LEVEL_POINTS = {"informational": 0.0, "low": 1.0, "medium": 3.0, "high": 6.0, "critical": 10.0}
RULE_CAP_HITS = 3  # a rule counts at most this many of its own level
PHASES = (
    ("initial_access",),
    ("execution",),
    (
        "persistence",
        "privilege_escalation",
        "credential_access",
        "discovery",
        "stealth",
        "defense_impairment",
    ),
    ("lateral_movement",),
    ("collection",),
    ("exfiltration",),
)
TACTIC_POINTS = 3.0
ORDER_POINTS = 4.0
LATERAL_POINTS, LATERAL_MAX = 5.0, 6
EXFIL_POINTS, EXFIL_MAX = 8.0, 3
BEACON_POINTS = 10.0
MAIL_POINTS = {"malicious": 12.0, "suspicious": 6.0}
CRITICALITY_FACTOR, CRITICALITY_MAX = 0.5, 15.0


def score_story(
    story: Story, alerts: list[Alert], mail: Mail | None, assets: Assets
) -> tuple[ScorePart, ...]:
    """The parts of a story's score."""
    parts: list[ScorePart] = []
    per_rule: dict[str, float] = defaultdict(float)
    level: dict[str, float] = {}
    for a in alerts:
        if a.hidden:
            continue
        pts = LEVEL_POINTS.get(a.level, 0.0)
        per_rule[a.rule_id] += pts
        level[a.rule_id] = pts
    capped = {r: min(v, RULE_CAP_HITS * level[r]) for r, v in per_rule.items()}
    if capped:
        parts.append(
            ScorePart(
                "alerts",
                sum(capped.values()),
                f"{sum(1 for a in alerts if not a.hidden)} alerts from {len(capped)} rules, "
                f"each rule capped at {RULE_CAP_HITS}x its level",
            )
        )
    if mail and story.patient_zero.message_id:
        parts.append(
            ScorePart(
                "mail",
                MAIL_POINTS.get(mail.verdict, 0.0),
                f"{mail.verdict} mail tied to {story.patient_zero.host}: {story.patient_zero.how}",
            )
        )
    tactics = [s.tactic for s in story.stages]
    if tactics:
        parts.append(
            ScorePart(
                "tactics",
                TACTIC_POINTS * len(tactics),
                f"{len(tactics)} ATT&CK tactics: " + ", ".join(tactics),
            )
        )
    firsts = []
    for phase in PHASES:
        ts = [s.first_seen for s in story.stages if s.tactic in phase and s.first_seen]
        if ts:
            firsts.append((phase[0], min(ts)))
    steps = list(itertools.pairwise(firsts))
    ordered = sum(1 for (_, a), (_, b) in steps if a <= b)
    if ordered:
        late = [f"{p} before {q}" for (q, a), (p, b) in steps if a > b]
        parts.append(
            ScorePart(
                "kill_chain_order",
                ORDER_POINTS * ordered,
                f"{ordered} of {len(steps)} steps between phases in kill-chain order ("
                + " -> ".join(p for p, _ in firsts)
                + ")"
                + ("; out of order: " + ", ".join(late) if late else ""),
            )
        )
    moved = min(LATERAL_MAX, len(story.hosts) - 1)
    if moved > 0:
        parts.append(
            ScorePart(
                "lateral_movement",
                LATERAL_POINTS * moved,
                f"{moved} host(s) reached from the first",
            )
        )
    dests = {x.destination for x in story.exfiltration}
    if dests:
        parts.append(
            ScorePart(
                "exfiltration",
                EXFIL_POINTS * min(EXFIL_MAX, len(dests)),
                f"{len(dests)} external destination(s), {sum(x.bytes for x in story.exfiltration):,} bytes",
            )
        )
    if story.beacons:
        best = max(b.score for b in story.beacons)
        parts.append(
            ScorePart(
                "beaconing",
                BEACON_POINTS * best,
                f"best beacon score {best:.2f} ({story.beacons[0].destination})",
            )
        )
    crit = sum(assets.criticality(h.host) for h in story.hosts)
    if crit:
        parts.append(
            ScorePart(
                "asset_criticality",
                min(CRITICALITY_MAX, CRITICALITY_FACTOR * crit),
                "criticality of "
                + ", ".join(
                    f"{h.host}={assets.criticality(h.host)}"
                    for h in story.hosts
                    if assets.criticality(h.host)
                ),
            )
        )
    return tuple(parts)
