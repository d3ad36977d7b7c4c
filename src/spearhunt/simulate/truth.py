"""The answer key (truth.json) and the analyst's README.txt."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import orjson

from spearhunt.simulate.config import VARIANT_HELP, Variant
from spearhunt.simulate.context import Sim
from spearhunt.simulate.lateral import TECHNIQUE
from spearhunt.simulate.mail import MailCounts
from spearhunt.simulate.plan import Campaign
from spearhunt.simulate.world import AD_DOMAIN, MAIL_DOMAIN

SCHEMA = "spearhunt.simulate.truth/1"
STAGES = (
    "initial_access",
    "execution",
    "persistence",
    "privilege_escalation",
    "credential_access",
    "discovery",
    "lateral_movement",
    "collection",
    "command_and_control",
    "exfiltration",
    "stealth",
)


def build_truth(
    sim: Sim, c: Campaign, variant: Variant, mails: MailCounts | None
) -> dict[str, Any]:
    """The truth document; call after the logs are written (event ids are assigned then).

    The story is the plan, always whole; the lists of malicious records (``events``,
    ``network``, ``mails``) and their counts are there only for the sources generated
    (``sources``), and so is the mail file of patient zero.
    """
    iso = sim.clock.iso
    cfg = sim.cfg
    sources = cfg.sources
    events = [
        {
            "id": ev["SpearhuntEventId"],
            "stage": step.stage,
            "technique": step.technique,
            "host": step.host,
            "user": step.user,
            "event_id": ev["EventID"],
            "channel": ev["Channel"],
            "time": ev["TimeCreated"],
            "note": step.note,
        }
        for step in c.steps
        for ev in step.events
    ]
    events.sort(key=lambda e: (e["time"], e["id"]))
    network = [
        {
            "log": log,
            "uid": uid,
            "stage": ns.stage,
            "technique": ns.technique,
            "host": ns.host,
            "time": iso(ts),
            "note": ns.note,
        }
        for ns in c.net_steps
        for log, uid, ts in ns.records
    ]
    network.sort(key=lambda r: (r["time"], r["log"], r["uid"]))
    victim_host = c.victim_host
    lure = c.lure
    beacons = c.beacons
    stage_counts: dict[str, int] = {}
    for e in events:
        stage_counts[e["stage"]] = stage_counts.get(e["stage"], 0) + 1
    truth: dict[str, Any] = {
        "schema": SCHEMA,
        "seed": cfg.seed,
        "sources": list(sources),
        "variant": {
            "name": variant.name,
            "access": variant.access,
            "persistence": variant.persistence,
            "lateral": variant.lateral,
            "exfil": variant.exfil,
        },
        "config": {
            "hosts": cfg.hosts,
            "users": cfg.users,
            "days": cfg.days,
            "noise": cfg.noise,
            "scale": cfg.scale,
            "start": cfg.start.isoformat(),
        },
        "time_range": {
            "start": iso(sim.clock.day_start(0)),
            "end": iso(sim.clock.day_start(cfg.days) - 1),
        },
        "organisation": {
            "ad_domain": AD_DOMAIN,
            "mail_domain": MAIL_DOMAIN,
            "egress_ip": sim.world.egress_ip,
            "hosts": [
                {"name": h.name, "fqdn": h.fqdn, "ip": h.ip, "role": h.role, "owner": h.owner}
                for h in sim.world.hosts
            ],
        },
        "story": {
            "patient_zero": {
                "host": victim_host.name,
                "fqdn": victim_host.fqdn,
                "ip": victim_host.ip,
                "user": c.victim.sam,
                "email": c.victim.email,
                "message_id": lure.message_id,
                **({"mail_file": mails.files.get(lure.message_id)} if mails else {}),
                "sender": lure.sender,
                "subject": lure.subject,
                "attachment": {
                    "name": lure.filename,
                    "sha256": lure.sha256,
                    "md5": lure.md5,
                    "size": len(lure.data),
                    "saved_as": c.extra.get("attachment_path"),
                },
                "received": iso(lure.sent),
            },
            "implant": {
                "path": c.extra.get("implant_path"),
                "sha256": c.implant_sha256.lower(),
                "launch": c.extra.get("launch"),
            },
            "c2": {
                "domain": c.c2_domain,
                "ip": c.c2_ip,
                "port": 443,
                "beacon_interval_s": c.beacon_interval,
                "beacons": len(beacons),
                "first_seen": iso(beacons[0]) if beacons else None,
                "last_seen": iso(beacons[-1]) if beacons else None,
            },
            "persistence": c.extra.get("persistence"),
            "credential_access": c.extra.get("credential_method"),
            "stolen_account": c.admin.admin_sam,
            "lateral_hosts": [
                {
                    "host": h.host,
                    "from_host": h.from_host,
                    "method": h.technique,
                    "technique": TECHNIQUE[h.technique],
                    "account": h.account,
                    "first_seen": iso(h.first_seen),
                }
                for h in c.hops
            ],
            "staging": c.extra.get("archive"),
            "exfiltration": [
                {
                    "host": f.host,
                    "destination": {"domain": f.domain, "ip": f.ip},
                    "channel": f.channel,
                    "bytes": f.bytes,
                    "first_seen": iso(f.first_seen),
                    "last_seen": iso(f.last_seen),
                }
                for f in c.exfil
            ],
        },
    }
    counts: dict[str, Any] = {}
    if mails is not None:
        truth["mails"] = [
            {
                "message_id": lure.message_id,
                "file": mails.files.get(lure.message_id),
                "stage": "initial_access",
                "technique": "T1566.001",
                "user": c.victim.sam,
                "host": victim_host.name,
            }
        ]
    if "endpoint" in sources:
        truth["events"] = events
        counts["malicious_events"] = len(events)
    if "zeek" in sources:
        truth["network"] = network
        counts["malicious_network_records"] = len(network)
    if "endpoint" in sources:
        counts["events_by_stage"] = dict(sorted(stage_counts.items()))
    truth["counts"] = counts
    return truth


def write_truth(truth: dict[str, Any], path: Path) -> None:
    """Write truth.json (indented, stable key order)."""
    path.write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2) + b"\n")


README = """\
spearhunt simulated intrusion
=============================

