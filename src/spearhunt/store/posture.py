"""The case reads ``spearhunt posture`` needs, as plain values (``model.posture.CaseView``).

Only this module speaks SQL for posture: which hosts logged what, the flows between
addresses (Zeek conn, Sysmon 3, WFP 5156), remote logons, privileged accounts, log clearing and
sensor tampering, events touching the case's attachments, watched components running, the
triaged mail and the saved stories. The assessment in ``spearhunt.posture`` reads only these
values, so it is tested without DuckDB.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import orjson

from spearhunt.errors import StoreError
from spearhunt.model.hosts import short_host
from spearhunt.model.posture import (
    CaseMail,
    CaseView,
    Flow,
    HostEvent,
    HostSources,
    RemoteLogon,
)
from spearhunt.model.story import Story
from spearhunt.store import results
from spearhunt.store.case import Case, open_case
from spearhunt.store.db import one

log = logging.getLogger(__name__)
MAX_FLOW_ROWS = 500_000  # distinct (src, dst, port) triples read; more is a warning
MAX_OPENED = 5_000


def _f(name: str) -> str:
    return f"json_extract_string(e.fields, '$.{name}')"


def read_case(path: Path, watched_images: tuple[str, ...] = ()) -> CaseView:
    """Everything posture reads from the case at ``path``. ``watched_images`` are process image
    file names (lowercase, e.g. ``eqnedt32.exe``) whose starts are reported with their version."""
    with open_case(path) as case:
        try:
            return _read(case, watched_images)
        except duckdb.Error as exc:
            raise StoreError(f"cannot read case store: {exc}", where=str(path)) from exc


def _read(case: Case, watched: tuple[str, ...]) -> CaseView:
    con, tables = case.con, case.tables
    saved = results.latest(case)
    stories = tuple(short_hosts(s) for s in saved[0].stories) if saved else ()
    mails = _mails(con, tables) if "mail_messages" in tables else ()
    if "events" not in tables:
        flows = _zeek_flows(con, {}) if "net_conn" in tables else ()
        return CaseView(stories=stories, mails=mails, flows=tuple(flows))
    ip_host = _ip_map(con)
    flows = _event_flows(con, ip_host)
    if "net_conn" in tables:
        flows += _zeek_flows(con, ip_host)
    span = con.execute("SELECT min(ts), max(ts) FROM events").fetchone()
    fired: frozenset[str] = frozenset()
    if "detections" in tables:
        fired = frozenset(
            r[0]
            for r in con.execute("SELECT DISTINCT unnest(techniques) FROM detections").fetchall()
            if r[0]
        )
    return CaseView(
        stories=stories,
        mails=mails,
        flows=tuple(flows),
        logons=_logons(con),
        privileged=_privileged(con),
        hosts=_host_sources(con),
        tamper=_tamper(con),
        opened=_opened(con, mails),
        running=_running(con, watched),
        fired_techniques=fired,
        first=span[0] if span else None,
        last=span[1] if span else None,
    )


def short_hosts(story: Story) -> Story:
    """The story with every host as its short key, as posture's other inputs name hosts."""
    return replace(
        story,
        patient_zero=replace(story.patient_zero, host=short_host(story.patient_zero.host)),
        hosts=tuple(
            replace(h, host=short_host(h.host), reached_from=short_host(h.reached_from) or None)
            for h in story.hosts
        ),
        exfiltration=tuple(replace(x, host=short_host(x.host)) for x in story.exfiltration),
        beacons=tuple(replace(b, host=short_host(b.host)) for b in story.beacons),
    )


