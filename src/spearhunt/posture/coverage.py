"""Advanced detection (EDR and logging): which sources each host has, silent gaps while peers
log, log clearing and sensors stopped; per technique, which loaded rules could fire given the
logs present, against the techniques of the case's stories."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from spearhunt.model.posture import ControlResult, Finding, HostEvent, HostSources, unknown
from spearhunt.model.story import Story
from spearhunt.posture.common import pct, plural, stories_of_host, story_hosts

CONTROL = "detection_coverage"
SYSMON = "microsoft-windows-sysmon/operational"
POWERSHELL = "microsoft-windows-powershell/operational"
DEFENDER = "microsoft-windows-windows defender/operational"
MIN_GAP_HOURS = 4
PEER_SHARE = 0.75  # a gap counts when this share of the other hosts logged in each hour of it


@dataclass(frozen=True, slots=True)
class RuleReach:
    """What a loaded rule needs to fire: one (channels, event ids) route per variant (None: any)."""

    rule_id: str
    title: str
    techniques: tuple[str, ...]
    routes: tuple[tuple[frozenset[str] | None, frozenset[int] | None], ...]

    def fires_on(self, pairs: set[tuple[str, int]]) -> bool:
        """Whether some variant's channel and event id are among a host's (channel, id) pairs."""
        for channels, ids in self.routes:
            for ch, eid in pairs:
                if (channels is None or ch in channels) and (ids is None or eid in ids):
                    return True
        return False


def _pairs(h: HostSources) -> set[tuple[str, int]]:
    return {(ch.lower(), eid) for ch, eid, _ in h.channels}


def sources_of(h: HostSources) -> dict[str, str]:
    """A host's logging, by source: Sysmon (with its event ids), 4688 command lines,
    PowerShell 4104, Defender."""
    sysmon = sorted({eid for ch, eid, _ in h.channels if ch.lower() == SYSMON})
    out = {}
    out["sysmon"] = ("event ids " + ",".join(map(str, sysmon))) if sysmon else ""
    has_4688 = any(ch == "Security" and eid == 4688 for ch, eid, _ in h.channels)
    out["4688_cmdline"] = (
        "with command lines" if h.cmdline_4688 else ("without command lines" if has_4688 else "")
    )
    out["powershell_4104"] = (
        "yes" if any(ch.lower() == POWERSHELL and eid == 4104 for ch, eid, _ in h.channels) else ""
    )
    out["defender"] = "yes" if any(ch.lower() == DEFENDER for ch, _, _ in h.channels) else ""
    return out


def silent_gaps(hosts: Sequence[HostSources]) -> dict[str, list[tuple[datetime, int]]]:
    """Per host, runs of at least ``MIN_GAP_HOURS`` hours without an event while most peers logged."""
    active: Counter[datetime] = Counter()
    sets = {h.host: set(h.hours) for h in hosts}
    for s in sets.values():
        active.update(s)
    if len(hosts) < 3 or not active:
        return {}
    hours = sorted(active)
    out: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for h in hosts:
        mine = sets[h.host]
        if not mine:
            continue
        start: datetime | None = None
        run = 0
        t, end = hours[0], hours[-1]
        while t <= end:
            peers = active[t] - (1 if t in mine else 0)
            busy = peers >= PEER_SHARE * (len(hosts) - 1)
            if t not in mine and busy and min(mine) < t < max(mine):
                start = start or t
                run += 1
            else:
                if run >= MIN_GAP_HOURS and start:
                    out[h.host].append((start, run))
                start, run = None, 0
            t += timedelta(hours=1)
    return out


def assess(
    hosts: Sequence[HostSources],
    tamper: Sequence[HostEvent],
    rules: Sequence[RuleReach],
    stories: Sequence[Story],
    fired: frozenset[str] = frozenset(),
) -> tuple[ControlResult, tuple[tuple[str, int, str], ...]]:
    """Judge logging per host and per technique; also returns the Navigator coverage
    (technique, rules that could fire somewhere, note)."""
    if not hosts:
        return (
            unknown(
                CONTROL,
                "the case holds no endpoint events (hunt the hosts' logs with --store first)",
            ),
            (),
        )
    findings: list[Finding] = []
    src = {h.host: sources_of(h) for h in hosts}
    n = len(hosts)
    no_cmdline = [
        h
        for h in hosts
        if src[h.host]["4688_cmdline"] != "with command lines"
        and 1 not in {e for c, e, _ in h.channels if c.lower() == SYSMON}
    ]
    for key, label, sev in (
        ("sysmon", "no Sysmon", "high"),
        (
            "4688_cmdline",
            "no process creation with command lines (Sysmon 1 or Security 4688)",
            "medium",
        ),
        ("powershell_4104", "no PowerShell script block logging (4104)", "low"),
    ):
        have = [h for h in hosts if src[h.host][key]]
        if key == "4688_cmdline":
            have = [h for h in hosts if h not in no_cmdline]
        if not have or len(have) == n:
            continue
        for h in hosts:
            if h in have:
                continue
            ids = stories_of_host(stories, h.host)
            findings.append(
                Finding(
                    "critical" if ids and key == "sysmon" else sev,
                    f"{h.host}: {label}, while {len(have)} of {n} hosts have it",
                    host=h.host,
                    evidence=tuple(f"{ch} {eid}: {c}" for ch, eid, c in h.channels[:8]),
                    stories=ids,
                    kind=f"missing_{key}",
                )
            )
    for host, gaps in sorted(silent_gaps(hosts).items()):
        for start, hours in gaps[:5]:
            findings.append(
                Finding(
                    "medium",
                    f"{host}: silent for {hours} h from {start.isoformat(timespec='minutes')}Z while its peers logged",
                    host=host,
                    stories=stories_of_host(stories, host),
                    kind="silent_gap",
                )
            )
    for ev in tamper:
        what = _tamper_title(ev)
        if what:
            findings.append(
                Finding(
                    "high",
                    f"{ev.host}: {what}",
                    host=ev.host,
                    account=ev.user or None,
                    evidence=(
                        f"{ev.time.isoformat(timespec='seconds') + 'Z' if ev.time else '?'} {ev.channel} {ev.event_id} {ev.detail}",
                    ),
                    stories=stories_of_host(stories, ev.host),
                    kind="log_cleared" if ev.event_id in (1102, 104) else "sensor_tampered",
                )
            )
    # techniques: rules that could fire anywhere, and per story host
    pairs = {h.host: _pairs(h) for h in hosts}
    could: dict[str, set[str]] = defaultdict(set)  # technique -> rule ids that could fire somewhere
    all_rules: dict[str, set[str]] = defaultdict(set)
    for r in rules:
        for t in r.techniques:
            all_rules[t].add(r.rule_id)
        if any(r.fires_on(p) for p in pairs.values()):
            for t in r.techniques:
                could[t].add(r.rule_id)
    coverage = tuple(
        (
            t,
            len(could.get(t, ())),
            f"{len(could.get(t, ()))} of {len(all_rules[t])} loaded rules could fire"
            + (" (fired in this case)" if t in fired else ""),
        )
        for t in sorted(all_rules)
    )
    for s in stories:
        blind: dict[str, list[str]] = defaultdict(list)
        for host in sorted(story_hosts(s)):
            p = pairs.get(host)
            if p is None:
                blind["(no logs at all)"].append(host)
                continue
            here = {t for r in rules if r.fires_on(p) for t in r.techniques}
            missing = sorted(t for t in could if t not in here)
            if missing:
                blind[", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")].append(host)
        visible = sorted(t for t in s.techniques if t in fired or t in could)
        for techs, hs in blind.items():
            findings.append(
                Finding(
                    "high",
                    f"story {s.id}: on {', '.join(hs)} rules for {techs} could not have fired with the logs present",
                    evidence=(f"visible techniques: {', '.join(visible[:12]) or 'none'}",),
                    stories=(s.id,),
                    host=hs[0] if len(hs) == 1 else None,
                    kind="story_blind_spot",
                )
            )
    # the baseline: Sysmon, and process creation with command lines (Sysmon 1 or 4688)
    full = [h for h in hosts if src[h.host]["sysmon"] and h not in no_cmdline]
    score = max(
        0,
        pct(len(full), n)
        - 10 * sum(f.kind in ("log_cleared", "sensor_tampered") for f in findings),
    )
    if any(
        f.kind in ("log_cleared", "sensor_tampered") or f.severity == "critical" for f in findings
    ):
        status = "fail"
    elif findings:
        status = "partial"
    else:
        status = "pass"
    summary = (
        f"{plural(n, 'host')}: {sum(1 for h in hosts if src[h.host]['sysmon'])} with Sysmon, "
        f"{sum(1 for h in hosts if src[h.host]['powershell_4104'])} with PowerShell 4104, "
        f"{sum(1 for h in hosts if src[h.host]['defender'])} with Defender logs; "
        f"{len([f for f in findings if f.kind in ('log_cleared', 'sensor_tampered')])} log clearings or sensor changes; "
        f"{sum(1 for t in all_rules if could.get(t))} of {len(all_rules)} techniques of the loaded rules could be seen"
    )
    figures = (
        ("hosts", str(n)),
        ("hosts_sysmon", str(sum(1 for h in hosts if src[h.host]["sysmon"]))),
        ("hosts_full_baseline", str(len(full))),
        ("techniques_loaded", str(len(all_rules))),
        ("techniques_could_fire", str(sum(1 for t in all_rules if could.get(t)))),
        ("rules_loaded", str(len(rules))),
    )
    inputs = ("case events", f"{len(rules)} loaded rules")
    result = ControlResult(
        CONTROL, status, score, summary, inputs, tuple(merge_findings(findings)), figures
    )
    return result, coverage


def merge_findings(findings: list[Finding]) -> list[Finding]:
    """Findings in severity order, each once."""
    order = ("critical", "high", "medium", "low", "info")
    return sorted(dict.fromkeys(findings), key=lambda f: order.index(f.severity))


def _tamper_title(ev: HostEvent) -> str:
    d = ev.detail.lower()
    if ev.event_id == 1102:
        return "the Security log was cleared"
    if ev.event_id == 104:
        return "an event log was cleared"
    if ev.event_id == 4:
        return "Sysmon was stopped" if "stop" in d else ""
    if ev.event_id == 16:
        return "Sysmon's configuration was changed"
    if ev.event_id == 7036:
        return f"a sensor service stopped ({ev.detail[:80]})" if "stop" in d else ""
    if ev.event_id == 7040:
        return (
            f"a sensor service's start type changed ({ev.detail[:80]})" if "disabled" in d else ""
        )
    if ev.event_id == 5001:
        return "Defender real-time protection was turned off"
    if ev.event_id in (5010, 5012):
        return "Defender scanning was turned off"
    if ev.event_id == 5007:
        return "Defender's configuration was changed"
    return ""
