"""Seeds -> walks -> stories: attach alerts, network findings and the mail to each walk,
order the stages, score, and give each story a stable id."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from spearhunt.correlate import facts as F
from spearhunt.correlate.config import CorrelateOptions
from spearhunt.correlate.facts import Alert, EventLookup, Facts, FileSeen, Mail, Outbound
from spearhunt.correlate.graph import LateralIndex, Walk, walk
from spearhunt.correlate.network import Network
from spearhunt.correlate.scoring import score_story
from spearhunt.model.attack import tactic_rank
from spearhunt.model.story import (
    Beacon,
    Destination,
    Evidence,
    EvidenceLine,
    ExfilFlow,
    HostReach,
    PatientZero,
    Stage,
    Story,
    Unassigned,
)

OFFICE = (
    "winword.exe",
    "excel.exe",
    "powerpnt.exe",
    "msaccess.exe",
    "mspub.exe",
    "visio.exe",
    "onenote.exe",
    "wordpad.exe",
    "acrord32.exe",
    "acrobat.exe",
    "explorer.exe",
)
MAIL_CACHE = ("content.outlook", "\\inetcache\\", "\\outlook\\", "olk", "\\downloads\\")
_USER_PATH = re.compile(r"\\users\\([^\\]+)\\", re.IGNORECASE)


@dataclass
class Seed:
    """Where a story starts."""

    host: str
    ts: datetime
    kind: str  # mail, beacon, alerts
    key: str
    user: str = ""
    mail: Mail | None = None
    how: str = ""
    procs: frozenset[str] = frozenset()
    sightings: tuple[FileSeen, ...] = ()
    priority: float = 0.0
    refs: frozenset[str] = frozenset()  # the alerts of the episode that seeded the story
    last: datetime | None = None  # the episode's last alert


def build(lookup: EventLookup, facts: Facts, net: Network, opts: CorrelateOptions) -> list[Story]:
    """Every story in the case, highest score first."""
    allow = opts.allowlist
    alerts = [
        a
        for a in facts.alerts
        if not allow.rule(a.rule_id, a.title)
        and not allow.host(a.host)
        and not allow.user(a.user)
        and not any(h in a.text.lower() for h in allow.hashes)
    ]
    rule_hosts: dict[str, set[str]] = defaultdict(set)
    for a in alerts:
        rule_hosts[a.rule_id].add(a.host)
    n_hosts = max(1, len(facts.hosts))
    prevalent = {
        r for r, hs in rule_hosts.items() if len(hs) >= 4 and len(hs) > opts.weak_share * n_hosts
    }
    index = LateralIndex(facts, opts)
    seeds = (
        _mail_seeds(lookup, facts, opts)
        + _beacon_seeds(net, opts)
        + _alert_seeds(alerts, prevalent, facts, opts)
    )
    seeds.sort(key=lambda s: (-s.priority, s.ts, s.host))
    # where the processes with alerts connected to: one read for the case, not one per seed
    outbound_by: dict[tuple[str, str], list[Outbound]] = defaultdict(list)
    alerted = sorted({(a.host, a.proc) for a in alerts if a.proc and not a.hidden})
    for o in lookup.process_destinations(alerted) if alerted else ():
        outbound_by[(o.host, o.proc)].append(o)
    claimed: set[str] = set()
    # host -> the spans stories already hold it (from its reach to the story's end)
    claimed_hosts: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    stories = []
    window = timedelta(seconds=opts.windows.story)
    gap = timedelta(seconds=opts.episode_gap)
    for seed in seeds:
        if allow.host(seed.host):
            continue
        if seed.kind != "mail" and any(
            seed.ts <= end + gap and (seed.last or seed.ts) >= start - gap
            for start, end in claimed_hosts.get(seed.host, ())
        ):
            # an episode a stronger story already holds: its left-over alerts are that
            # story's fragments, not a story of their own (a later episode, after a quiet
            # gap, is a story of its own: a host hit twice)
            continue
        procs = set(seed.procs)
        if seed.procs:
            procs |= lookup.process_tree(facts.hosts.get(seed.host, seed.host), sorted(seed.procs))
        # only a mail tells whose account the intruder holds; an alert seed's user is just a user
        w = walk(
            seed.host,
            seed.ts,
            seed.ts + window,
            index,
            {seed.user} if seed.user and seed.kind == "mail" else set(),
            procs,
            # a mail already says how the story started; other seeds may have a source upstream
            # (a beacon starts a while after its implant was placed)
            None
            if seed.kind == "mail"
            else timedelta(seconds=3600 if seed.kind == "beacon" else opts.windows.logon_to_action),
        )
        story = _assemble(seed, w, alerts, prevalent, claimed, facts, net, opts, outbound_by)
        if story is None:
            continue
        stories.append(story)
        for h, r in w.hosts.items():
            claimed_hosts[h].append((r.ts, story.last_seen or r.ts))
    stories = [s for s in stories if s.score >= opts.min_story_score]
    stories.sort(key=lambda s: (-s.score, s.first_seen or datetime.min, s.id))
    return stories


def unassigned(facts: Facts, stories: list[Story], opts: CorrelateOptions) -> list[Unassigned]:
    """High and critical detections that are in no story, by host and rule: nothing severe is
    left out without a word."""
    told = {ref for s in stories for ref in s.alert_ids}
    allow = opts.allowlist
    groups: dict[tuple[str, str, str], list[datetime | None]] = defaultdict(list)
    for a in facts.alerts:
        if a.kind != "alert" or a.hidden or _level(a) < 3 or a.ref in told:
            continue
        if allow.rule(a.rule_id, a.title) or allow.host(a.host) or allow.user(a.user):
            continue
        groups[(facts.hosts.get(a.host, a.host), a.title, a.level)].append(a.ts)
    out = []
    for (host, title, level), times in groups.items():
        ts = [t for t in times if t]
        out.append(
            Unassigned(host, title, level, len(times), min(ts, default=None), max(ts, default=None))
        )
    out.sort(
        key=lambda u: (u.host, -_LEVELS.get(u.level, 0), u.first or datetime.min, u.rule_title)
    )
    return out


_LEVELS = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


# ---- seeds ------------------------------------------------------------------------------
def _mail_seeds(lookup: EventLookup, facts: Facts, opts: CorrelateOptions) -> list[Seed]:
    mails = [m for m in facts.mails if m.attachments or m.recipients]
    names = sorted({n for m in mails for n, _ in m.attachments if len(n) >= 5})
    hashes = sorted({h for m in mails for _, h in m.attachments if h})
    sightings = lookup.attachment_sightings(names, hashes) if "events" in facts.tables else []
    skew = timedelta(seconds=opts.windows.skew)
    window = timedelta(seconds=opts.windows.mail_to_open)
    out = []
    for m in mails:
        by_host: dict[str, list[tuple[int, FileSeen]]] = defaultdict(list)
        for name, sha in m.attachments:
            lname = name.lower()
            for s in sightings:
                if m.date and not (m.date - skew <= s.ts <= m.date + window):
                    continue
                if sha and sha.upper() in s.sha256:
                    by_host[s.host].append((3, s))
                elif (
                    len(lname) >= 5
                    and lname in s.path
                    and (
                        (s.event_id in (11, 15) and any(c in s.path for c in MAIL_CACHE))
                        or (s.event_id in (1, 4688) and not s.image.endswith("outlook.exe"))
                    )
                ):
                    by_host[s.host].append((2, s))
        for host, hits in by_host.items():
            hits.sort(key=lambda x: (x[1].ts, -x[0]))
            strength = max(k for k, _ in hits)
            opened = [
                s
                for _, s in hits
                if s.event_id in (1, 4688) and not s.image.endswith("outlook.exe")
            ]
            user = next((s.user for _, s in hits if s.user and not F.weak_account(s.user)), "")
            if not user:
                mu = next(
                    (_USER_PATH.search(s.path) for _, s in hits if _USER_PATH.search(s.path)), None
                )
                user = mu.group(1).lower() if mu else ""
            how = (
                "attachment SHA256 = Sysmon hash"
                if strength == 3
                else "attachment name written under the mail cache"
                if not opened
                else "attachment name written, then opened by a process"
            )
            if opened:
                how += f" ({opened[0].image.rsplit(chr(92), 1)[-1]})"
            prio = (100 if m.verdict == "malicious" else 60) + 10 * strength + (10 if opened else 0)
            out.append(
                Seed(
                    host,
                    hits[0][1].ts,
                    "mail",
                    f"mail|{m.message_id}|{host}",
                    user,
                    m,
                    how,
                    frozenset(s.proc for s in opened if s.proc),
                    tuple(s for _, s in hits),
                    prio,
                )
            )
        if not by_host and m.verdict == "malicious":
            seed = _recipient_seed(m, facts, opts)
            if seed:
                out.append(seed)
    return out


def _recipient_seed(m: Mail, facts: Facts, opts: CorrelateOptions) -> Seed | None:
    """A mail with no file trace: its recipient's own host, when that host alerts soon after."""
    if not m.date:
        return None
    window = timedelta(seconds=opts.windows.mail_to_open)
    for rcpt in m.recipients:
        for host, users in sorted(facts.interactive.items()):
            owner = users.most_common(1)[0][0] if users else ""
            if owner and _same_person(rcpt, owner):
                hits = [
                    a
                    for a in facts.alerts
                    if a.host == host
                    and a.ts
                    and m.date <= a.ts <= m.date + window
                    and _level(a) >= 2
                ]
                if hits:
                    return Seed(
                        host,
                        min(a.ts for a in hits if a.ts),
                        "mail",
                        f"mail|{m.message_id}|{host}",
                        owner,
                        m,
                        "recipient address = host user, alerts follow",
                        priority=90,
                    )
    return None


