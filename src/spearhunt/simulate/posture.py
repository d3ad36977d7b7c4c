"""What ``spearhunt posture`` reads, consistent with the simulated intrusion: Entra ID sign-in
logs (Graph ``auditLogs/signIns`` JSON) with the intruder's single-factor sign-in from the C2
address, an osquery results log with an outdated Office build on patient zero, a CVE JSON 5
record and a one-entry KEV catalog for it, a zones file, an Exchange Online message trace of
the lure's other recipients (one reports it, patient zero never does), and the hosts left
without Sysmon. ``posture_truth`` names the findings posture must make.

Builds, version ranges and the CVE record's ranges are synthetic (real Microsoft records name
update pages, not numeric ranges); field names and layouts are the vendors'.
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from pathlib import Path
from typing import Any

import orjson

from spearhunt.simulate.clock import HOUR, MINUTE, US
from spearhunt.simulate.context import Sim
from spearhunt.simulate.plan import Campaign
from spearhunt.simulate.world import MAIL_DOMAIN, Host, User

CVE = "CVE-2023-23397"
OFFICE = "Microsoft Office Professional Plus 2019 - en-us"
OFFICE_OLD = "16.0.10394.20022"
OFFICE_NEW = "16.0.10412.20006"
OFFICE_FIXED = "16.0.10396.20023"  # first build outside the (synthetic) affected range
REPORT_BOX = f"phishing@{MAIL_DOMAIN}"
ZONES = {"workstations": "10.10.20.0/24", "servers": "10.10.1.0/24", "internet": "0.0.0.0/0"}
# The firewall policy of the zones file: (from, to) -> ports allowed.
ALLOW = {
    ("workstations", "servers"): (53, 88, 135, 389, 445, 443, 3268),
    ("servers", "internet"): (443,),
    ("workstations", "internet"): (53, 80, 443),
    ("servers", "workstations"): (53, 88, 135, 389, 445),
}
MOVE_PORT = {"psexec": 445, "wmi": 135, "rdp": 3389}
PROGRAMS = (
    ("Google Chrome", "Google LLC", "122.0.6261.112"),
    ("7-Zip 23.01 (x64)", "Igor Pavlov", "23.01"),
    ("Adobe Acrobat Reader (64-bit)", "Adobe", "24.001.20643"),
    ("Microsoft Teams classic", "Microsoft Corporation", "1.7.00.3653"),
)
KEV_ENTRY = {
    "cveID": CVE,
    "vendorProject": "Microsoft",
    "product": "Office",
    "vulnerabilityName": "Microsoft Office Outlook Privilege Escalation Vulnerability",
    "dateAdded": "2023-03-14",
    "shortDescription": "Microsoft Office Outlook contains a privilege escalation vulnerability "
    "that allows for a NTLM Relay attack against another service to authenticate as the user.",
    "requiredAction": "Apply updates per vendor instructions.",
    "dueDate": "2023-04-04",
    "knownRansomwareCampaignUse": "Unknown",
    "notes": "",
    "cwes": ["CWE-294"],
}


def no_sysmon_hosts(sim: Sim, c: Campaign) -> tuple[str, ...]:
    """Workstations the intrusion never touches that run without Sysmon (one per ten hosts)."""
    busy = {c.victim_host.name, c.staging_host.name, *(h.host for h in c.hops)}
    admin_ws = sim.world.workstation_of(c.admin)
    if admin_ws is not None:
        busy.add(admin_ws.name)
    quiet = [h.name for h in sim.workstations if h.name not in busy]
    rng = random.Random(f"{sim.cfg.seed}:posture:sysmon")
    return tuple(sorted(rng.sample(quiet, min(len(quiet), max(1, len(sim.world.hosts) // 10)))))


def write_posture(sim: Sim, c: Campaign, out: Path, no_sysmon: tuple[str, ...]) -> dict[str, Any]:
    """Write the posture inputs into ``out`` and return the truth's ``posture`` section."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{sim.cfg.seed}:posture")
    others = _other_recipients(sim, c, rng)
    reporter = others[0] if others else None
    signins, intruder = _signins(sim, c, rng)
    (out / "signins.json").write_bytes(orjson.dumps({"value": signins}, option=orjson.OPT_INDENT_2))
    (out / "inventory.jsonl").write_bytes(_inventory(sim, c))
    (out / "kev.json").write_bytes(
        orjson.dumps(
            {
                "title": "CISA Catalog of Known Exploited Vulnerabilities (simulation excerpt)",
                "catalogVersion": "2025.08.25",
                "dateReleased": "2025-08-25T16:00:00.000Z",
                "count": 1,
                "vulnerabilities": [KEV_ENTRY],
            },
            option=orjson.OPT_INDENT_2,
        )
    )
    (out / "cve").mkdir(exist_ok=True)
    (out / "cve" / f"{CVE}.json").write_bytes(
        orjson.dumps(_cve_record(), option=orjson.OPT_INDENT_2)
    )
    (out / "zones.yml").write_text(_zones_yaml(), encoding="utf-8")
    trace, reported_at = _trace(sim, c, others, reporter, rng)
    (out / "message-trace.csv").write_text(trace, encoding="utf-8-sig")
    lure = c.lure
    return {
        "inputs": {
            "signins": "posture/signins.json",
            "inventory": "posture/inventory.jsonl",
            "kev": "posture/kev.json",
            "vulns": "posture/cve",
            "zones": "posture/zones.yml",
            "message_trace": "posture/message-trace.csv",
        },
        "no_sysmon": list(no_sysmon),
        "findings": {
            "phishing_reporting": {
                "recipients": sorted([c.victim.email, *(u.email for u in others)]),
                "reporters": [reporter.email] if reporter else [],
                "reported_at": sim.clock.iso(reported_at) if reported_at else None,
                "opened_not_reported": {"account": c.victim.email, "host": c.victim_host.name},
                "subject": lure.subject,
            },
            "mfa": {
                "story_signin": {"account": c.victim.email, "ip": c.c2_ip, "time": intruder},
                "remote_logon_no_mfa": {"account": c.admin.admin_sam},
                "legacy_protocol": {"account": _legacy_user(sim).email},
            },
            "segmentation": {
                "moves": [
                    {
                        "from": h.from_host,
                        "to": h.host,
                        "port": MOVE_PORT[h.technique],
                        "kind": _move_kind(sim, h.from_host, h.host, MOVE_PORT[h.technique]),
                    }
                    for h in c.hops
                ],
            },
            "patching": {
                "host": c.victim_host.name,
                "product": OFFICE,
                "version": OFFICE_OLD,
                "cve": CVE,
                "kind": "kev_overdue",
            },
            "detection_coverage": {"missing_sysmon": list(no_sysmon)},
        },
    }


