"""Read the case store into the facts correlation links: alerts, mails, logons, service
installs, remote-execution processes, network connections and the host/IP map.

Only SQL and row shaping lives here; the story logic never touches the database. Each
query selects the few event ids and JSON fields it needs, so a 1M-event case loads in
seconds.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import duckdb

from spearhunt.model.hosts import short_host


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
    """A Sysmon 3 connection from a host (internal destinations only, for lateral links)."""

    eid: int
    ts: datetime
    host: str
    proc: str
    image: str
    dst_ip: str
    dst_port: int


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
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
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


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }


def _f(name: str) -> str:
    return f"json_extract_string(e.fields, '$.{name}')"


def load(con: duckdb.DuckDBPyConnection) -> Facts:
    """Load every fact correlation needs from an open case store."""
    facts = Facts(tables=_tables(con))
    if "events" not in facts.tables:
        facts.mails = _mails(con) if "mail_messages" in facts.tables else []
        return facts
    names: dict[str, Counter[str]] = defaultdict(Counter)
    for computer, n in con.execute(
        "SELECT computer, count(*) FROM events WHERE computer IS NOT NULL GROUP BY 1"
    ).fetchall():
        key = short_host(computer)
        names[key][computer] += n
        facts.host_events[key] += n
    facts.hosts = {k: c.most_common(1)[0][0] for k, c in names.items()}
    _ip_map(con, facts)
    _dcs(con, facts)
    if "detections" in facts.tables:
        facts.alerts = _alerts(con)
    if "mail_messages" in facts.tables:
        facts.mails = _mails(con)
    _logons(con, facts)
    _actions(con, facts)
    _conns(con, facts)
    _interactive(con, facts)
    return facts


def _ip_map(con: duckdb.DuckDBPyConnection, facts: Facts) -> None:
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    rows = con.execute(f"""
        SELECT computer, {_f("SourceIp")}, count(*) FROM events e
        WHERE event_id = 3 AND lower({_f("Initiated")}) = 'true' GROUP BY ALL
        UNION ALL
        SELECT computer, {_f("DestinationIp")}, count(*) FROM events e
        WHERE event_id = 3 AND lower({_f("Initiated")}) = 'false' GROUP BY ALL""").fetchall()
    for computer, ip, n in rows:
        if ip and not weak_ip(ip):
            votes[ip][short_host(computer)] += n
    # a logon names its source workstation and address together
    rows = con.execute(f"""
        SELECT {_f("WorkstationName")}, {_f("IpAddress")}, count(*) FROM events e
        WHERE event_id = 4624 AND {_f("WorkstationName")} IS NOT NULL GROUP BY ALL""").fetchall()
    # a connection or explicit logon naming a host of ours by name, with its address
    rows += con.execute(f"""
        SELECT {_f("DestinationHostname")}, {_f("DestinationIp")}, count(*) FROM events e
        WHERE event_id = 3 AND {_f("DestinationHostname")} <> '' GROUP BY ALL
        UNION ALL
        SELECT {_f("TargetServerName")}, {_f("IpAddress")}, count(*) FROM events e
        WHERE event_id = 4648 GROUP BY ALL""").fetchall()
    for ws, ip, n in rows:
        key = short_host(ws)
        if ip and not weak_ip(ip) and key in facts.hosts:
            votes[ip][key] += n
    for ip, c in votes.items():
        host = c.most_common(1)[0][0]
        facts.ip_host[ip] = host
        facts.host_ips[host].add(ip)


def _dcs(con: duckdb.DuckDBPyConnection, facts: Facts) -> None:
    # Kerberos ticket events only happen on domain controllers.
    rows = con.execute(
        "SELECT DISTINCT computer FROM events WHERE event_id IN (4768, 4769, 4771)"
    ).fetchall()
    facts.dcs = {short_host(r[0]) for r in rows}


def _alerts(con: duckdb.DuckDBPyConnection) -> list[Alert]:
    rows = con.execute(f"""
        SELECT DISTINCT ON (d.eid, d.rule_id) d.eid, d.rule_id, d.rule_title, d.level, d.tactics,
          d.techniques, d.ts, d.computer,
          coalesce({_f("User")}, {_f("SubjectUserName")}, {_f("TargetUserName")}, {_f("AccountName")}),
          coalesce({_f("ProcessGuid")}, {_f("SourceProcessGUID")}), {_f("ParentProcessGuid")},
          coalesce({_f("LogonId")}, {_f("SubjectLogonId")}, {_f("TargetLogonId")}),
          coalesce({_f("Image")}, {_f("NewProcessName")}, {_f("SourceImage")}),
          concat_ws(' ', {_f("CommandLine")}, {_f("TargetFilename")}, {_f("DestinationHostname")},
                    {_f("DestinationIp")}, {_f("QueryName")}, {_f("ImagePath")})
        FROM detections d LEFT JOIN events e ON e.eid = d.eid
        ORDER BY d.eid, d.rule_id""").fetchall()
    out = []
    for r in rows:
        out.append(
            Alert(
                int(r[0]),
                r[1] or "",
                r[2] or "",
                r[3] or "informational",
                tuple(r[4] or ()),
                tuple(r[5] or ()),
                r[6],
                short_host(r[7]),
                account(r[8]),
                (r[9] or "").lower(),
                (r[10] or "").lower(),
                (r[11] or "").lower(),
                (r[12] or "").lower(),
                (r[13] or "")[:2000],
            )
        )
    return out


def _mails(con: duckdb.DuckDBPyConnection) -> list[Mail]:
    atts: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if "mail_attachments" in _tables(con):
        for mid, name, sha in con.execute(
            "SELECT message_id, name, sha256 FROM mail_attachments WHERE name IS NOT NULL"
        ).fetchall():
            atts[mid or ""].append((name, (sha or "").lower()))
    out = []
    for mid, subject, sender, recips, date, verdict, score in con.execute(
        "SELECT message_id, subject, sender, recipients, date, verdict, score FROM mail_messages "
        "WHERE verdict IN ('malicious', 'suspicious') ORDER BY message_id"
    ).fetchall():
        out.append(
            Mail(
                mid or "",
                subject or "",
                sender or "",
                tuple(recips or ()),
                _mail_date(date),
                verdict,
                int(score or 0),
                tuple(atts.get(mid or "", ())),
            )
        )
    return out


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


def _logons(con: duckdb.DuckDBPyConnection, facts: Facts) -> None:
    rows = con.execute(f"""
        SELECT e.eid, e.ts, e.computer, e.event_id,
          CASE WHEN e.event_id = 4624 THEN {_f("TargetUserName")}
               WHEN e.event_id IN (5140, 5145) THEN {_f("SubjectUserName")}
               WHEN e.event_id = 1149 THEN {_f("Param1")}
               ELSE coalesce({_f("User")}, {_f("TargetUserName")}) END,
          CASE WHEN e.event_id = 1149 THEN {_f("Param3")}
               WHEN e.event_id IN (21, 22, 25) THEN {_f("Address")}
               ELSE {_f("IpAddress")} END,
          coalesce({_f("WorkstationName")}, ''),
          TRY_CAST({_f("LogonType")} AS INTEGER),
          coalesce({_f("TargetLogonId")}, {_f("SubjectLogonId")}, ''),
          coalesce({_f("ShareName")}, '')
        FROM events e
        WHERE e.ts IS NOT NULL AND (
          (e.event_id = 4624 AND TRY_CAST({_f("LogonType")} AS INTEGER) IN (3, 10))
          OR (e.event_id IN (5140, 5145) AND regexp_matches(coalesce({_f("ShareName")}, ''), '(?i)\\\\(ADMIN|[A-Z])\\$$'))
          OR (e.event_id = 1149 AND e.channel ILIKE '%RemoteConnectionManager%')
          OR (e.event_id IN (21, 25) AND e.channel ILIKE '%LocalSessionManager%'))
        ORDER BY e.ts, e.eid""").fetchall()
    for eid, ts, computer, event_id, acct, ip, ws, ltype, lid, share in rows:
        ip = (ip or "").removeprefix("::ffff:")
        if event_id in (21, 25) and not ip:
            continue
        facts.logons.append(
            Logon(
                int(eid),
                ts,
                short_host(computer),
                int(event_id),
                account(acct),
                ip if not weak_ip(ip) else "",
                short_host(ws) if ws != "-" else "",
                int(ltype) if ltype is not None else (10 if event_id in (1149, 21, 25) else 3),
                (lid or "").lower(),
                share,
            )
        )
    rows = con.execute(f"""
        SELECT e.eid, e.ts, e.computer, {_f("SubjectUserName")}, {_f("TargetUserName")},
          coalesce({_f("TargetServerName")}, ''), coalesce({_f("IpAddress")}, ''), coalesce({_f("ProcessName")}, '')
        FROM events e WHERE e.event_id = 4648 AND e.ts IS NOT NULL ORDER BY e.ts, e.eid""").fetchall()
    for eid, ts, computer, subj, target, server, ip, proc in rows:
        facts.explicit.append(
            Explicit(
                int(eid),
                ts,
                short_host(computer),
                account(subj),
                account(target),
                short_host(server),
                ip,
                proc.lower(),
            )
        )


def _actions(con: duckdb.DuckDBPyConnection, facts: Facts) -> None:
    rows = con.execute(f"""
        SELECT e.eid, e.ts, e.computer, 'service', concat_ws(' ', {_f("ServiceName")}, {_f("ImagePath")})
        FROM events e WHERE e.event_id = 7045 AND e.ts IS NOT NULL
        UNION ALL
        SELECT e.eid, e.ts, e.computer,
          CASE WHEN lower(p) LIKE '%wmiprvse.exe' THEN 'wmi'
               WHEN lower(p) LIKE '%wsmprovhost.exe' THEN 'winrm' ELSE 'psexec' END,
          coalesce({_f("CommandLine")}, '')
        FROM (SELECT *, coalesce({_f("ParentImage")}, {_f("ParentProcessName")}, '') AS p FROM events e
              WHERE e.event_id IN (1, 4688)) e
        WHERE e.ts IS NOT NULL AND (lower(p) LIKE '%\\wmiprvse.exe' OR lower(p) LIKE '%\\wsmprovhost.exe'
                                    OR lower(p) LIKE '%\\psexesvc.exe')
        ORDER BY 2, 1""").fetchall()
    facts.actions = [
        HostAction(int(r[0]), r[1], short_host(r[2]), r[3], (r[4] or "")[:500]) for r in rows
    ]


def _conns(con: duckdb.DuckDBPyConnection, facts: Facts) -> None:
    rows = con.execute(f"""
        SELECT e.eid, e.ts, e.computer, lower(coalesce({_f("ProcessGuid")}, '')),
          lower(coalesce({_f("Image")}, '')), {_f("DestinationIp")},
          TRY_CAST({_f("DestinationPort")} AS INTEGER)
        FROM events e WHERE e.event_id = 3 AND e.ts IS NOT NULL
          AND lower(coalesce({_f("Initiated")}, 'true')) = 'true'
          AND TRY_CAST({_f("DestinationPort")} AS INTEGER) IN (22, 135, 139, 445, 3389, 5985, 5986)
        ORDER BY e.ts, e.eid""").fetchall()
    for eid, ts, computer, guid, image, ip, port in rows:
        if ip and internal_ip(ip):
            facts.conns.append(
                Conn(int(eid), ts, short_host(computer), guid, image, ip, int(port or 0))
            )


def _interactive(con: duckdb.DuckDBPyConnection, facts: Facts) -> None:
    rows = con.execute(f"""
        SELECT e.computer, {_f("TargetUserName")}, count(*) FROM events e
        WHERE e.event_id = 4624 AND TRY_CAST({_f("LogonType")} AS INTEGER) IN (2, 11)
        GROUP BY ALL""").fetchall()
    for computer, user, n in rows:
        acct = account(user)
        if not weak_account(acct):
            facts.interactive.setdefault(short_host(computer), Counter())[acct] += n


def attachment_sightings(
    con: duckdb.DuckDBPyConnection, names: list[str], hashes: list[str]
) -> list[FileSeen]:
    """Files written (11/15) or processes started (1/4688) naming an attachment or its hash."""
    if not names and not hashes:
        return []
    con.execute("CREATE OR REPLACE TEMP TABLE _att_names (n VARCHAR)")
    con.executemany("INSERT INTO _att_names VALUES (?)", [[n.lower()] for n in names if n])
    con.execute("CREATE OR REPLACE TEMP TABLE _att_hashes (h VARCHAR)")
    con.executemany("INSERT INTO _att_hashes VALUES (?)", [[h.upper()] for h in hashes if h])
    rows = con.execute(f"""
        WITH ev AS (
          SELECT e.eid, e.ts, e.computer, e.event_id,
            lower(coalesce({_f("TargetFilename")}, {_f("CommandLine")}, {_f("Image")}, '')) AS path,
            lower(coalesce({_f("Image")}, {_f("NewProcessName")}, '')) AS image,
            coalesce({_f("User")}, {_f("SubjectUserName")}, '') AS usr,
            lower(coalesce({_f("ProcessGuid")}, '')) AS guid,
            upper(coalesce({_f("Hashes")}, {_f("Hash")}, '')) AS hashes
          FROM events e WHERE e.event_id IN (1, 11, 15, 4688) AND e.ts IS NOT NULL)
        SELECT DISTINCT ev.* FROM ev, _att_names a WHERE contains(ev.path, a.n)
        UNION
        SELECT DISTINCT ev.* FROM ev, _att_hashes h WHERE ev.hashes <> '' AND contains(ev.hashes, h.h)
        ORDER BY 2, 1""").fetchall()
    out = []
    for eid, ts, computer, event_id, path, image, usr, guid, hsh in rows:
        out.append(
            FileSeen(
                int(eid),
                ts,
                short_host(computer),
                int(event_id),
                path,
                image,
                account(usr),
                guid,
                hsh,
            )
        )
    return out


def process_tree(con: duckdb.DuckDBPyConnection, host_name: str, roots: list[str]) -> set[str]:
    """ProcessGuids descending from ``roots`` on one host (ParentProcessGuid chains)."""
    if not roots:
        return set()
    con.execute("CREATE OR REPLACE TEMP TABLE _roots (g VARCHAR)")
    con.executemany("INSERT INTO _roots VALUES (?)", [[g] for g in roots])
    rows = con.execute(
        f"""
        WITH RECURSIVE p AS (
          SELECT lower({_f("ProcessGuid")}) AS g, lower({_f("ParentProcessGuid")}) AS pg FROM events e
          WHERE e.event_id = 1 AND e.computer = ?),
        t(g) AS (SELECT g FROM _roots UNION SELECT p.g FROM p JOIN t ON p.pg = t.g)
        SELECT g FROM t""",
        [host_name],
    ).fetchall()
    return {r[0] for r in rows if r[0]}