def _same_person(address: str, user: str) -> bool:
    local = address.lower().split("@", 1)[0]
    parts = [p for p in re.split(r"[._\-]", local) if p]
    cands = {local, local.replace(".", "")}
    if len(parts) >= 2:
        cands |= {
            f"{parts[0][0]}.{parts[-1]}",
            f"{parts[0][0]}{parts[-1]}",
            f"{parts[0]}.{parts[-1]}",
            f"{parts[-1]}.{parts[0][0]}",
        }
    return user.lower() in cands


def _beacon_seeds(net: Network, opts: CorrelateOptions) -> list[Seed]:
    return [
        Seed(
            b.host,
            b.first_seen or datetime.min,
            "beacon",
            f"beacon|{b.host}|{b.destination}",
            how=f"beaconing to {b.destination}",
            priority=30 + 20 * b.score,
        )
        for b in net.beacons
        if b.first_seen
    ]


def _alert_seeds(
    alerts: list[Alert], prevalent: set[str], facts: Facts, opts: CorrelateOptions
) -> list[Seed]:
    by_host: dict[str, list[Alert]] = defaultdict(list)
    for a in alerts:
        if a.ts and not a.hidden and _level(a) >= 2 and a.rule_id not in prevalent:
            by_host[a.host].append(a)
    out = []
    for host, found in by_host.items():
        for hs in _episodes(found, timedelta(seconds=opts.episode_gap)):
            out.append(_episode_seed(host, hs))
    return out


