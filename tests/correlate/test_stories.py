"""How stories are seeded, split and linked on small hand-made cases (issue 12 items 1-3 and 7,
issue 15's titles and empty layers, issue 17's score text): each behaviour with a case that
shows it and one that must not."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from spearhunt.correlate.config import (
    CorrelateOptions,
    Internal,
    internal_from,
    load_allowlist,
    load_assets,
    parse_networks,
)
from spearhunt.correlate.run import correlate_store
from spearhunt.correlate.scoring import score_story
from spearhunt.detect.hunt import HuntOptions, hunt
from spearhunt.errors import UsageError
from spearhunt.model.hosts import short_host
from spearhunt.model.story import CorrelationResult, ExfilFlow, PatientZero, Stage, Story

T0 = dt.datetime(2026, 3, 2, 9, 0, 0)
SYSMON = "Microsoft-Windows-Sysmon/Operational"
RULES = {
    "evil": ("9b7c7e43-0000-4000-8000-000000000001", "Evil Tool Started", "high", "evil.exe"),
    "noisy": ("9b7c7e43-0000-4000-8000-000000000002", "Noisy Tool Started", "high", "noisy.exe"),
}


def _rules(tmp: Path) -> Path:
    folder = tmp / "rules"
    folder.mkdir(exist_ok=True)
    for name, (rid, title, level, image) in RULES.items():
        (folder / f"{name}.yml").write_text(
            f"""title: {title}
id: {rid}
status: test
logsource: {{category: process_creation, product: windows}}
detection:
    selection:
        Image|endswith: '\\{image}'
    condition: selection