def _move_kind(sim: Sim, src: str, dst: str, port: int) -> str:
    a, b = sim.world.host(src), sim.world.host(dst)
    za, zb = _zone(a), _zone(b)
    if za == zb or port in ALLOW.get((za, zb), ()):
        return "story_move_allowed"
    return "story_move_blocked"


def _zone(h: Host) -> str:
    return "servers" if h.is_server else "workstations"


def _zones_yaml() -> str:
    return (
        "# Network zones of the simulated organisation and the flows the firewall policy allows.\n"
        "zones:\n"
        f"  workstations: [{ZONES['workstations']}]\n"
        f"  servers: [{ZONES['servers']}]\n"
        f"  internet: [{ZONES['internet']}]          # anything not in another zone\n"
        "allow:\n"
        + "".join(
            f"  - {{from: {a}, to: {b}, ports: [{', '.join(map(str, ports))}]}}\n"
            for (a, b), ports in ALLOW.items()
        )
    )


def _other_recipients(sim: Sim, c: Campaign, rng: random.Random) -> list[User]:
    pool = [u for u in sim.world.users if u.sam != c.victim.sam and not u.admin_sam]
    return rng.sample(pool, min(3, len(pool)))


def _legacy_user(sim: Sim) -> User:
    return sorted((u for u in sim.world.users if not u.admin_sam), key=lambda u: u.sam)[-1]