def _episodes(alerts: list[Alert], gap: timedelta) -> list[list[Alert]]:
    """A host's alerts in runs of activity: a quiet gap longer than ``gap`` starts a new one."""
    alerts = sorted(alerts, key=lambda a: (a.ts or datetime.min, a.eid))
    runs: list[list[Alert]] = []
    for a in alerts:
        if runs and a.ts and runs[-1][-1].ts and a.ts - runs[-1][-1].ts <= gap:
            runs[-1].append(a)
        else:
            runs.append([a])
    return runs


# Techniques of housekeeping that opens many captures (a lab or an admin clearing logs):
# "how it started" passes over them when the episode holds anything else.
HOUSEKEEPING = ("T1070", "T1685")
REPEATED = 5  # a rule firing more often than this in an episode is background, not a start


def _start(hs: list[Alert]) -> Alert:
    """The alert that tells how an episode started: initial access, else the first severe or
    execution alert, else the first one, never housekeeping or a rule repeating through the
    episode when anything else is there."""
    per_rule = Counter(a.rule_id for a in hs)
    plain = [
        a
        for a in hs
        if per_rule[a.rule_id] <= REPEATED
        and not any(t.startswith(HOUSEKEEPING) for t in a.techniques)
    ]
    return (
        next((a for a in plain if "initial_access" in a.tactics), None)
        or next((a for a in plain if _level(a) >= 3 or "execution" in a.tactics), None)
        or (plain[0] if plain else hs[0])
    )


def _episode_seed(host: str, hs: list[Alert]) -> Seed:
    """A story seed from one episode of a host's alerts."""
    first = hs[0]
    start = _start(hs)
    return Seed(
        host,
        first.ts or datetime.min,
        "alerts",
        f"alerts|{host}|{(first.ts or datetime.min).isoformat()}|{first.rule_id}",
        next((a.user for a in (start, *hs) if a.user and not F.weak_account(a.user)), ""),
        how=f"first alert: {start.title}" if start is first else f"started with: {start.title}",
        priority=min(29.0, sum(_level(a) for a in hs[:20])),
        refs=frozenset(a.ref for a in hs),
        last=hs[-1].ts,
    )