level: {level}
tags: [attack.execution, attack.t1204.002]
"""
        )
    return folder


def _at(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).isoformat(timespec="milliseconds") + "Z"


def proc(
    host: str, t: float, image: str, guid: str, user: str = "CORP\\bob", parent: str = ""
) -> dict[str, Any]:
    return {
        "Computer": host,
        "Channel": SYSMON,
        "EventID": 1,
        "TimeCreated": _at(t),
        "Image": image,
        "ProcessGuid": guid,
        "ParentImage": parent or "C:\\Windows\\explorer.exe",
        "User": user,
        "CommandLine": image,
    }


def conn(
    host: str,
    t: float,
    src: str,
    dst: str,
    port: int,
    out: bool,
    guid: str = "{g0}",
    image: str = "C:\\Windows\\System32\\svchost.exe",
) -> dict[str, Any]:
    return {
        "Computer": host,
        "Channel": SYSMON,
        "EventID": 3,
        "TimeCreated": _at(t),
        "Image": image,
        "ProcessGuid": guid,
        "Initiated": "true" if out else "false",
        "SourceIp": src,
        "DestinationIp": dst,
        "DestinationPort": str(port),
    }


def logon(host: str, t: float, ip: str, user: str = "bob") -> dict[str, Any]:
    return {
        "Computer": host,
        "Channel": "Security",
        "EventID": 4624,
        "TimeCreated": _at(t),
        "LogonType": "3",
        "IpAddress": ip,
        "WorkstationName": "-",
        "TargetUserName": user,
        "TargetLogonId": "0x3e7f1",
    }


def service(host: str, t: float) -> dict[str, Any]:
    return {
        "Computer": host,
        "Channel": "System",
        "EventID": 7045,
        "TimeCreated": _at(t),
        "ServiceName": "Updater",
        "ImagePath": "%COMSPEC% /c evil.exe",
    }


def _case(tmp: Path, events: list[dict[str, Any]], **opts: Any) -> CorrelationResult:
    logs = tmp / "logs.jsonl"
    logs.write_text("".join(json.dumps(e) + "\n" for e in events))
    store = tmp / "case.duckdb"
    hunt(HuntOptions(paths=[str(logs)], rules=[_rules(tmp)], with_pack=False, store=store), None)
    return correlate_store(store, CorrelateOptions(allowlist=load_allowlist(None), **opts))


def _hosts(story: Story) -> dict[str, str | None]:
    return {
        short_host(h.host): short_host(h.reached_from) if h.reached_from else None
        for h in story.hosts
    }


def _background(hosts: dict[str, str], t: float = 0) -> list[dict[str, Any]]:
    """Each host's own address, as its Sysmon 3 shows it (the case's host/IP map)."""
    return [conn(h, t, ip, "10.9.9.9", 53, True) for h, ip in hosts.items()]


LAB = {"ws1.corp": "10.0.0.1", "ws2.corp": "10.0.0.2"}


def _lateral(logon_ip: str = "10.0.0.1") -> list[dict[str, Any]]:
    # ws1 (no alert of its own) runs a service on ws2 through a remote logon
    return [
        *_background(LAB),
        conn("ws1.corp", 100, "10.0.0.1", "10.0.0.2", 445, True),
        logon("ws2.corp", 101, logon_ip),
        service("ws2.corp", 102),
        proc("ws2.corp", 103, "C:\\Windows\\Temp\\evil.exe", "{e1}", "NT AUTHORITY\\SYSTEM"),
    ]


def test_source_without_alert_is_linked_upstream_as_patient_zero(tmp_path: Path):
    result = _case(tmp_path, _lateral())
    top = result.stories[0]
    assert short_host(top.patient_zero.host) == "ws1"
    assert _hosts(top) == {"ws1": None, "ws2": "ws1"}
    assert next(h.via for h in top.hosts if h.reached_from) == "T1021.002"
    assert top.patient_zero.first_seen <= top.first_seen + dt.timedelta(seconds=0)
    assert len(result.stories) == 1


def test_without_the_remote_logon_the_target_stays_patient_zero(tmp_path: Path):
    events = [e for e in _lateral() if e["EventID"] != 4624]
    top = _case(tmp_path, events).stories[0]
    assert short_host(top.patient_zero.host) == "ws2"
    assert _hosts(top) == {"ws2": None}


def test_logon_without_address_is_resolved_by_the_inbound_connection(tmp_path: Path):
    # Kerberos WinRM: the 4624 says '-', the target's Sysmon 3 shows who connected to 5985
    events = [
        *_background(LAB),
        conn("ws2.corp", 100, "10.0.0.1", "10.0.0.2", 5985, False),
        logon("ws2.corp", 100.5, "-"),
        proc(
            "ws2.corp",
            101,
            "C:\\Windows\\System32\\wsmprovhost.exe",
            "{w1}",
            parent="C:\\Windows\\System32\\svchost.exe",
        ),
        proc(
            "ws2.corp",
            103,
            "C:\\Users\\bob\\evil.exe",
            "{e1}",
            parent="C:\\Windows\\System32\\wsmprovhost.exe",
        ),
    ]
    top = _case(tmp_path, events).stories[0]
    assert _hosts(top) == {"ws1": None, "ws2": "ws1"}
    assert next(h.via for h in top.hosts if h.reached_from) == "T1021.006"
    # no inbound connection at that moment: nothing names the source
    events = [e for e in events if not (e["EventID"] == 3 and e["Initiated"] == "false")]
    (tmp_path / "b").mkdir()
    top = _case(tmp_path / "b", events).stories[0]
    assert _hosts(top) == {"ws2": None}


def test_a_quiet_gap_splits_a_hosts_alerts_into_two_stories(tmp_path: Path):
    day = 86400
    events = [
        proc("ws1.corp", 0, "C:\\x\\evil.exe", "{a1}"),
        proc("ws1.corp", 60, "C:\\x\\evil.exe", "{a2}"),
        proc("ws1.corp", 9 * day, "C:\\x\\evil.exe", "{a3}"),
    ]
    result = _case(tmp_path, events)
    assert len(result.stories) == 2
    assert sorted(len(s.evidence) for s in result.stories) == [1, 2]
    # within the gap it is one episode, one story
    (tmp_path / "b").mkdir()
    result = _case(tmp_path / "b", [*events[:2], proc("ws1.corp", day, "C:\\x\\evil.exe", "{a3}")])
    assert len(result.stories) == 1


def test_prevalent_high_detections_in_no_story_are_listed_as_unassigned(tmp_path: Path):
    hosts = [f"ws{i}.corp" for i in range(5)]
    events = [proc(h, 10 * i, "C:\\x\\noisy.exe", f"{{n{i}}}") for i, h in enumerate(hosts)]
    events.append(proc("ws0.corp", 500, "C:\\x\\evil.exe", "{e1}"))
    result = _case(tmp_path, events)
    left = {(short_host(u.host), u.rule_title, u.count) for u in result.unassigned}
    assert left >= {(f"ws{i}", "Noisy Tool Started", 1) for i in range(1, 5)}
    told = {e.what for s in result.stories for e in s.evidence}
    assert "Evil Tool Started" in told
    assert not any(u.rule_title == "Evil Tool Started" for u in result.unassigned)
    doc = result.to_dict()
    assert {"host", "rule_title", "level", "count", "first", "last"} <= set(doc["unassigned"][0])
    assert CorrelationResult.from_dict(doc).unassigned == result.unassigned


def _c2(tmp: Path, **opts: Any) -> Story:
    events = [
        *_background({"ws1.corp": "192.168.1.10"}),
        proc("ws1.corp", 10, "C:\\Users\\bob\\Downloads\\evil.exe", "{p1}"),
        conn(
            "ws1.corp",
            12,
            "192.168.1.10",
            "10.0.5.13",
            8080,
            True,
            "{p1}",
            "C:\\Users\\bob\\Downloads\\evil.exe",
        ),
    ]
    return _case(tmp, events, **opts).stories[0]


def test_alerted_process_destination_outside_the_internal_networks(tmp_path: Path):
    story = _c2(tmp_path, internal=Internal(parse_networks(["192.168.0.0/16"], "test")))
    assert [(d.ip, d.why) for d in story.destinations] == [
        ("10.0.5.13", "alerted process (evil.exe)")
    ]
    assert "contact with 10.0.5.13" in story.title
    # by default private space is ours: the same address is no destination
    (tmp_path / "b").mkdir()
    assert _c2(tmp_path / "b").destinations == ()


def test_internal_networks_from_option_and_assets_file(tmp_path: Path):
    assets = tmp_path / "assets.yml"
    assets.write_text("internal_networks: [10.1.0.0/16]\nassets: []\n")
    internal = internal_from(["192.168.0.0/16"], load_assets(assets))
    assert internal("10.1.2.3") and internal("192.168.9.9") and internal("127.0.0.1")
    assert not internal("10.0.5.13") and not internal("8.8.8.8")
    assert Internal()("10.0.5.13") and not Internal()("203.0.113.5")
    assert internal("239.255.255.250") and internal("255.255.255.255")
    with pytest.raises(UsageError):
        internal_from(["10.0.0.0/33"], load_assets(None))
    assets.write_text("internal_networks: 10.0.0.0/8\n")
    with pytest.raises(UsageError):
        load_assets(assets)


def _story(**kw: Any) -> Story:
    base = Story(
        id="S-1",
        score=0.0,
        score_parts=(),
        patient_zero=PatientZero("ws1"),
        hosts=(),
        exfiltration=(),
        stages=(),
        techniques=(),
        evidence=(),
    )
    return dataclasses.replace(base, **kw)


def test_kill_chain_score_text_counts_steps_and_names_the_one_out_of_order():
    stages = tuple(
        Stage(t, T0 + dt.timedelta(hours=h), None)
        for t, h in (
            ("execution", 1),
            ("persistence", 2),
            ("lateral_movement", 0),
            ("exfiltration", 3),
        )
    )
    parts = {p.name: p for p in score_story(_story(stages=stages), [], None, load_assets(None))}
    text = parts["kill_chain_order"].detail
    assert text.startswith("2 of 3 steps between phases in kill-chain order")
    assert text.endswith("; out of order: lateral_movement before persistence")
    ordered = tuple(
        dataclasses.replace(s, first_seen=T0 + dt.timedelta(hours=i)) for i, s in enumerate(stages)
    )
    text = {p.name: p for p in score_story(_story(stages=ordered), [], None, load_assets(None))}
    assert "out of order" not in text["kill_chain_order"].detail


def test_title_names_the_destination_host_not_its_registered_domain():
    from spearhunt.correlate.story import _title

    flow = ExfilFlow(
        "ws1",
        "upload.cloud-sync-backup.example.net",
        1,
        T0,
        T0,
        "203.0.113.9",
        "upload.cloud-sync-backup.example.net",
    )
    assert _title(_story(exfiltration=(flow,))).endswith(
        "exfiltration to upload.cloud-sync-backup.example.net"
    )


def test_story_without_technique_gets_no_navigator_layer(tmp_path: Path):
    from spearhunt.report.render import write_report
    from tests.report.cases import _save, _store

    store = tmp_path / "case.duckdb"
    _store(store).close()
    bare = _story(first_seen=T0, last_seen=T0)
    _save(store, CorrelationResult(stories=(bare,)))
    written = write_report(store, tmp_path / "out", ("navigator",))
    names = sorted(p.name for _, p in written.files)
    assert names == ["navigator-case.json"]


def test_unassigned_detections_are_shown_by_correlate_and_the_report(tmp_path: Path):
    from rich.console import Console

    from spearhunt.model.story import Unassigned
    from spearhunt.report import html
    from spearhunt.report.document import load
    from spearhunt.report.story import unassigned_table
    from tests.report.cases import _save, _store

    left = Unassigned("ws9.corp", "Noisy <b>Tool</b> Started", "high", 7, T0, T0)
    result = CorrelationResult(stories=(), unassigned=(left,))
    console = Console(record=True, width=200)
    console.print(unassigned_table(result))
    text = console.export_text()
    assert "7 high/critical detections in no story" in text and "Noisy <b>Tool</b> Started" in text
    assert unassigned_table(CorrelationResult(stories=())) is None
    store = tmp_path / "case.duckdb"
    _store(store).close()
    _save(store, result)
    page = html.render(load(store))
    assert 'id="unassigned"' in page and "Noisy &lt;b&gt;Tool&lt;/b&gt; Started" in page
    empty = tmp_path / "empty.duckdb"
    _store(empty).close()
    _save(empty, CorrelationResult(stories=()))
    assert 'id="unassigned"' not in html.render(load(empty))


def explicit(host: str, t: float, user: str, server: str, ip: str) -> dict[str, Any]:
    return {
        "Computer": host,
        "Channel": "Security",
        "EventID": 4648,
        "TimeCreated": _at(t),
        "SubjectUserName": user,
        "TargetUserName": user,
        "TargetServerName": server,
        "IpAddress": ip,
        "ProcessName": "C:\\Windows\\System32\\cmd.exe",
    }


def test_second_hop_over_winrm_without_any_alert_on_the_target(tmp_path: Path):
    # ws1 (alert) -> ws2 with explicit credentials and a service -> ws3 over WinRM: on ws3
    # only the 4624 and wsmprovhost's start, no rule fires there
    hosts = {"ws1.corp": "10.0.0.1", "ws2.corp": "10.0.0.2", "ws3.corp": "10.0.0.3"}
    events = [
        *_background(hosts),
        proc("ws1.corp", 10, "C:\\x\\evil.exe", "{e1}"),
        explicit("ws1.corp", 100, "bob", "ws2.corp", "10.0.0.2"),
        logon("ws2.corp", 101, "10.0.0.1"),
        service("ws2.corp", 102),
        logon("ws3.corp", 200, "10.0.0.2"),
        proc(
            "ws3.corp",
            201,
            "C:\\Windows\\System32\\wsmprovhost.exe",
            "{w3}",
            parent="C:\\Windows\\System32\\svchost.exe",
        ),
    ]
    top = _case(tmp_path, events).stories[0]
    assert _hosts(top) == {"ws1": None, "ws2": "ws1", "ws3": "ws2"}
    assert {short_host(h.host): h.via for h in top.hosts}["ws3"] == "T1021.006"
    # without wsmprovhost the logon ran nothing that shows: ws3 stays out
    (tmp_path / "b").mkdir()
    top = _case(tmp_path / "b", events[:-1]).stories[0]
    assert "ws3" not in _hosts(top)
