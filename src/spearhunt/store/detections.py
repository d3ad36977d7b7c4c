"""Reads of the ``detections`` table (with the events and rules they point at): alerts for
correlation, base matches for Sigma correlation rules, the report's aggregates and the
timeline's detection rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spearhunt.model.hosts import short_host_sql
from spearhunt.store.case import Case
from spearhunt.store.db import one
from spearhunt.store.events import field as _f

FETCH = 5000
# Sigma field names that are columns of a detection, not fields of its event
DETECTION_COLUMNS = {
    "computer": "computer",
    "hostname": "computer",
    "channel": "channel",
    "eventid": "event_id",
}


@dataclass(frozen=True, slots=True)
class AlertRow:
    """A detection with the event fields that link it (raw values, as the logs give them)."""

    eid: int
    rule_id: str | None
    title: str | None
    level: str | None
    tactics: tuple[str, ...]
    techniques: tuple[str, ...]
    ts: datetime | None
    computer: str | None
    user: str | None
    process_guid: str | None
    parent_guid: str | None
    logon_id: str | None
    image: str | None
    text: str | None  # command line, target file, destination, query, service image


@dataclass(frozen=True, slots=True)
class BaseMatch:
    """A detection of a rule a Sigma correlation rule references, with the values of the
    fields the correlation rules group or count by (``None`` when the event lacks one)."""

    eid: int
    rule_id: str
    ts: datetime
    computer: str | None
    values: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class DetectionCounts:
    """Totals over the detections (of some hosts)."""

    detections: int
    rules: int
    hosts: int
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class DetectionRow:
    """One detection for the timeline, with its rule file and its event's fields (JSON)."""

    ts: datetime | None
    computer: str | None
    level: str | None
    title: str | None
    rule_id: str | None
    rule_file: str | None
    tactics: tuple[str, ...]
    techniques: tuple[str, ...]
    channel: str | None
    event_id: int | None
    record_id: int | None
    source: str | None
    eid: int
    fields: str | None


def _alerts_of(case: Case) -> str:
    """The detections that are alerts, as a FROM item: all but those of helper rules (a Sigma
    correlation's ``generate: false`` base rules, stored for the correlation to read). One
    case, one count: the hunt, the report and its timelines all count these."""
    has_output = case.has("rules") and bool(
        one(
            case.con,
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'rules' AND column_name = 'output'",
        )[0]  # type: ignore[index]
    )
    if not has_output:
        return "detections"
    return (
        "(SELECT * FROM detections WHERE rule_id NOT IN "
        "(SELECT rule_id FROM rules WHERE output IS FALSE))"
    )


def alerts(case: Case) -> list[AlertRow]:
    """One row per (event, rule) detected, by event key then rule id."""
    if not case.has("detections"):
        return []
    join = "LEFT JOIN events e ON e.eid = d.eid" if case.has("events") else ""
    fields = (
        f"""coalesce({_f("User")}, {_f("SubjectUserName")}, {_f("TargetUserName")}, {_f("AccountName")}),
          coalesce({_f("ProcessGuid")}, {_f("SourceProcessGUID")}), {_f("ParentProcessGuid")},
          coalesce({_f("LogonId")}, {_f("SubjectLogonId")}, {_f("TargetLogonId")}),
          coalesce({_f("Image")}, {_f("NewProcessName")}, {_f("SourceImage")}),
          concat_ws(' ', {_f("CommandLine")}, {_f("TargetFilename")}, {_f("DestinationHostname")},
                    {_f("DestinationIp")}, {_f("QueryName")}, {_f("ImagePath")})"""
        if join
        else "NULL, NULL, NULL, NULL, NULL, NULL"
    )
    rows = case.con.execute(f"""
        SELECT DISTINCT ON (d.eid, d.rule_id) d.eid, d.rule_id, d.rule_title, d.level, d.tactics,
          d.techniques, d.ts, d.computer, {fields}
        FROM {_alerts_of(case)} d {join}
        ORDER BY d.eid, d.rule_id""").fetchall()
    return [
        AlertRow(int(r[0]), r[1], r[2], r[3], tuple(r[4] or ()), tuple(r[5] or ()), *r[6:])
        for r in rows
    ]