def _level(a: Alert) -> int:
    return {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}.get(a.level, 0)


# ---- assembling one story --------------------------------------------------------------
def _assemble(
    seed: Seed,
    w: Walk,
    alerts: list[Alert],
    prevalent: set[str],
    claimed: set[str],
    facts: Facts,
    net: Network,
    opts: CorrelateOptions,
    outbound_by: dict[tuple[str, str], list[Outbound]] | None = None,
) -> Story | None:
    skew = timedelta(seconds=opts.windows.skew)
    end = seed.ts + timedelta(seconds=opts.windows.story)
    mine: list[Alert] = []
    for a in alerts:
        reach = w.hosts.get(a.host)
        if (
            reach is None
            or a.ts is None
            or a.ref in claimed
            or not (reach.ts - skew <= a.ts <= end)
        ):
            continue
        procs = w.procs.get(a.host, set())
        linked = (
            (a.proc and a.proc in procs)
            or (a.parent and a.parent in procs)
            or (a.user and a.user in w.accounts)
            or (a.logon_id and a.logon_id in w.logon_ids.get(a.host, set()))
            or (_level(a) >= 3 and a.rule_id not in prevalent)
            or (a.kind == "correlation" and _level(a) >= 2)
            or a.ref in seed.refs
        )
        if linked:
            mine.append(a)
    mine = _in_episode(mine, w, timedelta(seconds=opts.episode_gap))
    if (
        seed.kind == "alerts"
        and len(w.hosts) == 1
        and len(mine) < 2
        and not any(_level(a) >= 3 for a in mine)
    ):
        return None  # one medium detection alone is a detection, not a story
    for a in mine:
        claimed.add(a.ref)
    exfil = _exfil(w, net, mine, seed, opts, facts)
    beacons = tuple(
        b
        for b in net.beacons
        if b.host in w.hosts and b.first_seen and w.hosts[b.host].ts - skew <= b.first_seen <= end
    )
    if seed.kind == "beacon" and not beacons:
        return None
    alerted = sorted({(a.host, a.proc) for a in mine if a.proc and not a.hidden})
    outbound = [o for key in alerted for o in (outbound_by or {}).get(key, ())]
    destinations = _destinations(w, outbound, exfil, beacons, facts, net, opts)
    evidence = _evidence(seed, w, mine, exfil, beacons, destinations)
    stages = _stages(seed, w, mine, exfil, beacons)
    hosts = _hosts(seed, w, mine, facts, opts)
    techniques = sorted(
        {t for a in mine if not a.hidden for t in a.techniques}
        | {r.edge.technique for r in w.hosts.values() if r.edge}
        | ({"T1566.001"} if seed.mail else set())
        | ({"T1071"} if beacons else set())
    )
    staged = tuple(sorted({_staged_path(a) for a in mine if "collection" in a.tactics} - {""}))[:20]
    times = [e.ts for e in evidence if e.ts]
    root = w.root or seed.host
    moved = next((r.edge for r in w.hosts.values() if r.edge and r.edge.src == root), None)
    pz_name = facts.hosts.get(root, root)
    # patient zero's first activity is the story's, as its evidence shows it
    pz_times = [e.ts for e in evidence if e.ts and e.host in (root, pz_name)]
    if root != seed.host and moved:
        pz_times.append(moved.ts)
    pz_first = min(pz_times) if pz_times else w.hosts[root].ts
    pz_user = seed.user if root == seed.host else (moved.account if moved else "")
    pz = PatientZero(
        host=pz_name,
        user=pz_user or _process_user(mine, root) or None,
        message_id=seed.mail.message_id if seed.mail else None,
        mail_subject=seed.mail.subject if seed.mail else None,
        mail_sender=seed.mail.sender if seed.mail else None,
        mail_verdict=seed.mail.verdict if seed.mail else None,
        attachment=seed.mail.attachments[0][0] if seed.mail and seed.mail.attachments else None,
        attachment_sha256=seed.mail.attachments[0][1]
        if seed.mail and seed.mail.attachments
        else None,
        first_seen=pz_first,
        how=seed.how
        if root == seed.host
        else f"source of the remote session into {facts.hosts.get(seed.host, seed.host)} "
        f"({moved.why[0] if moved else 'remote logon'}); {seed.how}",
    )
    times.append(pz_first)
    draft = Story(
        id=_story_id(seed),
        score=0.0,
        score_parts=(),
        patient_zero=pz,
        hosts=hosts,
        exfiltration=exfil,
        stages=stages,
        techniques=tuple(techniques),
        evidence=evidence,
        users=tuple(sorted(w.accounts)),
        beacons=beacons,
        staged=staged,
        destinations=destinations,
        key_evidence=key_evidence(evidence),
        first_seen=min(times) if times else seed.ts,
        last_seen=max(times) if times else seed.ts,
    )
    parts = score_story(draft, mine, seed.mail, opts.assets)
    total = sum(p.points for p in parts)
    return dataclasses.replace(draft, score=total, score_parts=parts, title=_title(draft))