A synthetic espionage intrusion at a defence contractor ({org_domain}), hidden in ordinary
office activity. Everything here is generated: hosts, people, addresses and documents are
fictional; external addresses are documentation ranges (RFC 5737); attacker and lure domains
are reserved example domains.

The lure files are inert. The spear-phishing attachment in mail/ carries no working payload:
the macro only shows a message box, the remote template URL points at templates.example.com
(a reserved domain that serves nothing), and the shortcut in the ISO only prints a line. Their
real content therefore differs from what the logs show: the command lines, downloads, DLLs,
services and archives in endpoint/ and network/ are what a real intrusion of this kind would
record, written by the simulator; opening the attachment reproduces none of it.

seed {seed}, variant {variant}, {days} days from {start}, {hosts} hosts, {users} users.
"""

# One section per source, in this order.
SECTIONS = {
    "mail": """\
mail/
    Inbound mail as .eml (RFC 5322), one file per message, named <date>_<arrival order>.eml:
    internal mail, newsletters, supplier invoices, partner mail, some spam, and one
    spear-phishing mail with a weaponized (inert) attachment.
""",
    "endpoint": """\
endpoint/<host>.jsonl
    One file per host, one JSON object per line, in time order. {endpoint_shape}
    Channels: Microsoft-Windows-Sysmon/Operational (1, 3, 7, 10, 11, 12, 13, 15, 17, 18, 19,
    20, 21, 22), Security (4624, 4648, 4672, 4688, 4698, 5140, 5145), System (7045),
    Microsoft-Windows-PowerShell/Operational (4104),
    Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational (1149).
""",
    "zeek": """\
