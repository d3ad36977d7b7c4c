"""The attack chain is consistent across mail, endpoint and network, on every variant."""

from __future__ import annotations

import email
import hashlib
import statistics
from email.policy import default
from itertools import pairwise

from tests.simulate.conftest import Sim

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def _phish(sim: Sim) -> email.message.EmailMessage:
    pz = sim.truth["story"]["patient_zero"]
    raw = (sim.out / "mail" / pz["mail_file"]).read_bytes()
    msg = email.message_from_bytes(raw, policy=default)
    assert msg["Message-ID"] == pz["message_id"]
    return msg  # type: ignore[return-value]


def test_attachment_hash_in_mail_equals_outlook_file_events(any_sim: Sim) -> None:
    pz = any_sim.truth["story"]["patient_zero"]
    att = pz["attachment"]
    parts = [p for p in _phish(any_sim).iter_attachments() if p.get_filename() == att["name"]]
    assert len(parts) == 1
    data = parts[0].get_content()
    assert hashlib.sha256(data).hexdigest() == att["sha256"]

    host = pz["host"]
    created = [
        e
        for e in any_sim.events(host, EventID=11)
        if e["TargetFilename"].endswith("\\" + att["name"])
        and "\\INetCache\\Content.Outlook\\" in e["TargetFilename"]
    ]
    assert created and all(e["Image"].endswith("\\OUTLOOK.EXE") for e in created)
    folder = created[0]["TargetFilename"].split("\\Content.Outlook\\")[1].split("\\")[0]
    assert len(folder) == 8
    streams = [
        e
        for e in any_sim.events(host, EventID=15)
        if e["TargetFilename"] == created[0]["TargetFilename"] + ":Zone.Identifier"
    ]
    assert len(streams) == 1
    assert f"SHA256={att['sha256'].upper()}" in streams[0]["Hash"]
    assert "ZoneId=3" in streams[0]["Contents"] and "HostUrl=" in streams[0]["Contents"]
    assert {created[0]["SpearhuntEventId"], streams[0]["SpearhuntEventId"]} <= any_sim.malicious_ids


def test_document_is_opened_by_word_from_the_outlook_cache(any_sim: Sim) -> None:
    story = any_sim.truth["story"]
    pz = story["patient_zero"]
    if any_sim.truth["variant"]["access"] == "iso":
        shells = [
            e
            for e in any_sim.events(pz["host"], EventID=1)
            if e["ParentImage"].endswith("\\explorer.exe") and e["CurrentDirectory"] == "E:\\"
        ]
        assert shells and shells[0]["SpearhuntEventId"] in any_sim.malicious_ids
        return
    words = [
        e
        for e in any_sim.events(pz["host"], EventID=1)
        if e["Image"].endswith("\\WINWORD.EXE") and pz["attachment"]["saved_as"] in e["CommandLine"]
    ]
    assert len(words) == 1
    assert words[0]["ParentImage"].endswith("\\OUTLOOK.EXE")
    children = [
        e
        for e in any_sim.events(pz["host"], EventID=1)
        if e["ParentProcessGuid"] == words[0]["ProcessGuid"]
    ]
    assert children, "Word spawns the next stage"
    assert all(c["SpearhuntEventId"] in any_sim.malicious_ids for c in children)


def test_c2_domain_resolved_in_sysmon_and_zeek_and_beacons_from_victim(any_sim: Sim) -> None:
    story = any_sim.truth["story"]
    pz, c2 = story["patient_zero"], story["c2"]
    queried = {
        e["QueryName"]
        for e in any_sim.events(pz["host"], EventID=22)
        if e["SpearhuntEventId"] in any_sim.malicious_ids
    }
    assert c2["domain"] in queried
    dns = [r for r in any_sim.zeek["dns"] if r["query"] == c2["domain"]]
    assert dns and all(r["id.orig_h"] == pz["ip"] for r in dns)
    assert all(c2["ip"] in r["answers"].split(",") for r in dns)
    beacons = [
        r for r in any_sim.zeek["conn"] if r["id.resp_h"] == c2["ip"] and r["id.resp_p"] == "443"
    ]
    assert beacons and {r["id.orig_h"] for r in beacons} == {pz["ip"]}
    sysmon3 = [e for e in any_sim.events(pz["host"], EventID=3) if e["DestinationIp"] == c2["ip"]]
    assert sysmon3 and all(e["SourceIp"] == pz["ip"] for e in sysmon3)