def _in_episode(mine: list[Alert], w: Walk, gap: timedelta) -> list[Alert]:
    """Each host's alerts from its reach on, up to the first quiet gap: a later episode on
    the same host is another story (a host hit twice, weeks of dwell time)."""
    last: dict[str, datetime] = {h: r.ts for h, r in w.hosts.items()}
    out = []
    for a in sorted(mine, key=lambda x: (x.ts or datetime.min, x.eid)):
        prev = last.get(a.host)
        if a.ts is None or prev is None or a.ts - prev > gap:
            continue
        last[a.host] = max(prev, a.ts)
        out.append(a)
    return out


def _process_user(mine: list[Alert], host: str) -> str:
    """The account the story's processes on ``host`` ran as, when no logon names it."""
    users = Counter(
        a.user for a in mine if a.host == host and a.user and not F.weak_account(a.user)
    )
    return users.most_common(1)[0][0] if users else ""


def _staged_path(a: Alert) -> str:
    m = re.search(r"[a-zA-Z]:\\[^\s\"']+\.(7z|zip|rar|cab|tar|gz|001)\b", a.text)
    return m.group(0) if m else ""


def _exfil(
    w: Walk, net: Network, mine: list[Alert], seed: Seed, opts: CorrelateOptions, facts: Facts
) -> tuple[ExfilFlow, ...]:
    def net_host(h: str) -> str:
        return facts.hosts.get(h, h)

    skew = timedelta(seconds=opts.windows.skew)
    end = seed.ts + timedelta(seconds=opts.windows.story)
    rare = max(2, int(0.2 * net.host_count))
    named = " ".join(
        a.text.lower() for a in mine if {"exfiltration", "command_and_control"} & set(a.tactics)
    )
    beacon_dst = {b.ip for b in net.beacons}
    out = []
    for f in (*net.flows, *net.tunnels):
        reach = w.hosts.get(f.host)
        if reach is None or not (reach.ts - skew <= f.first_seen <= end) or f.hosts_on_dest > rare:
            continue
        reasons = []
        dom = f.domain or ""
        if f.channel == "dns":
            reasons.append(f"DNS tunnelling: {f.conns} long queries below {dom}")
        elif f.bytes_out >= opts.exfil_min_bytes and f.bytes_out > 3 * max(1, f.bytes_in):
            reasons.append(
                f"{f.bytes_out / 1e6:.0f} MB out, first contact after the host was reached"
            )
        if f.bytes_out >= 1_000_000 and ((dom and dom in named) or (f.ip and f.ip in named)):
            reasons.append("destination named by an exfiltration alert")
        if not reasons or (
            f.ip in beacon_dst and f.channel != "dns" and f.bytes_out < opts.exfil_min_bytes
        ):
            continue
        out.append(
            ExfilFlow(
                net_host(f.host),
                dom or f.ip,
                f.bytes_out,
                f.first_seen,
                f.last_seen,
                f.ip or None,
                dom or None,
                f.channel,
                f.conns,
                tuple(reasons),
            )
        )
    out.sort(key=lambda x: (x.first_seen or datetime.min, x.host, x.destination))
    return tuple(out)