def _signin(
    sim: Sim,
    ts: int,
    user: User,
    ip: str,
    app: str,
    client: str,
    mfa: bool,
    ok: bool,
    rng: random.Random,
) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "createdDateTime": sim.clock.iso(ts)[:19] + "Z",
        "userDisplayName": user.display,
        "userPrincipalName": user.email,
        "userId": str(uuid.UUID(int=rng.getrandbits(128))),
        "appId": str(uuid.UUID(int=rng.getrandbits(128))),
        "appDisplayName": app,
        "ipAddress": ip,
        "clientAppUsed": client,
        "correlationId": str(uuid.UUID(int=rng.getrandbits(128))),
        "conditionalAccessStatus": "success" if mfa else "notApplied",
        "isInteractive": True,
        "authenticationRequirement": "multiFactorAuthentication"
        if mfa
        else "singleFactorAuthentication",
        "riskLevelDuringSignIn": "none",
        "status": {
            "errorCode": 0 if ok else 50126,
            "failureReason": "Other."
            if ok
            else "Error validating credentials due to invalid username or password.",
            "additionalDetails": None,
        },
        "location": {"city": "Seattle", "state": "Washington", "countryOrRegion": "US"},
    }


def _signins(sim: Sim, c: Campaign, rng: random.Random) -> tuple[list[dict[str, Any]], str]:
    out: list[tuple[int, dict[str, Any]]] = []
    egress = sim.world.egress_ip
    apps = (
        ("Office 365 Exchange Online", "Browser"),
        ("Microsoft Teams", "Mobile Apps and Desktop clients"),
    )
    for day in range(sim.cfg.days):
        for user in sim.world.users:
            if rng.random() < 0.3:
                continue
            ts = sim.clock.day_start(day) + int((7.5 + rng.random() * 2.5) * HOUR)
            app, client = apps[int(rng.random() * len(apps))]
            out.append((ts, _signin(sim, ts, user, egress, app, client, True, True, rng)))
    legacy = _legacy_user(sim)
    for day in range(0, sim.cfg.days, 2):
        ts = sim.clock.day_start(day) + int(6 * HOUR + rng.random() * HOUR)
        out.append(
            (
                ts,
                _signin(
                    sim, ts, legacy, egress, "Office 365 Exchange Online", "IMAP4", False, True, rng
                ),
            )
        )
    # the intruder tries, then signs in with the victim's stolen password from its own server
    day = min(sim.clock.day_of(c.lure.sent) + 1, sim.cfg.days - 1)
    t = sim.clock.day_start(day) + int(2 * HOUR + rng.random() * HOUR)
    victim = c.victim
    out.append(
        (
            t,
            _signin(
                sim, t, victim, c.c2_ip, "Office 365 Exchange Online", "Browser", False, False, rng
            ),
        )
    )
    t_ok = t + int((3 + rng.random() * 5) * MINUTE)
    out.append(
        (
            t_ok,
            _signin(
                sim,
                t_ok,
                victim,
                c.c2_ip,
                "Office 365 Exchange Online",
                "Browser",
                False,
                True,
                rng,
            ),
        )
    )
    out.sort(key=lambda x: x[0])
    return [d for _, d in out], sim.clock.iso(t_ok)[:19] + "Z"


def _inventory(sim: Sim, c: Campaign) -> bytes:
    lines = []
    for h in sim.world.hosts:
        t = sim.clock.day_start(0) + 5 * MINUTE
        rows = [
            (
                OFFICE,
                "Microsoft Corporation",
                OFFICE_OLD if h.name == c.victim_host.name else OFFICE_NEW,
            )
        ]
        rows += list(PROGRAMS)
        for name, publisher, version in rows:
            lines.append(
                {
                    "name": "pack_inventory_programs",
                    "hostIdentifier": h.fqdn,
                    "calendarTime": sim.clock.datetime(t).strftime("%a %b %d %H:%M:%S %Y UTC"),
                    "unixTime": t // US,
                    "epoch": 0,
                    "counter": 0,
                    "numerics": False,
                    "columns": {
                        "name": name,
                        "version": version,
                        "publisher": publisher,
                        "install_location": "",
                        "install_date": "20250110",
                        "identifying_number": "",
                    },
                    "action": "added",
                }
            )
        os_name = (
            "Microsoft Windows Server 2022 Standard"
            if h.is_server
            else "Microsoft Windows 11 Enterprise"
        )
        lines.append(
            {
                "name": "pack_inventory_os_version",
                "hostIdentifier": h.fqdn,
                "unixTime": t // US,
                "columns": {
                    "name": os_name,
                    "version": "10.0.22631",
                    "platform": "windows",
                    "build": "22631",
                },
                "action": "added",
            }
        )
    return b"".join(orjson.dumps(x) + b"\n" for x in lines)


