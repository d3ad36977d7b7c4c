"""The facts correlation links: alerts, mails, logons, service installs, remote-execution
processes, network connections and the host/IP map.

Facts are made from the rows the store reads (``store.events``, ``store.detections``,
``store.mail``): :func:`load` reads them from a case, :func:`from_rows` shapes them (short
host names, account names, weak addresses) and works on plain values, so correlation is
tested without a database.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Protocol

from spearhunt.model.hosts import short_host
from spearhunt.model.networks import parse_address
from spearhunt.store import detections as det
from spearhunt.store import events as ev
from spearhunt.store import mail as mail_store
from spearhunt.store import network as net_store
from spearhunt.store.case import Case


@dataclass(frozen=True, slots=True)
class Alert:
    """A detection (or a Sigma correlation hit) with the fields that link it."""

    eid: int
    rule_id: str
    title: str
    level: str
    tactics: tuple[str, ...]
    techniques: tuple[str, ...]
    ts: datetime | None
    host: str
    user: str
    proc: str
    parent: str
    logon_id: str
    image: str
    text: str  # command line / target file / destination, for destinations and staging
    kind: str = "alert"
    hidden: bool = False  # a correlation base rule with generate: false
    members: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """Stable evidence reference."""
        return (
            f"alert:{self.eid}:{self.rule_id}"
            if self.kind == "alert"
            else f"corr:{self.rule_id}:{self.eid}"
        )


@dataclass(frozen=True, slots=True)
class Mail:
    """A stored mail verdict that may start a story."""

    message_id: str
    subject: str
    sender: str
    recipients: tuple[str, ...]
    date: datetime | None
    verdict: str
    score: int
    attachments: tuple[tuple[str, str], ...]  # (name, sha256)


@dataclass(frozen=True, slots=True)
class Logon:
    """A remote logon (or its trace) on ``host`` coming from ``src_ip``/``src_ws``."""

    eid: int
    ts: datetime
    host: str
    event_id: int
    account: str
    src_ip: str
    src_ws: str
    logon_type: int
    logon_id: str
    share: str = ""


@dataclass(frozen=True, slots=True)
class HostAction:
    """Something a remote session leaves on its target: a service install (7045) or a process
    started by the WMI, WinRM or PsExec service host."""

    eid: int
    ts: datetime
    host: str
    kind: str  # service, wmi, winrm, psexec
    detail: str


@dataclass(frozen=True, slots=True)
class Explicit:
    """A 4648 on the source: a process used another account's credentials against a server."""

    eid: int
    ts: datetime
    host: str
    user: str
    account: str
    server: str
    ip: str
    process: str


@dataclass(frozen=True, slots=True)
class Conn:
    """A Sysmon 3 connection from a host to a remote-administration port of an internal
    address (``--internal``): a candidate lateral link."""

    eid: int
    ts: datetime
    host: str
    proc: str
    image: str
    dst_ip: str
    dst_port: int


@dataclass(frozen=True, slots=True)
class Outbound:
    """Connections (Sysmon 3) of one process to one address: a destination when the process
    has an alert and the address is outside."""

    host: str
    proc: str
    image: str
    ip: str
    name: str
    first_seen: datetime
    count: int


@dataclass(frozen=True, slots=True)
class NetSession:
    """Zeek: the first connection from one address to another on a remote-access port."""

    ts: datetime
    src_ip: str
    dst_ip: str
    port: int
    count: int


@dataclass(frozen=True, slots=True)
class FileSeen:
    """A file written, or a process started, naming a mail attachment."""

    eid: int
    ts: datetime
    host: str
    event_id: int
    path: str
    image: str
    user: str
    proc: str
    sha256: str