def _destinations(
    w: Walk,
    outbound: list[Outbound],
    exfil: tuple[ExfilFlow, ...],
    beacons: tuple[Beacon, ...],
    facts: Facts,
    net: Network,
    opts: CorrelateOptions,
) -> tuple[Destination, ...]:
    """Outside addresses of the story: beacons, exfiltration, and whatever a process with an
    alert connected to (a payload's C2 is rarely regular or big enough for the other two)."""
    out: dict[str, Destination] = {}

    def add(ip: str | None, domain: str | None, why: str, ts: datetime | None, host: str) -> None:
        key = ip or domain or ""
        if key and key not in out:
            out[key] = Destination(ip, domain, why, ts, facts.hosts.get(host, host))

    for b in beacons:
        add(b.ip, b.destination if b.destination != b.ip else None, "beacon", b.first_seen, b.host)
    for x in exfil:
        add(x.ip, x.domain, "exfiltration", x.first_seen, x.host)
    allow = opts.allowlist
    for o in outbound:
        name = next((n for n in (o.name, net.names.get(o.ip)) if n and n != "-"), None)
        if opts.internal(o.ip) or allow.ip(o.ip) or allow.domain(name):
            continue
        image = o.image.rsplit("\\", 1)[-1]
        add(o.ip, name, f"alerted process ({image})", o.first_seen, o.host)
    # the intruder's infrastructure clusters: a story host's flow to the same /24 as a
    # destination already found is part of it (staging server beside the C2)
    nets = {_net24(ip) for ip in out if _net24(ip)}
    for f in sorted(net.flows, key=lambda f: (f.first_seen, f.ip)):
        if f.host in w.hosts and _net24(f.ip) in nets and f.ip not in out:
            near = next(ip for ip in out if _net24(ip) == _net24(f.ip))
            add(f.ip, f.domain, f"beside {near} (same /24)", f.first_seen, f.host)
    return tuple(sorted(out.values(), key=lambda d: (d.first_seen or datetime.min, d.ip or "")))


def _net24(ip: str | None) -> str:
    parts = (ip or "").split(".")
    return ".".join(parts[:3]) if len(parts) == 4 and all(p.isdigit() for p in parts) else ""


def _hosts(
    seed: Seed, w: Walk, mine: list[Alert], facts: Facts, opts: CorrelateOptions
) -> tuple[HostReach, ...]:
    count = Counter(a.host for a in mine)
    out = []
    for h, r in sorted(w.hosts.items(), key=lambda kv: (kv[1].ts, kv[0])):
        e = r.edge
        out.append(
            HostReach(
                facts.hosts.get(h, h),
                facts.hosts.get(e.src, e.src) if e else None,
                e.technique if e else None,
                r.ts,
                e.account if e else (seed.user or None) if h == seed.host else None,
                "; ".join(e.why)
                if e
                else seed.how
                if h == seed.host
                else "upstream: the source of a remote session into the story",
                count[h],
                opts.assets.criticality(facts.hosts.get(h, h)),
            )
        )
    return tuple(out)


def _evidence(
    seed: Seed,
    w: Walk,
    mine: list[Alert],
    exfil: tuple[ExfilFlow, ...],
    beacons: tuple[Beacon, ...],
    destinations: tuple[Destination, ...] = (),
) -> tuple[Evidence, ...]:
    ev: list[Evidence] = []
    for d in destinations:
        if d.why.startswith("beside "):
            ev.append(
                Evidence(
                    "network",
                    d.first_seen,
                    d.host,
                    f"connection to {d.domain or d.ip}, {d.why}",
                    f"net:{d.host}>{d.ip}",
                    None,
                    ("command_and_control",),
                    (),
                )
            )
    if seed.mail:
        ev.append(
            Evidence(
                "mail",
                seed.mail.date,
                None,
                f"{seed.mail.verdict} mail: {seed.mail.subject}",
                f"mail:{seed.mail.message_id}",
                None,
                ("initial_access",),
                ("T1566.001",),
            )
        )
    for s in seed.sightings:
        ev.append(
            Evidence(
                "event",
                s.ts,
                s.host,
                f"attachment seen: {s.path[:200]}",
                f"event:{s.eid}",
                None,
                ("initial_access",),
                ("T1566.001",),
            )
        )
    for a in mine:
        ev.append(
            Evidence(
                a.kind if a.kind == "alert" else "correlation",
                a.ts,
                a.host,
                a.title,
                a.ref,
                a.level,
                a.tactics,
                a.techniques,
            )
        )
    for h, r in w.hosts.items():
        if r.edge:
            for eid in r.edge.events:
                ev.append(
                    Evidence(
                        "event",
                        r.edge.ts,
                        h,
                        f"{r.edge.src} -> {h}: {r.edge.why[0]} as {r.edge.account}",
                        f"event:{eid}",
                        None,
                        ("lateral_movement",),
                        (r.edge.technique,),
                    )
                )
    for x in exfil:
        ev.append(
            Evidence(
                "network",
                x.first_seen,
                x.host,
                f"{x.bytes:,} bytes to {x.destination}",
                f"net:{x.host}>{x.ip or x.destination}",
                None,
                ("exfiltration",),
                (),
            )
        )
    for b in beacons:
        ev.append(
            Evidence(
                "network",
                b.first_seen,
                b.host,
                f"beaconing to {b.destination} every ~{b.interval_s:.0f}s",
                f"beacon:{b.host}>{b.ip or b.destination}",
                None,
                ("command_and_control",),
                ("T1071",),
            )
        )
    ev.sort(key=lambda e: (e.ts or datetime.min, e.ref))
    seen: set[str] = set()
    return tuple(e for e in ev if not (e.ref in seen or seen.add(e.ref)))  # type: ignore[func-returns-value]


