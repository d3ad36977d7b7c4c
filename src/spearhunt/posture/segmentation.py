"""Network segmentation: every flow between zones that no ``allow`` line permits, admin
protocols and the flows of a story's lateral movement or exfiltration first.

Without a zones file a default policy is built from host names and roles (workstations,
servers, the Internet) and said as such: no admin protocols between workstations, no direct
Internet from servers.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from spearhunt.model.networks import is_local_address
from spearhunt.model.posture import ControlResult, Finding, Flow, ZonePolicy, unknown
from spearhunt.model.story import Story
from spearhunt.posture.common import ADMIN_PORTS, MOVE_PORTS, merge, pct, plural

CONTROL = "segmentation"
WORKSTATION = re.compile(
    r"^(ws|wks|pc|desktop|laptop|lt|nb|client|vdi)[-_0-9]|^(desktop|laptop)-", re.I
)
SERVER = re.compile(
    r"^(dc|srv|sv|fs|file|sql|db|app|web|ex|exch|mail|bk|backup|sccm|wsus|ca|adfs|rds|jump|hv|esx)[-_0-9]",
    re.I,
)


ROLE_WORKSTATION = re.compile(r"(?i)workstation|desktop|laptop|client|kiosk|vdi")
ROLE_SERVER = re.compile(
    r"(?i)server|domain controller|\bdc\b|file|database|sql|backup|exchange|mail|web"
)


def default_zone(host: str | None, ip: str, role: str = "") -> str:
    """The default policy's zone of an address: internet for public addresses, else by the
    host's role in the assets file, else by its name (workstations, servers), else
    ``internal``."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return "internal"
    if not is_local_address(addr):
        return "internet"
    if ROLE_WORKSTATION.search(role):
        return "workstations"
    if ROLE_SERVER.search(role):
        return "servers"
    if host and WORKSTATION.match(host):
        return "workstations"
    if host and SERVER.match(host):
        return "servers"
    return "internal"


def _default_allows(src: str, dst: str, port: int | None) -> str | None:
    """Why the default policy allows a flow (None: it does not)."""
    admin = port in ADMIN_PORTS
    if src == dst == "workstations" and admin:
        return None
    if src == "servers" and dst == "internet":
        return None
    return "default policy"


@dataclass(slots=True)
class _Group:
    src_zone: str
    dst_zone: str
    port: int | None
    count: int = 0
    first: datetime | None = None
    pairs: set[tuple[str, str]] = field(default_factory=set)
    stories: list[str] = field(default_factory=list)
    story_steps: list[str] = field(default_factory=list)


def merge_sensors(flows: Sequence[Flow]) -> list[Flow]:
    """One flow per (source, destination, port): the same connections seen by Zeek, Sysmon 3
    and WFP 5156 count once (the largest count any sensor saw), with every sensor named."""
    merged: dict[tuple[str, str, int | None], Flow] = {}
    for f in flows:
        key = (f.src_ip, f.dst_ip, f.port)
        old = merged.get(key)
        if old is None:
            merged[key] = f
            continue
        merged[key] = replace(
            old,
            count=max(old.count, f.count),
            first_seen=min(filter(None, (old.first_seen, f.first_seen)), default=None),
            src_host=old.src_host or f.src_host,
            dst_host=old.dst_host or f.dst_host,
            seen_by=",".join(sorted(set(old.seen_by.split(",")) | {f.seen_by})),
        )
    return list(merged.values())