@dataclass
class Facts:
    """Everything loaded from one case store."""

    hosts: dict[str, str] = field(default_factory=dict)  # short -> name as the logs give it
    host_events: Counter[str] = field(default_factory=Counter)
    ip_host: dict[str, str] = field(default_factory=dict)
    host_ips: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    dcs: set[str] = field(default_factory=set)
    alerts: list[Alert] = field(default_factory=list)
    mails: list[Mail] = field(default_factory=list)
    logons: list[Logon] = field(default_factory=list)
    actions: list[HostAction] = field(default_factory=list)
    explicit: list[Explicit] = field(default_factory=list)
    conns: list[Conn] = field(default_factory=list)
    inbound: list[Conn] = field(default_factory=list)  # dst_ip: the remote (source) address
    net_sessions: list[NetSession] = field(default_factory=list)
    files: list[FileSeen] = field(default_factory=list)
    interactive: dict[str, Counter[str]] = field(
        default_factory=dict
    )  # host -> users logged on locally
    tables: set[str] = field(default_factory=set)


WEAK_ACCOUNTS = {
    "",
    "-",
    "system",
    "local service",
    "network service",
    "anonymous logon",
    "localsystem",
    "dwm-1",
    "umfd-0",
    "umfd-1",
    "font driver host",
    "window manager",
}


def account(name: str | None) -> str:
    """``CORP\\Alice`` / ``alice@corp`` -> ``alice``."""
    if not name:
        return ""
    text = str(name).strip().lower()
    text = text.rsplit("\\", 1)[-1]
    return text.split("@", 1)[0]


def weak_account(name: str) -> bool:
    """Accounts that every host has: they link nothing."""
    return (
        name in WEAK_ACCOUNTS
        or name.endswith("$")
        or name.startswith("dwm-")
        or name.startswith("umfd-")
        or name.startswith("nt authority")
        or name.startswith("nt service")
    )


@lru_cache(maxsize=65536)
def internal_ip(addr: str) -> bool:
    """Private, loopback or link-local: an address of ours, not a destination on the Internet."""
    ip = parse_address(addr)
    if ip is None:
        return False
    return bool(ip.is_private and not _doc_net(ip)) or ip.is_loopback or ip.is_link_local