def _cve_record() -> dict[str, Any]:
    return {
        "dataType": "CVE_RECORD",
        "dataVersion": "5.1",
        "cveMetadata": {
            "cveId": CVE,
            "assignerShortName": "microsoft",
            "state": "PUBLISHED",
            "datePublished": "2023-03-14T16:59:00.000Z",
        },
        "containers": {
            "cna": {
                "title": "Microsoft Outlook Elevation of Privilege Vulnerability",
                "affected": [
                    {
                        "vendor": "Microsoft",
                        "product": "Microsoft Office 2019",
                        "defaultStatus": "unaffected",
                        "versions": [
                            {
                                "version": "16.0.0",
                                "lessThan": OFFICE_FIXED,
                                "versionType": "custom",
                                "status": "affected",
                            }
                        ],
                    }
                ],
                "problemTypes": [
                    {
                        "descriptions": [
                            {
                                "lang": "en",
                                "description": "Elevation of Privilege",
                                "type": "Impact",
                            }
                        ]
                    }
                ],
            }
        },
    }


def _trace(
    sim: Sim, c: Campaign, others: list[User], reporter: User | None, rng: random.Random
) -> tuple[str, int | None]:
    lure = c.lure
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(
        [
            "Received",
            "SenderAddress",
            "RecipientAddress",
            "Subject",
            "Status",
            "ToIP",
            "FromIP",
            "Size",
            "MessageId",
            "MessageTraceId",
        ]
    )
    rows: list[tuple[int, list[str]]] = []
    relay = sim.mail_ext.ip("mail-relay.example.net")
    size = str(len(lure.data) * 4 // 3 + 4000)
    for i, user in enumerate([c.victim, *others]):
        t = lure.sent + i * int(2 * US + rng.random() * 20 * US)
        rows.append(
            (
                t,
                [
                    sim.clock.datetime(t).strftime("%m/%d/%Y %I:%M:%S %p"),
                    lure.sender,
                    user.email,
                    lure.subject,
                    "Delivered",
                    "",
                    relay,
                    size,
                    lure.message_id,
                    str(uuid.UUID(int=rng.getrandbits(128))),
                ],
            )
        )
    reported = None
    if reporter is not None:
        reported = lure.sent + int((20 + rng.random() * 25) * MINUTE)
        rows.append(
            (
                reported,
                [
                    sim.clock.datetime(reported).strftime("%m/%d/%Y %I:%M:%S %p"),
                    reporter.email,
                    REPORT_BOX,
                    f"FW: {lure.subject}",
                    "Delivered",
                    "",
                    "10.10.1.40",
                    str(int(size) + 1500),
                    f"<{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}@{MAIL_DOMAIN}>",
                    str(uuid.UUID(int=rng.getrandbits(128))),
                ],
            )
        )
    # ordinary traffic around it
    users = sim.world.users
    for _ in range(12 * sim.cfg.days):
        t = sim.clock.day_start(int(rng.random() * sim.cfg.days)) + int(
            (8 + rng.random() * 9) * HOUR
        )
        a, b = users[int(rng.random() * len(users))], users[int(rng.random() * len(users))]
        rows.append(
            (
                t,
                [
                    sim.clock.datetime(t).strftime("%m/%d/%Y %I:%M:%S %p"),
                    a.email,
                    b.email,
                    "Weekly sync notes",
                    "Delivered",
                    "",
                    "10.10.1.40",
                    str(4000 + int(rng.random() * 40000)),
                    f"<{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}@{MAIL_DOMAIN}>",
                    str(uuid.UUID(int=rng.getrandbits(128))),
                ],
            )
        )
    rows.sort(key=lambda r: r[0], reverse=True)  # Get-MessageTrace lists newest first
    for _, r in rows:
        w.writerow(r)
    return buf.getvalue(), reported


README_SECTION = """\
posture/
    What `spearhunt posture` reads, consistent with the intrusion: signins.json (Entra ID
    sign-in logs as Microsoft Graph auditLogs/signIns returns them), inventory.jsonl (osqueryd
    results log of the programs and os_version tables), kev.json (a one-entry excerpt of
    CISA's KEV catalog) and cve/ (a CVE JSON 5 record; its version range is synthetic),
    zones.yml (network zones and the flows the policy allows), message-trace.csv (an Exchange
    Online message trace, Get-MessageTrace | Export-Csv). A few workstations run without
    Sysmon: their endpoint files hold only the other channels. truth.json's "posture" names
    the findings posture must make.
"""