def test_beacons_are_jittered_but_periodic(any_sim: Sim) -> None:
    c2 = any_sim.truth["story"]["c2"]
    ts = sorted(
        float(r["ts"])
        for r in any_sim.zeek["conn"]
        if r["id.resp_h"] == c2["ip"] and r["service"] == "ssl"
    )
    gaps = [b - a for a, b in pairwise(ts)]
    gaps = [g for g in gaps if g < 3 * c2["beacon_interval_s"]]  # drop stage-2 download gap
    assert len(gaps) > 50
    median = statistics.median(gaps)
    assert abs(median - c2["beacon_interval_s"]) < 0.1 * c2["beacon_interval_s"]
    spread = statistics.pstdev(gaps) / statistics.mean(gaps)
    assert 0.03 < spread < 0.3, spread  # not a fixed timer, not random either


def test_lateral_logons_come_from_the_source_host_ip(any_sim: Sim) -> None:
    truth = any_sim.truth
    ips = {h["name"]: h["ip"] for h in truth["organisation"]["hosts"]}
    hops = truth["story"]["lateral_hosts"]
    assert hops
    method = truth["variant"]["lateral"]
    for hop in hops:
        logons = [
            e
            for e in any_sim.events(hop["host"], EventID=4624)
            if e["IpAddress"] == ips[hop["from_host"]]
            and e["TargetUserName"] == hop["account"]
            and e["SpearhuntEventId"] in any_sim.malicious_ids
        ]
        assert logons, hop
        types = {e["LogonType"] for e in logons}
        # Tools are also copied over C$ (type 3) in the RDP variant.
        assert (10 in types) if method == "rdp" else (types == {3})
        assert any(e["TimeCreated"] == hop["first_seen"] for e in logons)
        priv = list(any_sim.events(hop["host"], EventID=4672, SubjectUserName=hop["account"]))
        assert priv
        explicit = [
            e
            for e in any_sim.events(hop["from_host"], EventID=4648)
            if e["TargetServerName"] == hop["host"]
        ]
        assert explicit and explicit[0]["SpearhuntEventId"] in any_sim.malicious_ids
        if method == "psexec":
            services = [
                e
                for e in any_sim.events(hop["host"], EventID=7045, ServiceName="PSEXESVC")
                if e["SpearhuntEventId"] in any_sim.malicious_ids
            ]
            assert services
        elif method == "wmi":
            kids = [
                e
                for e in any_sim.events(hop["host"], EventID=1)
                if e["ParentImage"].endswith("\\WmiPrvSE.exe")
                and e["SpearhuntEventId"] in any_sim.malicious_ids
            ]
            assert kids
        else:
            rcm = list(any_sim.events(hop["host"], EventID=1149, Param3=ips[hop["from_host"]]))
            assert rcm


def test_persistence_matches_the_variant(any_sim: Sim) -> None:
    truth = any_sim.truth
    host = truth["story"]["patient_zero"]["host"]
    kind = truth["variant"]["persistence"]
    ids = {e["id"] for e in truth["events"] if e["stage"] == "persistence"}
    evs = [any_sim.by_id[i] for i in ids]
    assert evs and all(e["Computer"].startswith(host + ".") for e in evs)
    if kind == "runkey":
        assert any(
            e["EventID"] == 13 and "\\CurrentVersion\\Run\\" in e["TargetObject"] for e in evs
        )
    elif kind == "schtask":
        assert any(e["EventID"] == 4698 for e in evs)
        assert any(e["EventID"] == 1 and "/create" in e["CommandLine"] for e in evs)
    elif kind == "service":
        assert any(e["EventID"] == 7045 and "\\ProgramData\\" in e["ImagePath"] for e in evs)
    else:
        assert {19, 20, 21} <= {e["EventID"] for e in evs}


def test_lsass_is_accessed_by_the_attacker(any_sim: Sim) -> None:
    ids = {e["id"] for e in any_sim.truth["events"] if e["stage"] == "credential_access"}
    access = [any_sim.by_id[i] for i in ids if any_sim.by_id[i]["EventID"] == 10]
    assert access and all(e["TargetImage"].endswith("\\lsass.exe") for e in access)
    assert all(e["GrantedAccess"] in ("0x1FFFFF", "0x1010", "0x1438") for e in access)


