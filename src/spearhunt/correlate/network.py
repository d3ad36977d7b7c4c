"""Network analytics for stories: beaconing scored like RITA, outbound volume per internal
host and destination (exfiltration candidates), DNS tunnelling, and the names behind IPs.

Inputs are the Zeek tables (net_conn/net_dns/net_http/net_ssl) when the case has them, and
Sysmon network (3) and DNS (22) events otherwise. Destinations the allow-list names, and
destinations that most hosts talk to, are never candidates.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from spearhunt.correlate.config import Allowlist, CorrelateOptions
from spearhunt.correlate.facts import Facts
from spearhunt.model.hosts import short_host
from spearhunt.model.story import Beacon
from spearhunt.store import network as net_store
from spearhunt.store.case import Case

MIN_BEACON_CONNS = 12
BEACON_THRESHOLD = 0.7
RARE_SHARE = 0.2  # a destination more than this share of hosts talk to is not rare


@lru_cache(maxsize=1)
def _extractor():  # type: ignore[no-untyped-def]
    import tldextract

    # the bundled public-suffix snapshot; never fetch a list from the network
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=65536)
def registered(domain: str) -> str:
    """``gfs1.userstorage.mega.co.nz`` -> ``mega.co.nz``."""
    ext = _extractor()(domain)
    return (
        ext.top_domain_under_public_suffix or domain
        if hasattr(ext, "top_domain_under_public_suffix")
        else (ext.registered_domain or domain)
    )


@dataclass(frozen=True, slots=True)
class Flow:
    """Outbound traffic from one internal host to one external address."""

    host: str
    ip: str
    domain: str | None
    bytes_out: int
    bytes_in: int
    conns: int
    first_seen: datetime
    last_seen: datetime
    hosts_on_dest: int  # internal hosts talking to this destination (prevalence)
    channel: str = "tcp"


@dataclass
class Network:
    """What the network analytics found over a case."""

    names: dict[str, str]  # external IP -> best domain name
    flows: list[Flow]
    beacons: list[Beacon]
    tunnels: list[Flow]
    host_count: int
    has_zeek: bool


@dataclass(frozen=True, slots=True)
class NetRows:
    """The network rows of a case, as the store reads them (plain values in tests)."""

    names: dict[str, str]  # external IP -> best domain name
    has_zeek: bool
    flows: tuple[net_store.FlowRow, ...]  # Zeek when has_zeek, else Sysmon
    queries: tuple[net_store.QueryRow, ...]  # long DNS queries, same source


def read_rows(case: Case) -> NetRows:
    """The network rows of an open case."""
    zeek = net_store.has_zeek(case)
    return NetRows(
        net_store.ip_names(case),
        zeek,
        tuple(net_store.zeek_flows(case) if zeek else net_store.sysmon_flows(case)),
        tuple(net_store.long_queries(case, zeek and case.has("net_dns"))),
    )


def analyse(
    rows_in: NetRows, facts: Facts, allow: Allowlist, opts: CorrelateOptions | None = None
) -> Network:
    """Flows, beacons and tunnels of a case."""
    opts = opts or CorrelateOptions()
    internal_ip, min_conns = opts.internal, opts.beacon_min_conns
    names = rows_in.names
    has_zeek = rows_in.has_zeek
    rows = [
        (
            f.source,
            f.dest or "",
            f.bytes_out,
            f.bytes_in,
            f.conns,
            f.first_seen,
            f.last_seen,
            list(f.times),
            list(f.sizes) if f.sizes is not None else None,
        )
        for f in rows_in.flows
    ]
    if has_zeek:
        src_host = {ip: facts.ip_host.get(ip, ip) for ip in {r[0] for r in rows}}
        all_hosts = {h for ip, h in src_host.items() if internal_ip(ip)}
    else:
        src_host = {r[0]: short_host(r[0]) for r in rows}
        all_hosts = set(facts.hosts) or set(src_host.values())
    host_count = max(1, len(all_hosts | set(facts.hosts)))

    ext = [
        r for r in rows if r[1] and not internal_ip(r[1]) and (not has_zeek or internal_ip(r[0]))
    ]
    dest_hosts: dict[str, set[str]] = defaultdict(set)
    for r in ext:
        key = registered(names[r[1]]) if r[1] in names else r[1]
        dest_hosts[key].add(src_host[r[0]])
    flows, beacons = [], []
    for orig, resp, out_b, in_b, n, first, last, times, sizes in ext:
        domain = names.get(resp)
        if allow.ip(resp) or allow.domain(domain) or allow.host(src_host[orig]):
            continue
        prevalence = len(dest_hosts[registered(domain) if domain else resp])
        flows.append(
            Flow(
                src_host[orig], resp, domain, int(out_b), int(in_b), int(n), first, last, prevalence
            )
        )
        if n >= min_conns and prevalence <= max(2, RARE_SHARE * host_count):
            b = beacon_score(src_host[orig], resp, domain, times, sizes, first, last, min_conns)
            if b and b.score >= BEACON_THRESHOLD:
                beacons.append(b)
    tunnels = _dns_tunnels(rows_in.queries, facts, allow, names, has_zeek, host_count)
    beacons.sort(key=lambda b: (-b.score, b.host, b.destination))
    return Network(names, flows, beacons, tunnels, host_count, has_zeek)


def _bowley(values: list[float]) -> float:
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return 0.0 if q3 == q1 else (q1 + q3 - 2 * q2) / (q3 - q1)


def _mad(values: list[float]) -> float:
    med = statistics.median(values)
    return statistics.median(abs(v - med) for v in values)


def beacon_score(
    host: str,
    ip: str,
    domain: str | None,
    times: list[float],
    sizes: list[int] | None,
    first: datetime,
    last: datetime,
    min_conns: int = MIN_BEACON_CONNS,
) -> Beacon | None:
    """RITA-style score: interval skew and dispersion, size skew and dispersion, how much of
    the observed period the connections span, and how many there are (each 0..1)."""
    deltas = [b - a for a, b in itertools.pairwise(times) if b - a > 0.5]
    if len(deltas) < min_conns - 1:
        return None
    med = statistics.median(deltas)
    if med <= 0:
        return None
    ts_skew = 1 - min(1.0, abs(_bowley(deltas)))
    ts_mad = 1 - min(1.0, _mad(deltas) / med)
    span = times[-1] - times[0]
    duration = min(1.0, span / (6 * 3600))  # a beacon lives for hours, a download for seconds
    count = min(1.0, len(times) / (span / med + 1)) if span > 0 else 0.0  # few gaps in the series
    parts = [
        ("interval_skew", ts_skew),
        ("interval_mad", ts_mad),
        ("duration", duration),
        ("connections", count),
    ]
    ts_score = (ts_skew + ts_mad + duration + count) / 4
    score = ts_score
    if sizes and any(sizes):
        ds_skew = 1 - min(1.0, abs(_bowley([float(s) for s in sizes])))
        smed = statistics.median(sizes)
        ds_mad = 1 - min(1.0, _mad([float(s) for s in sizes]) / smed) if smed > 0 else 0.0
        parts += [("size_skew", ds_skew), ("size_mad", ds_mad)]
        score = (ts_score + (ds_skew + ds_mad) / 2) / 2
    return Beacon(host, domain or ip, ip, score, len(times), med, first, last, tuple(parts))


def _dns_tunnels(
    queries: tuple[net_store.QueryRow, ...],
    facts: Facts,
    allow: Allowlist,
    names: dict[str, str],
    has_zeek: bool,
    host_count: int,
) -> list[Flow]:
    """Many long, distinct names below one rare domain from one host: data in DNS queries."""
    to_host = facts.ip_host if has_zeek and "net_dns" in facts.tables else {}
    rows = [(q.source, q.query, q.ts) for q in queries]
    groups: dict[tuple[str, str], list[tuple[str, datetime]]] = defaultdict(list)
    for src, query, ts in rows:
        q = query.lower().rstrip(".")
        groups[(to_host.get(src, short_host(src)), registered(q))].append((q, ts))
    users: dict[str, set[str]] = defaultdict(set)
    for host, dom in groups:
        users[dom].add(host)
    out = []
    for (host, dom), qs in groups.items():
        distinct = {q for q, _ in qs}
        if (
            len(distinct) < 30
            or allow.domain(dom)
            or len(users[dom]) > max(2, RARE_SHARE * host_count)
        ):
            continue
        labels = [q[: -len(dom)].rstrip(".") for q in distinct]
        if statistics.mean(len(label) for label in labels) < 20:
            continue
        times = [t for _, t in qs]
        zone = tunnel_zone(sorted(distinct), dom)
        ip = next((ip for ip, name in names.items() if name == zone), None)
        out.append(
            Flow(
                host,
                ip or "",
                zone,
                sum(len(lbl) for lbl in labels),
                0,
                len(qs),
                min(times),
                max(times),
                len(users[dom]),
                channel="dns",
            )
        )
    return out


def tunnel_zone(queries: list[str], base: str) -> str:
    """The zone a tunnel's names sit under: the labels all queries share above the registered
    domain, up to the first one that looks like a session token (has a digit)."""
    split = [q.split(".") for q in queries]
    common: list[str] = []
    for labels in zip(*(reversed(s) for s in split), strict=False):
        if len(set(labels)) != 1:
            break
        common.append(labels[0])
    zone = base.split(".")
    extra = common[len(zone) :]
    for label in extra:
        if any(ch.isdigit() for ch in label) or len(label) > 30:
            break
        zone = [label, *zone]
    return ".".join(zone)