def base_matches(case: Case, rule_ids: Sequence[str], fields: Sequence[str]) -> list[BaseMatch]:
    """Timed detections of ``rule_ids`` with the values of ``fields`` (Sigma names), by event
    key then rule id."""
    if not rule_ids or not case.has("detections"):
        return []
    join = "LEFT JOIN events e ON e.eid = d.eid" if case.has("events") else ""
    cols = ", ".join(
        f"d.{DETECTION_COLUMNS[n.lower()]}::VARCHAR"
        if n.lower() in DETECTION_COLUMNS
        else (_f(n) if join else "NULL")
        for n in fields
    )
    con = case.con
    con.execute("CREATE OR REPLACE TEMP TABLE _base (rule_id VARCHAR)")
    con.executemany("INSERT INTO _base VALUES (?)", [[b] for b in rule_ids])
    rows = con.execute(f"""
        SELECT DISTINCT ON (d.eid, d.rule_id) d.eid, d.rule_id, d.ts, d.computer{", " + cols if cols else ""}
        FROM detections d JOIN _base b ON b.rule_id = d.rule_id {join}
        WHERE d.ts IS NOT NULL ORDER BY d.eid, d.rule_id""").fetchall()
    return [BaseMatch(int(r[0]), r[1], r[2], r[3], tuple(r[4:])) for r in rows]


def _host_where(hosts: set[str] | None) -> tuple[str, list[Any]]:
    if hosts is None:
        return "", []
    return f"WHERE {short_host_sql('computer')} IN (SELECT unnest(?))", [sorted(hosts)]


def counts(case: Case, hosts: set[str] | None = None) -> DetectionCounts:
    """Detections, distinct rules and hosts, first and last time (of ``hosts``, short names)."""
    if not case.has("detections"):
        return DetectionCounts(0, 0, 0, None, None)
    where, params = _host_where(hosts)
    row = one(
        case.con,
        "SELECT count(*), count(DISTINCT rule_id), count(DISTINCT lower(computer)), min(ts), "
        f"max(ts) FROM {_alerts_of(case)} {where}",
        params,
    )
    assert row is not None
    return DetectionCounts(int(row[0]), int(row[1]), int(row[2]), row[3], row[4])


def host_tactics(case: Case, hosts: set[str] | None = None) -> list[tuple[str, str, int]]:
    """(computer, tactic, detections) with ``other`` for rules without a tactic."""
    if not case.has("detections"):
        return []
    where, params = _host_where(hosts)
    rows = case.con.execute(
        "SELECT computer, tactic, count(*) FROM (SELECT computer, unnest(CASE WHEN "
        f"len(tactics) = 0 THEN ['other'] ELSE tactics END) AS tactic FROM {_alerts_of(case)} "
        f"{where}) "
        "GROUP BY ALL",
        params,
    ).fetchall()
    return [(h, t, int(n)) for h, t, n in rows]


def host_rules(case: Case, hosts: set[str] | None = None) -> list[tuple[str, str, str, int]]:
    """(computer, rule title, level, detections)."""
    if not case.has("detections"):
        return []
    where, params = _host_where(hosts)
    rows = case.con.execute(
        f"SELECT computer, rule_title, level, count(*) FROM {_alerts_of(case)} {where} "
        "GROUP BY ALL",
        params,
    ).fetchall()
    return [(h, t, lv, int(n)) for h, t, lv, n in rows]


