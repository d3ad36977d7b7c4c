"""Reads of the ``events`` table that correlation links on: hosts, addresses, logons, remote
actions, connections, attachment sightings and process trees.

Each read selects the few event ids and JSON fields it needs (a 1M-event case loads in
seconds) and returns frozen rows with the values as the logs give them; shaping them (short
host names, account names, weak addresses) is correlation's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from spearhunt.model.hosts import short_host_sql
from spearhunt.store.case import Case
from spearhunt.store.db import insert_rows


def field(name: str, alias: str = "e") -> str:
    """SQL for the text of an event field (``fields`` holds a flat JSON object)."""
    return f"json_extract_string({alias}.fields, '$.{name}')"


_f = field


@dataclass(frozen=True, slots=True)
class HostCount:
    """How many events a computer name has."""

    computer: str
    events: int


@dataclass(frozen=True, slots=True)
class AddressSighting:
    """An address seen with a host name, ``count`` times: ``own`` when the host is the event's
    computer (its own side of a Sysmon connection), else a name the event gives the address
    (a logon's workstation, a connection's destination name, a 4648's target server)."""

    name: str | None
    ip: str | None
    count: int
    own: bool


@dataclass(frozen=True, slots=True)
class LogonRow:
    """A remote logon or its trace (4624 type 3/10, admin share 5140/5145, RDP 1149/21/25)."""

    eid: int
    ts: datetime
    computer: str
    event_id: int
    account: str | None
    ip: str | None
    workstation: str
    logon_type: int | None
    logon_id: str
    share: str


@dataclass(frozen=True, slots=True)
class ExplicitRow:
    """A 4648: a process used another account's credentials against a server."""

    eid: int
    ts: datetime
    computer: str
    subject: str | None
    target: str | None
    server: str
    ip: str
    process: str


@dataclass(frozen=True, slots=True)
class ActionRow:
    """A service install (7045) or a process whose parent is the WMI, WinRM or PsExec host."""

    eid: int
    ts: datetime
    computer: str
    kind: str  # service, wmi, winrm, psexec
    detail: str | None


@dataclass(frozen=True, slots=True)
class ConnRow:
    """An outgoing Sysmon 3 connection to a remote-administration port."""

    eid: int
    ts: datetime
    computer: str
    process_guid: str
    image: str
    dst_ip: str | None
    dst_port: int | None


@dataclass(frozen=True, slots=True)
class OutboundRow:
    """Outgoing Sysmon 3 connections of one process (guid and image lower case) to one
    address: the destination name the events give, the first time and how many."""

    computer: str
    process_guid: str
    image: str
    ip: str
    name: str
    first_seen: datetime
    count: int


@dataclass(frozen=True, slots=True)
class InteractiveRow:
    """Local logons (4624 type 2/11) of one user on one computer."""

    computer: str
    user: str | None
    count: int


@dataclass(frozen=True, slots=True)
class SightingRow:
    """A file written (11/15) or a process started (1/4688) naming an attachment or its hash
    (path, image, guid lower case; hashes upper case)."""

    eid: int
    ts: datetime
    computer: str
    event_id: int
    path: str
    image: str
    user: str
    process_guid: str
    hashes: str


def host_counts(case: Case) -> list[HostCount]:
    """Events per computer name."""
    if not case.has("events"):
        return []
    rows = case.con.execute(
        "SELECT computer, count(*) FROM events WHERE computer IS NOT NULL GROUP BY 1"
    ).fetchall()
    return [HostCount(c, int(n)) for c, n in rows]


def address_sightings(case: Case) -> list[AddressSighting]:
    """Addresses with the host names events give them (for the address -> host map)."""
    if not case.has("events"):
        return []
    own = case.con.execute(f"""
        SELECT computer, {_f("SourceIp")}, count(*) FROM events e
        WHERE event_id = 3 AND lower({_f("Initiated")}) = 'true' GROUP BY ALL
        UNION ALL
        SELECT computer, {_f("DestinationIp")}, count(*) FROM events e
        WHERE event_id = 3 AND lower({_f("Initiated")}) = 'false' GROUP BY ALL""").fetchall()
    named = case.con.execute(f"""
        SELECT {_f("WorkstationName")}, {_f("IpAddress")}, count(*) FROM events e
        WHERE event_id = 4624 AND {_f("WorkstationName")} IS NOT NULL GROUP BY ALL""").fetchall()
    named += case.con.execute(f"""
        SELECT {_f("DestinationHostname")}, {_f("DestinationIp")}, count(*) FROM events e
        WHERE event_id = 3 AND {_f("DestinationHostname")} <> '' GROUP BY ALL
        UNION ALL
        SELECT {_f("TargetServerName")}, {_f("IpAddress")}, count(*) FROM events e
        WHERE event_id = 4648 GROUP BY ALL""").fetchall()
    return [AddressSighting(h, ip, int(n), True) for h, ip, n in own] + [
        AddressSighting(h, ip, int(n), False) for h, ip, n in named
    ]


def kerberos_computers(case: Case) -> list[str]:
    """Computers that logged Kerberos ticket events (4768/4769/4771): domain controllers."""
    if not case.has("events"):
        return []
    rows = case.con.execute(
        "SELECT DISTINCT computer FROM events WHERE event_id IN (4768, 4769, 4771)"
    ).fetchall()
    return [r[0] for r in rows]


def logons(case: Case) -> list[LogonRow]:
    """Remote logons and their traces, in time order."""
    if not case.has("events"):
        return []
    rows = case.con.execute(f"""
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
    return [LogonRow(int(r[0]), r[1], r[2], int(r[3]), *r[4:]) for r in rows]


def explicit_logons(case: Case) -> list[ExplicitRow]:
    """4648 events, in time order."""
    if not case.has("events"):
        return []
    rows = case.con.execute(f"""
        SELECT e.eid, e.ts, e.computer, {_f("SubjectUserName")}, {_f("TargetUserName")},
          coalesce({_f("TargetServerName")}, ''), coalesce({_f("IpAddress")}, ''), coalesce({_f("ProcessName")}, '')
        FROM events e WHERE e.event_id = 4648 AND e.ts IS NOT NULL ORDER BY e.ts, e.eid""").fetchall()
    return [ExplicitRow(int(r[0]), *r[1:]) for r in rows]


def remote_actions(case: Case) -> list[ActionRow]:
    """Service installs and processes started by remote-execution hosts, in time order."""
    if not case.has("events"):
        return []
    rows = case.con.execute(f"""
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
        UNION ALL
        SELECT e.eid, e.ts, e.computer, 'winrm', coalesce({_f("CommandLine")}, '')
        FROM events e WHERE e.event_id IN (1, 4688) AND e.ts IS NOT NULL
          AND lower(coalesce({_f("Image")}, {_f("NewProcessName")}, '')) LIKE '%\\wsmprovhost.exe'
        ORDER BY 2, 1""").fetchall()
    return [ActionRow(int(r[0]), *r[1:]) for r in rows]


def admin_connections(case: Case) -> list[ConnRow]:
    """Outgoing Sysmon connections to remote-administration ports, in time order."""
    if not case.has("events"):
        return []
    rows = case.con.execute(f"""
        SELECT e.eid, e.ts, e.computer, lower(coalesce({_f("ProcessGuid")}, '')),
          lower(coalesce({_f("Image")}, '')), {_f("DestinationIp")},
          TRY_CAST({_f("DestinationPort")} AS INTEGER)
        FROM events e WHERE e.event_id = 3 AND e.ts IS NOT NULL
          AND lower(coalesce({_f("Initiated")}, 'true')) = 'true'
          AND TRY_CAST({_f("DestinationPort")} AS INTEGER) IN (22, 135, 139, 445, 3389, 5985, 5986)
        ORDER BY e.ts, e.eid""").fetchall()
    return [ConnRow(int(r[0]), *r[1:]) for r in rows]


def process_destinations(case: Case, procs: list[tuple[str, str]]) -> list[OutboundRow]:
    """Outgoing Sysmon connections of the given (host key, ProcessGuid) processes, per
    (computer, process, destination address); the host key is the computer's first label,
    lower case. Asked for the few processes with alerts, not read for the whole case."""
    if not procs or not case.has("events"):
        return []
    con = case.con
    con.execute("CREATE OR REPLACE TEMP TABLE _procs (host VARCHAR, guid VARCHAR)")
    insert_rows(con, "_procs", [(h, g.lower()) for h, g in procs])
    rows = con.execute(f"""
        WITH c AS (
          SELECT e.computer, lower({_f("ProcessGuid")}) AS guid, {_f("Image")} AS image,
            {_f("DestinationIp")} AS ip, {_f("DestinationHostname")} AS name, e.ts
          FROM events e WHERE e.event_id = 3 AND e.ts IS NOT NULL
            AND lower(coalesce({_f("Initiated")}, 'true')) = 'true')
        SELECT c.computer, c.guid, lower(coalesce(any_value(c.image), '')), c.ip,
          coalesce(max(c.name), ''), min(c.ts), count(*)
        FROM c SEMI JOIN _procs p ON c.guid = p.guid AND {short_host_sql("c.computer")} = p.host
        WHERE c.ip IS NOT NULL
        GROUP BY c.computer, c.guid, c.ip ORDER BY 6, 1, 2, 4""").fetchall()
    return [OutboundRow(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6])) for r in rows]


def inbound_connections(case: Case) -> list[ConnRow]:
    """Incoming Sysmon connections to remote-administration ports, in time order; ``dst_ip``
    holds the remote (source) address, the side that names who connected in."""
    if not case.has("events"):
        return []
    rows = case.con.execute(f"""
        SELECT e.eid, e.ts, e.computer, '', lower(coalesce({_f("Image")}, '')), {_f("SourceIp")},
          TRY_CAST({_f("DestinationPort")} AS INTEGER)
        FROM events e WHERE e.event_id = 3 AND e.ts IS NOT NULL
          AND lower({_f("Initiated")}) = 'false'
          AND TRY_CAST({_f("DestinationPort")} AS INTEGER) IN (135, 139, 445, 3389, 5985, 5986)
        ORDER BY e.ts, e.eid""").fetchall()
    return [ConnRow(int(r[0]), *r[1:]) for r in rows]


def interactive_logons(case: Case) -> list[InteractiveRow]:
    """Local logons per computer and user."""
    if not case.has("events"):
        return []
    rows = case.con.execute(f"""
        SELECT e.computer, {_f("TargetUserName")}, count(*) FROM events e
        WHERE e.event_id = 4624 AND TRY_CAST({_f("LogonType")} AS INTEGER) IN (2, 11)
        GROUP BY ALL""").fetchall()
    return [InteractiveRow(c, u, int(n)) for c, u, n in rows]


def attachment_sightings(case: Case, names: list[str], hashes: list[str]) -> list[SightingRow]:
    """Files written (11/15) or processes started (1/4688) naming one of ``names`` or
    ``hashes``, in time order."""
    if (not names and not hashes) or not case.has("events"):
        return []
    con = case.con
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
    return [SightingRow(int(r[0]), r[1], r[2], int(r[3]), *r[4:]) for r in rows]


def process_tree(case: Case, computer: str, roots: list[str]) -> set[str]:
    """ProcessGuids descending from ``roots`` on one computer (ParentProcessGuid chains)."""
    if not roots or not case.has("events"):
        return set()
    con = case.con
    con.execute("CREATE OR REPLACE TEMP TABLE _roots (g VARCHAR)")
    con.executemany("INSERT INTO _roots VALUES (?)", [[g] for g in roots])
    rows = con.execute(
        f"""
        WITH RECURSIVE p AS (
          SELECT lower({_f("ProcessGuid")}) AS g, lower({_f("ParentProcessGuid")}) AS pg FROM events e
          WHERE e.event_id = 1 AND e.computer = ?),
        t(g) AS (SELECT g FROM _roots UNION SELECT p.g FROM p JOIN t ON p.pg = t.g)
        SELECT g FROM t""",
        [computer],
    ).fetchall()
    return {r[0] for r in rows if r[0]}


def event_fields(case: Case, eids: list[int]) -> dict[int, tuple[str | None, str, int, int]]:
    """eid -> (fields JSON text, channel, event id, record id) of the given events."""
    if not eids or not case.has("events"):
        return {}
    rows = case.con.execute(
        "SELECT eid, fields, channel, event_id, record_id FROM events "
        "WHERE eid IN (SELECT unnest(?))",
        [eids],
    ).fetchall()
    return {int(r[0]): (r[1], r[2] or "", r[3], r[4]) for r in rows}