KEY_LINES = 25
_WEIGHT = {"critical": 10.0, "high": 6.0, "medium": 3.0, "low": 1.0, "informational": 0.5}


def key_evidence(
    evidence: tuple[Evidence, ...], lines: int = KEY_LINES
) -> tuple[EvidenceLine, ...]:
    """The evidence that tells the story: items collapsed by (kind, host, what), the ``lines``
    weightiest kept (the mail, links and network findings first, then alerts by level, a
    repeated rule weighing less the more it repeats), shown in time order."""
    groups: dict[tuple[str, str | None, str], list[Evidence]] = defaultdict(list)
    for e in evidence:
        groups[(e.kind, e.host, e.what)].append(e)
    out = []
    for (kind, host, what), items in groups.items():
        ts = [e.ts for e in items if e.ts]
        first = items[0]
        out.append(
            EvidenceLine(
                kind,
                host,
                what,
                first.level,
                len(items),
                min(ts, default=None),
                max(ts, default=None),
                first.ref,
                first.tactics,
            )
        )

    def weight(x: EvidenceLine) -> float:
        base = _WEIGHT.get(x.level or "", 0.5) if x.kind in ("alert", "correlation") else 8.0
        return base / (1.0 + math.log2(x.count))

    ranked = sorted(out, key=lambda x: (-weight(x), x.first or datetime.min, x.ref))[:lines]
    return tuple(sorted(ranked, key=lambda x: (x.first or datetime.min, x.ref)))


def _stages(
    seed: Seed,
    w: Walk,
    mine: list[Alert],
    exfil: tuple[ExfilFlow, ...],
    beacons: tuple[Beacon, ...],
) -> tuple[Stage, ...]:
    times: dict[str, list[datetime]] = defaultdict(list)
    if seed.mail:
        times["initial_access"].append(seed.ts)
    for a in mine:
        if a.ts and not a.hidden:
            for t in a.tactics:
                times[t].append(a.ts)
    for r in w.hosts.values():
        if r.edge:
            times["lateral_movement"].append(r.edge.ts)
    for x in exfil:
        times["exfiltration"] += [t for t in (x.first_seen, x.last_seen) if t]
    for b in beacons:
        times["command_and_control"] += [t for t in (b.first_seen, b.last_seen) if t]
    stages = [Stage(t, min(v), max(v), len(v)) for t, v in times.items() if v]
    stages.sort(
        key=lambda s: (
            tactic_rank(s.tactic),
            s.first_seen or datetime.min,
        )
    )
    return tuple(stages)


def _story_id(seed: Seed) -> str:
    return "S-" + hashlib.sha1(seed.key.encode()).hexdigest()[:10]


def _title(s: Story) -> str:
    pz = s.patient_zero
    start = f"mail to {pz.user or '?'} on {pz.host}" if pz.message_id else f"activity on {pz.host}"
    parts = [start]
    if len(s.hosts) > 1:
        parts.append(f"{len(s.hosts) - 1} more host{'s' if len(s.hosts) > 2 else ''} reached")
    if s.exfiltration:
        parts.append(
            "exfiltration to "
            + ", ".join(
                # the host name: a registered domain (amazonaws.com) names a platform, not
                # the intruder's drop
                sorted({x.domain or x.destination for x in s.exfiltration})
            )[:80]
        )
    elif s.destinations:
        d = s.destinations[0]
        parts.append(f"contact with {d.domain or d.ip}")
    return "; ".join(parts)