def _mails(con: duckdb.DuckDBPyConnection, tables: set[str]) -> tuple[CaseMail, ...]:
    atts: dict[str, list[tuple[str, str]]] = defaultdict(list)
    urls: dict[str, list[str]] = defaultdict(list)
    if "mail_attachments" in tables:
        for mid, name, sha in con.execute(
            "SELECT message_id, name, sha256 FROM mail_attachments WHERE parent IS NULL"
        ).fetchall():
            atts[mid or ""].append((name or "", sha or ""))
    if "mail_iocs" in tables:
        for mid, value in con.execute(
            "SELECT message_id, value FROM mail_iocs WHERE kind = 'url'"
        ).fetchall():
            urls[mid or ""].append(value or "")
    out = []
    for mid, subject, sender, recipients, date, verdict in con.execute(
        "SELECT message_id, subject, sender, recipients, date, verdict FROM mail_messages"
    ).fetchall():
        out.append(
            CaseMail(
                message_id=mid or "",
                subject=subject or "",
                sender=(sender or "").lower(),
                recipients=tuple(r.lower() for r in recipients or ()),
                verdict=verdict or "",
                received=_date(date),
                attachments=tuple(atts.get(mid or "", ())),
                urls=tuple(urls.get(mid or "", ())[:50]),
            )
        )
    return tuple(out)


def _date(text: str | None) -> Any:
    from email.utils import parsedate_to_datetime

    if not text:
        return None
    try:
        ts = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if ts.tzinfo is not None:
        from datetime import UTC

        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts


def _ip_map(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Address -> host, from the hosts' own outbound connection events."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    rows = con.execute(f"""
        SELECT computer, {_f("SourceIp")}, count(*) FROM events e
        WHERE event_id = 3 AND lower({_f("Initiated")}) = 'true' GROUP BY ALL
        UNION ALL
        SELECT computer, {_f("SourceAddress")}, count(*) FROM events e
        WHERE event_id = 5156 AND {_f("Direction")} IN ('%%14593', 'Outbound') GROUP BY ALL""").fetchall()
    for computer, ip, n in rows:
        if ip and not ip.startswith(("127.", "::1", "0.", "169.254.")) and ip != "::":
            votes[ip.removeprefix("::ffff:")][short_host(computer)] += n
    return {ip: c.most_common(1)[0][0] for ip, c in votes.items()}


def _event_flows(con: duckdb.DuckDBPyConnection, ip_host: dict[str, str]) -> list[Flow]:
    rows = con.execute(f"""
        SELECT 'sysmon', {_f("SourceIp")}, {_f("DestinationIp")},
               TRY_CAST({_f("DestinationPort")} AS INTEGER), lower(coalesce({_f("Protocol")}, 'tcp')),
               count(*), min(ts), any_value(computer)
        FROM events e WHERE event_id = 3 AND channel ILIKE '%sysmon%'
          AND lower(coalesce({_f("Initiated")}, 'true')) = 'true' GROUP BY ALL
        UNION ALL
        SELECT 'wfp', {_f("SourceAddress")}, {_f("DestAddress")},
               TRY_CAST({_f("DestPort")} AS INTEGER),
               CASE {_f("Protocol")} WHEN '6' THEN 'tcp' WHEN '17' THEN 'udp' ELSE 'other' END,
               count(*), min(ts), any_value(computer)
        FROM events e WHERE event_id = 5156 AND channel = 'Security'
          AND {_f("Direction")} IN ('%%14593', 'Outbound') GROUP BY ALL
        LIMIT {MAX_FLOW_ROWS}""").fetchall()
    out = []
    for seen, src, dst, port, proto, n, first, computer in rows:
        if not src or not dst:
            continue
        src, dst = src.removeprefix("::ffff:"), dst.removeprefix("::ffff:")
        out.append(
            Flow(src, dst, port, proto, int(n), first, short_host(computer), ip_host.get(dst), seen)
        )
    return out


def _zeek_flows(con: duckdb.DuckDBPyConnection, ip_host: dict[str, str]) -> list[Flow]:
    rows = con.execute(f"""
        SELECT orig_h, resp_h, resp_p, proto, count(*), min(ts) FROM net_conn
        WHERE orig_h IS NOT NULL AND resp_h IS NOT NULL GROUP BY ALL LIMIT {MAX_FLOW_ROWS}""").fetchall()
    return [
        Flow(src, dst, port, proto or "", int(n), first, ip_host.get(src), ip_host.get(dst), "zeek")
        for src, dst, port, proto, n, first in rows
    ]


def _logons(con: duckdb.DuckDBPyConnection) -> tuple[RemoteLogon, ...]:
    rows = con.execute(f"""
        SELECT ts, computer, event_id, {_f("TargetUserName")}, {_f("IpAddress")},
               TRY_CAST({_f("LogonType")} AS INTEGER)
        FROM events e
        WHERE channel = 'Security' AND (
          (event_id = 4624 AND TRY_CAST({_f("LogonType")} AS INTEGER) = 10) OR event_id = 4648)
        ORDER BY ts LIMIT 200000""").fetchall()
    out = []
    for ts, computer, event_id, user, ip, ltype in rows:
        if not user or user.endswith("$") or user in ("-", "ANONYMOUS LOGON"):
            continue
        kind = "explicit" if event_id == 4648 else ("rdp" if ltype == 10 else "network")
        ip = (ip or "").removeprefix("::ffff:")
        out.append(
            RemoteLogon(
                ts,
                short_host(computer),
                user.lower(),
                kind,
                ip if ip not in ("", "-", "::1") else None,
            )
        )
    return tuple(out)


def _privileged(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    rows = con.execute(f"""
        SELECT DISTINCT lower({_f("SubjectUserName")}) FROM events e
        WHERE event_id = 4672 AND channel = 'Security'""").fetchall()
    skip = ("system", "local service", "network service", "-")
    return frozenset(r[0] for r in rows if r[0] and not r[0].endswith("$") and r[0] not in skip)


def _host_sources(con: duckdb.DuckDBPyConnection) -> tuple[HostSources, ...]:
    by_host: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for computer, channel, event_id, n in con.execute(
        "SELECT computer, channel, event_id, count(*) FROM events WHERE computer IS NOT NULL GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        by_host[short_host(computer)].append((channel or "", int(event_id or 0), int(n)))
    hours: dict[str, list[Any]] = defaultdict(list)
    for computer, hour in con.execute(
        "SELECT DISTINCT computer, date_trunc('hour', ts) FROM events WHERE ts IS NOT NULL AND computer IS NOT NULL ORDER BY 1, 2"
    ).fetchall():
        hours[short_host(computer)].append(hour)
    cmd: dict[str, int] = {}
    for computer, n in con.execute(f"""
        SELECT computer, count(*) FROM events e WHERE event_id = 4688 AND channel = 'Security'
          AND coalesce({_f("CommandLine")}, '') <> '' GROUP BY ALL""").fetchall():
        cmd[short_host(computer)] = cmd.get(short_host(computer), 0) + int(n)
    return tuple(
        HostSources(host, tuple(chs), tuple(hours.get(host, ())), cmd.get(host, 0))
        for host, chs in sorted(by_host.items())
    )


def _tamper(con: duckdb.DuckDBPyConnection) -> tuple[HostEvent, ...]:
    """Log clearing (Security 1102, System 104), Sysmon state/config changes (4, 16), service
    stops of Sysmon or Defender (7036/7040), Defender protection turned off (5001, 5010, 5012,
    5007)."""
    rows = con.execute(f"""
        SELECT ts, computer, channel, event_id,
          concat_ws(' ', {_f("State")}, {_f("Configuration")}, {_f("param1")}, {_f("param2")},
                    {_f("Channel")}, {_f("SubjectUserName")}, {_f("Old Value")}, {_f("New Value")}),
          coalesce({_f("SubjectUserName")}, {_f("User")}, '')
        FROM events e WHERE
          (event_id = 1102 AND channel = 'Security')
          OR (event_id = 104 AND channel = 'System')
          OR (event_id IN (4, 16) AND channel ILIKE '%sysmon%')
          OR (event_id IN (7036, 7040) AND channel = 'System'
              AND regexp_matches(coalesce({_f("param1")}, ''), '(?i)sysmon|defender|windefend'))
          OR (event_id IN (5001, 5010, 5012, 5007) AND channel ILIKE '%defender%')
        ORDER BY ts LIMIT 10000""").fetchall()
    return tuple(
        HostEvent(ts, short_host(c), ch or "", int(eid), (d or "")[:300], "", u or "")
        for ts, c, ch, eid, d, u in rows
    )


def _opened(con: duckdb.DuckDBPyConnection, mails: tuple[CaseMail, ...]) -> tuple[HostEvent, ...]:
    """Events naming an attachment of a suspicious or malicious mail: the lure written or opened."""
    names = sorted(
        {
            n
            for m in mails
            if m.verdict in ("malicious", "suspicious")
            for n, _ in m.attachments
            if len(n) >= 5
        }
    )[:200]
    if not names:
        return ()
    con.execute("CREATE OR REPLACE TEMP TABLE _lure_names (name VARCHAR)")
    con.executemany("INSERT INTO _lure_names VALUES (?)", [[n.lower()] for n in names])
    rows = con.execute(f"""
        SELECT e.ts, e.computer, e.channel, e.event_id, n.name,
               coalesce({_f("User")}, {_f("SubjectUserName")}, '')
        FROM events e JOIN _lure_names n
          ON contains(lower(concat_ws(' ', {_f("TargetFilename")}, {_f("CommandLine")}, {_f("Image")})), n.name)
        WHERE e.event_id IN (1, 11, 15, 4688, 4663)
        ORDER BY e.ts LIMIT {MAX_OPENED}""").fetchall()
    return tuple(
        HostEvent(ts, short_host(c), ch or "", int(eid), name, "", (u or "").lower())
        for ts, c, ch, eid, name, u in rows
    )


def _running(con: duckdb.DuckDBPyConnection, watched: tuple[str, ...]) -> tuple[HostEvent, ...]:
    if not watched:
        return ()
    images = [w.lower() for w in watched]
    rows = con.execute(
        f"""
        SELECT e.ts, e.computer, e.channel, e.event_id, coalesce({_f("Image")}, {_f("NewProcessName")}),
               coalesce({_f("FileVersion")}, ''), coalesce({_f("User")}, {_f("SubjectUserName")}, '')
        FROM events e WHERE e.event_id IN (1, 4688)
          AND list_contains(?, lower(regexp_extract(coalesce({_f("Image")}, {_f("NewProcessName")}, ''), '[^\\\\/]+$')))
        ORDER BY e.ts LIMIT 10000""",
        [images],
    ).fetchall()
    return tuple(
        HostEvent(ts, short_host(c), ch or "", int(eid), img or "", ver or "", (u or "").lower())
        for ts, c, ch, eid, img, ver, u in rows
    )


def save_result(path: Path, doc: dict[str, Any]) -> None:
    """Keep a posture result in the case (table ``posture_results``), for ``spearhunt report``."""
    with open_case(path, write=True) as case:
        try:
            case.con.execute(
                "INSERT INTO posture_results VALUES (?, ?, ?)",
                [
                    dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    doc.get("version", ""),
                    orjson.dumps(doc).decode(),
                ],
            )
            case.checkpoint()
        except duckdb.Error as exc:
            raise StoreError(f"cannot save the posture result: {exc}", where=str(path)) from exc


def saved_result(case: Case) -> dict[str, Any] | None:
    """The latest posture document saved in an open case, if any."""
    if not case.has("posture_results"):
        return None
    row = one(case.con, "SELECT doc FROM posture_results ORDER BY created DESC LIMIT 1")
    doc = orjson.loads(row[0]) if row else None
    return doc if isinstance(doc, dict) else None