network/{{conn,dns,http,ssl}}.log
    Zeek logs in Zeek's TSV format (#separator, #fields and #types headers, '-' unset,
    '(empty)' empty), ts in epoch seconds, in time order. The sensor sits on the core
    switch: it sees workstation-to-server traffic (SMB, RPC, RDP, Kerberos), queries to the
    internal resolver ({dc}) and traffic to the Internet. Hosts resolve names through the
    Windows DNS client cache: a name asked for again within the TTL of its answer (five
    minutes for web sites) is answered from the cache, so dns.log has no query for it while
    Sysmon 22 on the host still logs the lookup.
""",
}

TRUTH = """\
truth.json
    The answer key. Do not open it before hunting. It lists every malicious mail (by
    Message-ID), endpoint event (by SpearhuntEventId) and network record (by Zeek uid) with
    its stage, ATT&CK technique, host and user, and the expected story: patient zero, C2,
    persistence, the hosts reached laterally and from where, the staging archive and the
    exfiltration (destination, bytes, first and last seen). "sources" names what this run
    generated.{omitted}

Variants
    {variant_help}
"""

# What truth.json leaves out when a source is not generated.
OMITTED = {
    "mail": '"mails" and patient zero\'s "mail_file"',
    "endpoint": '"events" (the malicious endpoint events), counts.malicious_events and '
    "counts.events_by_stage",
    "zeek": '"network" (the malicious Zeek records) and counts.malicious_network_records',
}
NAMES = {"mail": "mail", "endpoint": "endpoint logs", "zeek": "Zeek logs"}


SHAPES = {
    "flat": """Each object is one Windows
    event flattened the way Sigma rules name fields: the EventData fields (Image, CommandLine,
    ParentImage, TargetObject, LogonType, IpAddress, ...) at the top level, plus
      EventID, Channel, Provider_Name, Computer (FQDN), TimeCreated (ISO 8601 UTC, Z),
      EventRecordID (increasing per host and channel), SpearhuntEventId (unique id).""",
    "evtx-json": """Each object is one Windows
    event in the shape evtx_dump writes (--endpoint-format evtx-json):
      {"Event": {"System": {"Provider": {"#attributes": {"Name": ...}}, "EventID": N,
        "TimeCreated": {"#attributes": {"SystemTime": ISO 8601 UTC, Z}},
        "EventRecordID": N (increasing per host and channel), "Channel": ..., "Computer": FQDN},
        "EventData": {"SpearhuntEventId": unique id, then the event's own fields}}}""",
}


def write_readme(sim: Sim, variant: Variant, path: Path) -> None:
    """Write README.txt for the analyst: a section per source generated."""
    cfg = sim.cfg
    left_out = [s for s in SECTIONS if s not in cfg.sources]
    blocks = [
        README.format(
            org_domain=AD_DOMAIN,
            seed=cfg.seed,
            variant=variant.name,
            days=cfg.days,
            start=cfg.start.isoformat(),
            hosts=cfg.hosts,
            users=cfg.users,
        )
    ]
    omitted = ""
    if left_out:
        made = " and the ".join(NAMES[s] for s in SECTIONS if s in cfg.sources)
        blocks.append(
            textwrap.fill(
                f"This run generated only the {made} (--only {','.join(cfg.sources)}), not the "
                f"{' or the '.join(NAMES[s] for s in left_out)}. What it generated is the same, "
                "byte for byte, as in a run of all sources with the same settings.",
                92,
            )
            + "\n"
        )
        omitted = textwrap.indent(
            textwrap.fill(
                " ".join(f"Without the {NAMES[s]} it leaves out {OMITTED[s]}." for s in left_out),
                88,
            ),
            "    ",
        )
        omitted = "\n" + omitted
    blocks += [
        SECTIONS[s].format(endpoint_shape=SHAPES[cfg.endpoint_format], dc=sim.dc_ip)
        for s in SECTIONS
        if s in cfg.sources
    ]
    from spearhunt.simulate.posture import README_SECTION

    if len(cfg.sources) == len(SECTIONS):
        blocks.append(README_SECTION)
    blocks.append(TRUTH.format(omitted=omitted, variant_help=VARIANT_HELP))
    path.write_text("\n".join(blocks), encoding="utf-8")