def test_staging_archive_is_password_protected_on_the_file_server(any_sim: Sim) -> None:
    staging = any_sim.truth["story"]["staging"]
    tool = staging["tool"]
    cmds = [
        e["CommandLine"]
        for e in any_sim.events(staging["host"], EventID=1)
        if e["SpearhuntEventId"] in any_sim.malicious_ids
    ]
    if tool == "7z":
        assert any(" a " in c and " -p" in c for c in cmds)
    elif tool == "rar":
        assert any(" a " in c and " -hp" in c for c in cmds)
    else:
        assert any(c.startswith("makecab.exe /F ") for c in cmds)
    written = {e["TargetFilename"] for e in any_sim.events(staging["host"], EventID=11)}
    assert set(staging["volumes"]) <= written


def test_exfiltration_is_large_and_goes_to_the_destination(any_sim: Sim) -> None:
    truth = any_sim.truth
    flows = truth["story"]["exfiltration"]
    assert flows
    ips = {h["name"]: h["ip"] for h in truth["organisation"]["hosts"]}
    channel = truth["variant"]["exfil"]
    staged = truth["story"]["staging"]["bytes"]
    total = 0
    for flow in flows:
        src = ips[flow["host"]]
        if channel == "dns":
            queries = [
                r
                for r in any_sim.zeek["dns"]
                if r["query"].endswith("." + flow["destination"]["domain"])
            ]
            assert queries and {r["id.orig_h"] for r in queries} == {src}
            assert len(queries) * 70 >= flow["bytes"] > 0
        else:
            conns = [
                r
                for r in any_sim.zeek["conn"]
                if r["id.orig_h"] == src and r["id.resp_h"] == flow["destination"]["ip"]
            ]
            sent = sum(int(r["orig_bytes"]) for r in conns)
            assert sent >= flow["bytes"] * 0.99
            names = {
                r["server_name"]
                for r in any_sim.zeek["ssl"]
                if r["id.resp_h"] == flow["destination"]["ip"]
            }
            assert names == {flow["destination"]["domain"]}
        assert flow["first_seen"] <= flow["last_seen"]
        total += flow["bytes"]
    assert total >= staged  # every staged byte leaves
    assert total >= (400_000 if channel == "dns" else 1_000_000_000)


def test_story_is_ordered_with_days_of_dwell_time(any_sim: Sim) -> None:
    story = any_sim.truth["story"]
    received = story["patient_zero"]["received"]
    first_beacon = story["c2"]["first_seen"]
    lateral = min(h["first_seen"] for h in story["lateral_hosts"])
    exfil = min(f["first_seen"] for f in story["exfiltration"])
    assert received < first_beacon < lateral < exfil
    assert int(exfil[8:10]) - int(received[8:10]) >= 3  # same month in these configs
    times = [e["time"] for e in any_sim.truth["events"]]
    assert times == sorted(times)


def test_every_stage_is_present(any_sim: Sim) -> None:
    stages = {e["stage"] for e in any_sim.truth["events"]}
    assert {
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
    } <= stages
    assert all(e["technique"].startswith("T") for e in any_sim.truth["events"])


def _conn_index(sim: Sim) -> dict[tuple[str, str, str, str], list[float]]:
    """conn.log start times by (orig_h, orig_p, resp_h, resp_p)."""
    index: dict[tuple[str, str, str, str], list[float]] = {}
    for r in sim.zeek["conn"]:
        key = (r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"])
        index.setdefault(key, []).append(float(r["ts"]))
    return index


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_every_sysmon_network_connection_is_in_conn_log_with_its_source_port(any_sim: Sim) -> None:
    conns = _conn_index(any_sim)
    checked = 0
    for events in any_sim.endpoint.values():
        for ev in events:
            if ev["EventID"] != 3:
                continue
            key = (
                ev["SourceIp"],
                str(ev["SourcePort"]),
                ev["DestinationIp"],
                str(ev["DestinationPort"]),
            )
            when = _epoch(ev["TimeCreated"])
            assert any(abs(ts - when) < 2 for ts in conns.get(key, ())), ev["SpearhuntEventId"]
            checked += 1
    assert checked > 100


def test_the_attackers_network_logons_show_the_port_of_their_connection(any_sim: Sim) -> None:
    conns = _conn_index(any_sim)
    ips = {h["name"]: h["ip"] for h in any_sim.truth["organisation"]["hosts"]}
    logons = [
        ev
        for ev in (any_sim.by_id[e["id"]] for e in any_sim.truth["events"])
        if ev["EventID"] == 4624 and ev["LogonType"] in (3, 10)
    ]
    assert logons
    for ev in logons:
        host = ev["SpearhuntEventId"].rsplit("-", 1)[0]
        ports = {k[1] for k in conns if k[0] == ev["IpAddress"] and k[2] == ips[host]}
        assert ev["IpPort"] in ports, ev["SpearhuntEventId"]