def assess(
    flows: Sequence[Flow],
    policy: ZonePolicy | None,
    stories: Sequence[Story],
    roles: Mapping[str, str] | None = None,
) -> ControlResult:
    """Judge segmentation over the case's flows against ``policy`` (None: the default one,
    from ``roles`` (host -> role, from the assets file) and host names)."""
    if not flows:
        return unknown(
            CONTROL,
            "the case holds no flows: add Zeek conn logs, Sysmon 3 or Windows Filtering "
            "Platform 5156 events (and --zones ZONES.yml for your policy)",
            ("zones file",) if policy else (),
        )
    flows = merge_sensors(flows)
    host_ip: dict[str, str] = {}
    for f in flows:
        if f.src_host and f.src_host not in host_ip:
            host_ip[f.src_host] = f.src_ip

    def zone(host: str | None, ip: str) -> str:
        if policy is not None:
            return policy.zone_of(ip) or "unzoned"
        return default_zone(host, ip, (roles or {}).get(host or "", ""))

    def allowed(src: str, dst: str, port: int | None) -> str | None:
        if policy is None:
            return (
                "same zone"
                if src == dst and port not in ADMIN_PORTS
                else _default_allows(src, dst, port)
            )
        rule = policy.allows(src, dst, port)
        if rule is None:
            return None
        if rule.src == rule.dst:
            return "same zone"
        ports = (
            "any port"
            if rule.ports is None
            else "ports " + ",".join(str(p) for p in sorted(rule.ports)[:8])
        )
        return f"allow {rule.src} -> {rule.dst} ({ports})"

    denied = "no allow line permits" if policy is not None else "the default policy forbids"
    groups: dict[tuple[str, str, int | None], _Group] = {}
    cross = 0
    for f in flows:
        sz, dz = zone(f.src_host, f.src_ip), zone(f.dst_host, f.dst_ip)
        if sz == dz and (policy is not None or f.port not in ADMIN_PORTS or sz != "workstations"):
            continue
        cross += f.count
        if allowed(sz, dz, f.port) is not None:
            continue
        g = groups.setdefault((sz, dz, f.port), _Group(sz, dz, f.port))
        g.count += f.count
        g.first = min(filter(None, (g.first, f.first_seen)), default=None)
        g.pairs.add((f.src_host or f.src_ip, f.dst_host or f.dst_ip))
    findings: list[Finding] = []
    # the story's own moves and exfiltration, judged whether or not the policy allowed them
    for s in stories:
        for h in s.hosts:
            if not h.reached_from or not h.via:
                continue
            proto, port = MOVE_PORTS.get(h.via, ("", None)) if h.via in MOVE_PORTS else ("", None)
            src_ip, dst_ip = host_ip.get(h.reached_from), host_ip.get(h.host)
            if port is None or not src_ip or not dst_ip:
                continue
            sz, dz = zone(h.reached_from, src_ip), zone(h.host, dst_ip)
            why = allowed(sz, dz, port)
            step = f"{h.reached_from} -> {h.host} over {proto} ({h.via})"
            used = groups.get((sz, dz, port))
            if why is None and used is not None:
                used.stories.append(s.id)
                used.story_steps.append(step)
            crossing = f"crossed from {sz} to {dz}" if sz != dz else f"stayed inside {sz}"
            findings.append(
                Finding(
                    "critical" if why is None else "medium",
                    f"the move {step} {crossing}, which "
                    + (
                        f"{denied}: the policy is not enforced"
                        if why is None
                        else f"the policy allows ({why})"
                    ),
                    host=h.host,
                    account=h.account,
                    evidence=(f"{h.reached_from} {src_ip} -> {h.host} {dst_ip}:{port}",),
                    stories=(s.id,),
                    kind="story_move_blocked" if why is None else "story_move_allowed",
                )
            )
        for x in s.exfiltration:
            src_ip = host_ip.get(x.host)
            if not src_ip or not x.ip:
                continue
            sz, dz = zone(x.host, src_ip), zone(None, x.ip)
            why = allowed(sz, dz, 443)
            findings.append(
                Finding(
                    "critical" if why is None else "medium",
                    f"exfiltration {x.host} -> {x.destination} went from {sz} to {dz}, which "
                    + (denied if why is None else f"the policy allows ({why})"),
                    host=x.host,
                    evidence=(f"{x.bytes:,} bytes to {x.ip}",),
                    stories=(s.id,),
                    kind="story_exfil_blocked" if why is None else "story_exfil_allowed",
                )
            )
    ordered = sorted(
        groups.values(), key=lambda g: (not g.stories, g.port not in ADMIN_PORTS, -g.count)
    )
    for g in ordered[:200]:
        name = ADMIN_PORTS.get(g.port or -1)
        sev = "critical" if g.stories else "high" if name else "medium"
        pairs = sorted(g.pairs)
        findings.append(
            Finding(
                sev,
                f"{g.src_zone} -> {g.dst_zone} on port {g.port if g.port is not None else '?'}"
                + (f" ({name})" if name else "")
                + f": {plural(g.count, 'connection')} that "
                + ("no allow line permits" if policy is not None else "the default policy forbids")
                + (f"; used by {', '.join(g.story_steps[:3])}" if g.story_steps else ""),
                host=pairs[0][0] if len(pairs) == 1 else None,
                evidence=tuple(f"{a} -> {b}" for a, b in pairs[:10])
                + ((f"first {g.first.isoformat(timespec='seconds')}Z",) if g.first else ()),
                stories=merge(g.stories),
                kind="flow_not_allowed",
            )
        )
    bad_admin = sum(1 for g in groups.values() if g.port in ADMIN_PORTS)
    story_allowed = [f for f in findings if f.kind in ("story_move_allowed", "story_exfil_allowed")]
    if bad_admin or any(f.severity == "critical" for f in findings):
        status = "fail"
    elif groups or story_allowed:
        status = "partial"
    else:
        status = "pass"
    bad_flows = sum(g.count for g in groups.values())
    # each admin protocol let through costs more than its share of the flows
    score = (
        pct(cross - bad_flows, cross)
        - 15 * bad_admin
        - 5 * (len(groups) - bad_admin)
        - 10 * len(story_allowed)
    )
    which = (
        f"zones file {Path(policy.source).name}"
        if policy is not None
        else "no zones file: a default policy from host "
        + ("roles and names" if roles else "names")
        + " (no admin protocols between workstations, no direct Internet from servers)"
    )
    summary = (
        f"{plural(cross, 'cross-zone connection')}, {bad_flows} not allowed in "
        f"{plural(len(groups), 'zone pair/port')} ({bad_admin} admin protocols); "
        f"{plural(len(story_allowed), 'story step')} the policy allowed; {which}"
    )
    figures = (
        ("flows", str(sum(f.count for f in flows))),
        ("cross_zone", str(cross)),
        ("not_allowed", str(bad_flows)),
        ("not_allowed_admin_groups", str(bad_admin)),
        ("policy", "file" if policy is not None else "default"),
    )
    inputs = ("case flows", "zones file" if policy is not None else "default policy (host names)")
    return ControlResult(CONTROL, status, max(0, score), summary, inputs, tuple(findings), figures)