def technique_uses(
    case: Case,
) -> list[tuple[str, tuple[str, ...], str, str, str, int, datetime | None]]:
    """(technique, tactics, level, rule title, computer, detections, first time)."""
    if not case.has("detections"):
        return []
    rows = case.con.execute(
        "SELECT technique, tactics, level, rule_title, computer, count(*), min(ts) FROM "
        f"(SELECT unnest(techniques) AS technique, * FROM {_alerts_of(case)}) GROUP BY ALL"
    ).fetchall()
    return [(t, tuple(tc or ()), lv, ti, h, int(n), f) for t, tc, lv, ti, h, n, f in rows]


def warning_count(case: Case) -> int:
    """Records and files skipped over all runs."""
    if not case.has("warnings"):
        return 0
    row = one(case.con, "SELECT count(*) FROM warnings")
    return int(row[0] or 0) if row else 0


def timeline(case: Case) -> Iterator[DetectionRow]:
    """Every detection in time order, with its rule file and event fields, streamed."""
    if not case.has("detections"):
        return
    fields = "e.fields" if case.has("events") else "NULL"
    join = "LEFT JOIN events e ON e.eid = d.eid" if case.has("events") else ""
    rule_file = "r.source" if case.has("rules") else "NULL"
    rjoin = (
        (
            "LEFT JOIN (SELECT rule_id, any_value(source) AS source FROM rules GROUP BY 1) r "
            "ON r.rule_id = d.rule_id"
        )
        if case.has("rules")
        else ""
    )
    cur = case.con.cursor()
    try:
        cur.execute(
            f"SELECT d.ts, d.computer, d.level, d.rule_title, d.rule_id, {rule_file}, d.tactics, "
            f"d.techniques, d.channel, d.event_id, d.record_id, d.source, d.eid, {fields} "
            f"FROM {_alerts_of(case)} d {join} {rjoin} ORDER BY d.ts NULLS LAST, d.eid"
        )
        while rows := cur.fetchmany(FETCH):
            for r in rows:
                yield DetectionRow(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    tuple(r[6] or ()),
                    tuple(r[7] or ()),
                    r[8],
                    r[9],
                    r[10],
                    r[11],
                    int(r[12]),
                    r[13],
                )
    finally:
        cur.close()


@dataclass(frozen=True, slots=True)
class TopDetection:
    """The first detection of one rule on one host, with how many there are of it."""

    ts: datetime | None
    computer: str | None
    level: str | None
    title: str | None
    rule_id: str | None
    tactics: tuple[str, ...]
    techniques: tuple[str, ...]
    eid: int
    count: int


_LEVEL_SQL = (
    "CASE lower(d.level) WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 "
    "WHEN 'low' THEN 1 ELSE 0 END"
)


def top_detections(case: Case, limit: int = 25) -> list[TopDetection]:
    """The worst detections, one per (rule, host): highest level, then most, then earliest."""
    if not case.has("detections"):
        return []
    rows = case.con.execute(
        f"""SELECT ts, computer, level, rule_title, rule_id, tactics, techniques, eid, n FROM (
              SELECT d.*, {_LEVEL_SQL} AS rank,
                count(*) OVER (PARTITION BY d.rule_id, d.computer) AS n,
                row_number() OVER (PARTITION BY d.rule_id, d.computer
                                   ORDER BY d.ts NULLS LAST, d.eid) AS rn
              FROM {_alerts_of(case)} d)
            WHERE rn = 1 ORDER BY rank DESC, n DESC, ts NULLS LAST, eid LIMIT ?""",
        [limit],
    ).fetchall()
    return [
        TopDetection(
            r[0], r[1], r[2], r[3], r[4], tuple(r[5] or ()), tuple(r[6] or ()), int(r[7]), int(r[8])
        )
        for r in rows
    ]


def rule_text(case: Case) -> str:
    """The titles and descriptions of the case's rules, lowercased in one text (to tell
    whether a rule names a value)."""
    if not case.has("rules"):
        return ""
    row = one(
        case.con,
        "SELECT string_agg(lower(concat_ws(' ', title, description)), ' ') FROM rules",
    )
    return str(row[0] or "") if row else ""