def _doc_net(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # Python counts the documentation ranges (TEST-NET) as private; logs and tests use them
    # for Internet addresses, so they are treated as external.
    return any(ip in n for n in _DOC_NETS)


_DOC_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


def weak_ip(addr: str) -> bool:
    """Loopback, unspecified or '-': no source at all."""
    if not addr or addr in ("-", "::", "0.0.0.0"):
        return True
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return True
    return ip.is_loopback or ip.is_unspecified or ip.is_link_local


@dataclass(frozen=True, slots=True)
class CaseRows:
    """The rows of a case that facts are made of, as the store reads them: build one from
    plain values to test correlation without a database."""

    tables: frozenset[str] = frozenset()
    hosts: tuple[ev.HostCount, ...] = ()
    addresses: tuple[ev.AddressSighting, ...] = ()
    kerberos: tuple[str, ...] = ()
    alerts: tuple[det.AlertRow, ...] = ()
    mails: tuple[mail_store.MailRow, ...] = ()
    attachments: tuple[mail_store.AttachmentRow, ...] = ()
    logons: tuple[ev.LogonRow, ...] = ()
    explicit: tuple[ev.ExplicitRow, ...] = ()
    actions: tuple[ev.ActionRow, ...] = ()
    conns: tuple[ev.ConnRow, ...] = ()
    interactive: tuple[ev.InteractiveRow, ...] = ()
    inbound: tuple[ev.ConnRow, ...] = ()
    sessions: tuple[net_store.SessionRow, ...] = ()  # Zeek, on remote-access ports


def read_rows(case: Case) -> CaseRows:
    """Every row facts are made of, from an open case."""
    tables = frozenset(case.tables)
    mails = (tuple(mail_store.suspicious(case)), tuple(mail_store.attachments(case)))
    sessions = tuple(net_store.remote_sessions(case))
    if "events" not in tables:
        return CaseRows(tables, mails=mails[0], attachments=mails[1], sessions=sessions)
    return CaseRows(
        tables,
        tuple(ev.host_counts(case)),
        tuple(ev.address_sightings(case)),
        tuple(ev.kerberos_computers(case)),
        tuple(det.alerts(case)),
        *mails,
        tuple(ev.logons(case)),
        tuple(ev.explicit_logons(case)),
        tuple(ev.remote_actions(case)),
        tuple(ev.admin_connections(case)),
        tuple(ev.interactive_logons(case)),
        tuple(ev.inbound_connections(case)),
        sessions,
    )


def load(case: Case, internal: Callable[[str], bool] | None = None) -> Facts:
    """Load every fact correlation needs from an open case (``from_rows``)."""
    return from_rows(read_rows(case), internal)


def from_rows(rows: CaseRows, internal: Callable[[str], bool] | None = None) -> Facts:
    """The facts of a case, from its rows. ``internal``: which addresses are the network's
    own (the case's ``--internal`` networks; default: private, loopback and link-local):
    a connection to any other address is no lateral move, whatever its port."""
    internal = internal or internal_ip
    facts = Facts(tables=set(rows.tables))
    facts.mails = _mails(rows.mails, rows.attachments)
    facts.net_sessions = [
        NetSession(r.first_seen, r.src_ip, r.dst_ip, r.port, r.count)
        for r in rows.sessions
        if r.src_ip != r.dst_ip and not weak_ip(r.src_ip) and not weak_ip(r.dst_ip)
    ]
    if "events" not in rows.tables:
        return facts
    names: dict[str, Counter[str]] = defaultdict(Counter)
    for h in rows.hosts:
        key = short_host(h.computer)
        names[key][h.computer] += h.events
        facts.host_events[key] += h.events
    facts.hosts = {k: c.most_common(1)[0][0] for k, c in names.items()}
    _ip_map(rows.addresses, facts)
    # Kerberos ticket events only happen on domain controllers.
    facts.dcs = {short_host(c) for c in rows.kerberos}
    facts.alerts = [_alert(r) for r in rows.alerts]
    _logons(rows.logons, rows.explicit, facts)
    facts.actions = [
        HostAction(r.eid, r.ts, short_host(r.computer), r.kind, (r.detail or "")[:500])
        for r in rows.actions
    ]
    facts.conns = [
        Conn(
            r.eid,
            r.ts,
            short_host(r.computer),
            r.process_guid,
            r.image,
            r.dst_ip,
            int(r.dst_port or 0),
        )
        for r in rows.conns
        if r.dst_ip and internal(r.dst_ip)
    ]
    # the target's side of remote sessions: who connected in (ConnRow.dst_ip is the remote end)
    for c in rows.inbound:
        ip = (c.dst_ip or "").removeprefix("::ffff:")
        if ip and not weak_ip(ip):
            facts.inbound.append(
                Conn(c.eid, c.ts, short_host(c.computer), "", c.image, ip, int(c.dst_port or 0))
            )
    for r in rows.interactive:
        acct = account(r.user)
        if not weak_account(acct):
            facts.interactive.setdefault(short_host(r.computer), Counter())[acct] += r.count
    return facts


def _ip_map(sightings: Sequence[ev.AddressSighting], facts: Facts) -> None:
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for s in sightings:
        if not s.own:
            continue
        if s.ip and not weak_ip(s.ip):
            votes[s.ip][short_host(s.name)] += s.count
    # a logon names its source workstation and address together; a connection or explicit
    # logon names a host of ours with its address
    for s in sightings:
        if s.own:
            continue
        key = short_host(s.name)
        if s.ip and not weak_ip(s.ip) and key in facts.hosts:
            votes[s.ip][key] += s.count
    for ip, c in votes.items():
        host = c.most_common(1)[0][0]
        facts.ip_host[ip] = host
        facts.host_ips[host].add(ip)


def _alert(r: det.AlertRow) -> Alert:
    return Alert(
        r.eid,
        r.rule_id or "",
        r.title or "",
        r.level or "informational",
        r.tactics,
        r.techniques,
        r.ts,
        short_host(r.computer),
        account(r.user),
        (r.process_guid or "").lower(),
        (r.parent_guid or "").lower(),
        (r.logon_id or "").lower(),
        (r.image or "").lower(),
        (r.text or "")[:2000],
    )


def _mails(
    rows: Sequence[mail_store.MailRow], attachments: Sequence[mail_store.AttachmentRow]
) -> list[Mail]:
    atts: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for a in attachments:
        atts[a.message_id or ""].append((a.name, (a.sha256 or "").lower()))
    return [
        Mail(
            m.message_id or "",
            m.subject or "",
            m.sender or "",
            m.recipients,
            _mail_date(m.date),
            m.verdict,
            int(m.score or 0),
            tuple(atts.get(m.message_id or "", ())),
        )
        for m in rows
    ]


def _mail_date(text: str | None) -> datetime | None:
    if not text:
        return None
    from email.utils import parsedate_to_datetime

    try:
        d = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            d = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if d.tzinfo:
        from datetime import UTC

        d = d.astimezone(UTC).replace(tzinfo=None)
    return d


def _logons(
    logons: Sequence[ev.LogonRow], explicit: Sequence[ev.ExplicitRow], facts: Facts
) -> None:
    for r in logons:
        ip = (r.ip or "").removeprefix("::ffff:")
        if r.event_id in (21, 25) and not ip:
            continue
        facts.logons.append(
            Logon(
                r.eid,
                r.ts,
                short_host(r.computer),
                r.event_id,
                account(r.account),
                ip if not weak_ip(ip) else "",
                short_host(r.workstation) if r.workstation != "-" else "",
                r.logon_type
                if r.logon_type is not None
                else (10 if r.event_id in (1149, 21, 25) else 3),
                (r.logon_id or "").lower(),
                r.share,
            )
        )
    for x in explicit:
        facts.explicit.append(
            Explicit(
                x.eid,
                x.ts,
                short_host(x.computer),
                account(x.subject),
                account(x.target),
                short_host(x.server),
                x.ip,
                x.process.lower(),
            )
        )


class EventLookup(Protocol):
    """The on-demand event reads the story builder makes (too many events to load them all)."""

    def attachment_sightings(self, names: list[str], hashes: list[str]) -> list[FileSeen]:
        """Files written or processes started naming an attachment or its hash."""
        ...

    def process_tree(self, host_name: str, roots: list[str]) -> set[str]:
        """ProcessGuids descending from ``roots`` on one host."""
        ...

    def process_destinations(self, procs: list[tuple[str, str]]) -> list[Outbound]:
        """Outgoing connections of these (host key, ProcessGuid) processes, per address."""
        ...


class CaseLookup:
    """:class:`EventLookup` over an open case."""

    def __init__(self, case: Case) -> None:
        self.case = case

    def attachment_sightings(self, names: list[str], hashes: list[str]) -> list[FileSeen]:
        """Files written (11/15) or processes started (1/4688) naming an attachment or its hash."""
        return [sighting(r) for r in ev.attachment_sightings(self.case, names, hashes)]

    def process_tree(self, host_name: str, roots: list[str]) -> set[str]:
        """ProcessGuids descending from ``roots`` on one host (ParentProcessGuid chains)."""
        return ev.process_tree(self.case, host_name, roots)

    def process_destinations(self, procs: list[tuple[str, str]]) -> list[Outbound]:
        """Outgoing Sysmon connections of these (host key, ProcessGuid) processes."""
        out = []
        for o in ev.process_destinations(self.case, procs):
            if not weak_ip(o.ip):
                host = short_host(o.computer)
                ip = o.ip.removeprefix("::ffff:")
                out.append(
                    Outbound(host, o.process_guid, o.image, ip, o.name, o.first_seen, o.count)
                )
        return out


def sighting(r: ev.SightingRow) -> FileSeen:
    """A file sighting from its stored row."""
    return FileSeen(
        r.eid,
        r.ts,
        short_host(r.computer),
        r.event_id,
        r.path,
        r.image,
        account(r.user),
        r.process_guid,
        r.hashes,
    )
