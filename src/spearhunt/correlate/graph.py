"""The entity graph walk: from a seed (a delivered mail, a host with alerts, a beacon) along
linking edges to the hosts the intruder reached, each edge inside its time window.

Edges, strongest first: Message-ID; attachment SHA256 = Sysmon hash; attachment name written
under the Outlook cache, then opened by a process; recipient = a user of the host;
ProcessGuid/ParentProcessGuid chains; TargetLogonId; the source address or workstation of a
remote logon = a host already in the story; a connection on the source that lands as a
remote logon within seconds. A remote logon only extends a story when it can execute code
(RDP, a service installed, a WMI/WinRM/PsExec child, an admin share) and something marks it
as the intruder's: an account the story already uses, explicit credentials (4648) on the
source, a connection from a story process, or an account never used from that source before.
Weak entities (machine and service accounts, loopback, '-') never link.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from spearhunt.correlate.config import CorrelateOptions
from spearhunt.correlate.facts import Facts, HostAction, Logon, NetSession, weak_account

# remote-execution technique of a logon, from what happened on the target right after it
TECH_RDP, TECH_SMB, TECH_WMI, TECH_WINRM, TECH_SHARE = (
    "T1021.001",
    "T1021.002",
    "T1047",
    "T1021.006",
    "T1021.002",
)
BASELINE = 86400  # seconds of data before an account's use from a host can count as new
_ACTION_TECH = {"service": TECH_SMB, "psexec": TECH_SMB, "wmi": TECH_WMI, "winrm": TECH_WINRM}
NET_PORT_TECH = {
    22: "T1021.004",
    135: TECH_WMI,
    139: TECH_SMB,
    445: TECH_SMB,
    3389: TECH_RDP,
    5985: TECH_WINRM,
    5986: TECH_WINRM,
}
NET_PORT_NAME = {
    22: "SSH",
    135: "RPC/WMI",
    139: "SMB",
    445: "SMB",
    3389: "RDP",
    5985: "WinRM",
    5986: "WinRM",
}


@dataclass(frozen=True, slots=True)
class Edge:
    """One qualified move from ``src`` to ``dst``."""

    src: str
    dst: str
    ts: datetime
    technique: str
    account: str
    why: tuple[str, ...]
    events: tuple[int, ...]
    logon_id: str


@dataclass
class Reach:
    """How the walk reached a host."""

    ts: datetime
    edge: Edge | None


@dataclass
class Walk:
    """The hosts, accounts and linking events a story holds."""

    root: str = ""  # the most upstream host: patient zero
    hosts: dict[str, Reach] = field(default_factory=dict)
    accounts: set[str] = field(default_factory=set)
    logon_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    procs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


class LateralIndex:
    """Remote logons indexed by the host they came from, with what each one did."""

    def __init__(self, facts: Facts, opts: CorrelateOptions) -> None:
        self.facts = facts
        self.opts = opts
        w = opts.windows
        # inbound remote logons by target, for sources found upstream of a story host
        self.by_dst: dict[str, list[Logon]] = defaultdict(list)
        for lg in facts.logons:
            self.by_dst[lg.host].append(lg)
        # inbound connections on the target (Sysmon 3, not initiated): they name the source
        # of a logon that carries no address (Kerberos WinRM writes '-')
        self.inbound: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        for c in facts.inbound:
            self.inbound[c.host].append((c.ts, c.dst_ip))
        # Zeek sessions on remote-access ports between hosts only the network logs know
        # (no endpoint log names them): the only trace of a move in a network-only case
        self.net_from: dict[str, list[NetSession]] = defaultdict(list)
        self.net_into: dict[str, list[NetSession]] = defaultdict(list)
        for ns in facts.net_sessions:
            src, dst = (
                facts.ip_host.get(ns.src_ip, ns.src_ip),
                facts.ip_host.get(ns.dst_ip, ns.dst_ip),
            )
            if src in facts.hosts or dst in facts.hosts:
                continue  # endpoint logs tell these moves better
            if opts.internal(ns.src_ip) and opts.internal(ns.dst_ip):
                self.net_from[src].append(ns)
                self.net_into[dst].append(ns)
        self.by_src: dict[str, list[Logon]] = defaultdict(list)
        self.first_use: dict[tuple[str, str], datetime] = {}
        for lg in facts.logons:
            src = self.source_of(lg)
            if not src or src == lg.host:
                continue
            self.by_src[src].append(lg)
            key = (src, lg.account)
            if key not in self.first_use or lg.ts < self.first_use[key]:
                self.first_use[key] = lg.ts
        # novelty needs a baseline: an account first seen in the first day of data is not new
        starts = [lg.ts for lg in facts.logons]
        self.baseline_end = (min(starts) + timedelta(seconds=BASELINE)) if starts else None
        # each action belongs to the latest remote logon on its host before it (not to every
        # logon that happens to be near): a backup job's logon does not inherit a PsExec service
        self.actions: dict[int, list[HostAction]] = defaultdict(list)
        by_host: dict[str, list[Logon]] = defaultdict(list)
        for lg in facts.logons:
            if lg.event_id in (4624, 1149) and not weak_account(lg.account):
                by_host[lg.host].append(lg)
        for lgs in by_host.values():
            lgs.sort(key=lambda x: (x.ts, x.eid))
        skew_s, act_s = timedelta(seconds=w.skew), timedelta(seconds=w.logon_to_action)
        for a in facts.actions:
            lgs = by_host.get(a.host, [])
            i = (
                bisect.bisect_right([x.ts for x in lgs], a.ts + skew_s)
                if len(lgs) < 64
                else bisect.bisect_right(lgs, a.ts + skew_s, key=lambda x: x.ts)
            )
            if i and a.ts - lgs[i - 1].ts <= act_s:
                self.actions[lgs[i - 1].eid].append(a)
        self.explicit = defaultdict(list)
        for x in facts.explicit:
            self.explicit[x.host].append(x)
        self.conns = defaultdict(list)
        for c in facts.conns:
            self.conns[c.host].append(c)
        self.skew = timedelta(seconds=w.skew)
        self.act_window = timedelta(seconds=w.logon_to_action)
        self.net_window = timedelta(seconds=w.net_to_logon)

    def source_of(self, lg: Logon) -> str:
        """The host a remote logon came from: by address, then workstation name, then the
        inbound connection on the target at the same moment (a logon without an address)."""
        if lg.src_ip and lg.src_ip in self.facts.ip_host:
            return self.facts.ip_host[lg.src_ip]
        if lg.src_ws and lg.src_ws in self.facts.hosts:
            return lg.src_ws
        if not lg.src_ip:
            window = self.opts.windows.net_to_logon
            near = [
                ip
                for ts, ip in self.inbound.get(lg.host, ())
                if abs((ts - lg.ts).total_seconds()) <= window
            ]
            for ip in near:
                if ip in self.facts.ip_host and self.facts.ip_host[ip] != lg.host:
                    return self.facts.ip_host[ip]
        return ""

    def _net_edge(self, ns: NetSession, why: str) -> Edge:
        src = self.facts.ip_host.get(ns.src_ip, ns.src_ip)
        dst = self.facts.ip_host.get(ns.dst_ip, ns.dst_ip)
        desc = f"{NET_PORT_NAME.get(ns.port, str(ns.port))} session (Zeek, {ns.count} connections)"
        return Edge(src, dst, ns.ts, NET_PORT_TECH.get(ns.port, TECH_SMB), "", (desc, why), (), "")

    def edges_into(self, dst: str, since: datetime, until: datetime) -> list[Edge]:
        """Remote sessions that ran code on ``dst`` in [since, until], from any source."""
        out = [
            self._net_edge(ns, f"first session into {dst} before its activity")
            for ns in self.net_into.get(dst, ())
            if since <= ns.ts <= until
        ]
        for lg in self.by_dst.get(dst, ()):
            if lg.ts < since or lg.ts > until:
                continue
            acct = lg.account
            if weak_account(acct) or self.opts.allowlist.user(acct):
                continue
            src = self.source_of(lg)
            if not src or src == dst or self.opts.allowlist.host(src):
                continue
            tech, acts, desc = self.technique(lg)
            if tech is None or (tech == TECH_SHARE and not acts):
                continue
            why = (desc, f"remote session into {dst} from {src}")
            out.append(Edge(src, dst, lg.ts, tech, acct, why, (lg.eid, *acts), lg.logon_id))
        return out

    def technique(self, lg: Logon) -> tuple[str | None, tuple[int, ...], str]:
        """Remote-execution technique of a logon, the events showing it, and a description."""
        if lg.logon_type == 10 or lg.event_id in (1149, 21, 25):
            return TECH_RDP, (), "RDP logon"
        acts = self.actions.get(lg.eid, [])
        for kind in ("psexec", "service", "wmi", "winrm"):
            hits = [a for a in acts if a.kind == kind]
            if hits:
                return _ACTION_TECH[kind], tuple(a.eid for a in hits[:3]), f"{kind} on target"
        if (
            lg.share
            and lg.share.rstrip("$").rsplit("\\", 1)[-1]
            and lg.share.endswith("$")
            and not lg.share.upper().endswith("IPC$")
        ):
            return TECH_SHARE, (), f"admin share {lg.share}"
        return None, (), ""

    def edges_from(self, src: str, since: datetime, until: datetime, walk: Walk) -> list[Edge]:
        """Qualified moves out of ``src`` in [since - skew, until]."""
        out = [
            self._net_edge(ns, f"first session from {src} after it was reached")
            for ns in self.net_from.get(src, ())
            if since - self.skew <= ns.ts <= until
        ]
        for lg in self.by_src.get(src, ()):
            if lg.ts < since - self.skew or lg.ts > until:
                continue
            acct = lg.account
            if (
                weak_account(acct)
                or self.opts.allowlist.user(acct)
                or self.opts.allowlist.host(lg.host)
            ):
                continue
            tech, acts, desc = self.technique(lg)
            if tech is None:
                continue
            why: list[str] = []
            events = [lg.eid, *acts]
            if acct in walk.accounts:
                why.append(f"account {acct} already used by the intruder")
            first = self.first_use.get((src, acct))
            if (
                first is not None
                and first >= since - self.skew
                and self.baseline_end
                and first >= self.baseline_end
            ):
                why.append(f"first use of {acct} from {src}")
            for x in self.explicit.get(src, ()):
                if (
                    abs((x.ts - lg.ts).total_seconds())
                    <= self.opts.windows.net_to_logon + self.opts.windows.skew
                    and x.account == acct
                ):
                    why.append(f"explicit credentials for {acct} on {src} (4648)")
                    events.append(x.eid)
                    break
            dst_ips = self.facts.host_ips.get(lg.host, set())
            for c in self.conns.get(src, ()):
                if c.dst_ip in dst_ips and abs(c.ts - lg.ts) <= self.net_window + self.skew:
                    events.append(c.eid)
                    if c.proc and c.proc in walk.procs.get(src, set()):
                        why.append(
                            f"connection from an intruder process ({c.image.rsplit(chr(92), 1)[-1]})"
                        )
                    break
            if not why:
                continue
            out.append(
                Edge(src, lg.host, lg.ts, tech, acct, (desc, *why), tuple(events), lg.logon_id)
            )
        return out


def walk(
    seed: str,
    t0: datetime,
    until: datetime,
    index: LateralIndex,
    accounts: set[str],
    procs: set[str],
    upstream: timedelta | None = None,
) -> Walk:
    """Every host reachable from ``seed`` by qualified moves, each at its earliest time."""
    w = Walk(root=seed)
    w.hosts[seed] = Reach(t0, None)
    w.accounts |= {a for a in accounts if not weak_account(a)}
    w.procs[seed] |= procs
    changed = True
    rounds = 0
    while changed and rounds < 20:
        changed = False
        rounds += 1
        for src in sorted(w.hosts, key=lambda h: (w.hosts[h].ts, h)):
            reach = w.hosts[src]
            for e in index.edges_from(src, reach.ts, until, w):
                cur = w.hosts.get(e.dst)
                if e.dst == w.root:
                    continue
                w.logon_ids[e.dst].add(e.logon_id)
                if e.account not in w.accounts:
                    w.accounts.add(e.account)
                    changed = True
                if cur is None or e.ts < cur.ts:
                    w.hosts[e.dst] = Reach(e.ts, e)
                    changed = True
        if upstream and _upstream(w, index, upstream):
            changed = True
    return w


def _upstream(w: Walk, index: LateralIndex, lookback: timedelta) -> bool:
    """Patient zero reached by a remote session that ran code on it, shortly before its first
    activity: the session's source joins the story upstream and becomes patient zero. The
    source needs no alert of its own (implants start in memory, logs start mid-intrusion)."""
    root = w.root
    reach = w.hosts[root]
    since = reach.ts - lookback
    edges = [
        e
        for e in index.edges_into(root, since, reach.ts + index.act_window)
        if e.src not in w.hosts
    ]
    if not edges:
        return False
    e = min(edges, key=lambda x: (x.ts, x.src))
    w.hosts[root] = Reach(reach.ts, e)
    w.hosts[e.src] = Reach(min(e.ts, reach.ts), None)
    w.root = e.src
    w.logon_ids[root].add(e.logon_id)
    if not weak_account(e.account):
        w.accounts.add(e.account)
    return True
