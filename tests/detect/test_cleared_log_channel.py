"""A rule's own ``Channel`` is the event's field where the event has one (issue 12, item 8).

Event 104 ("log file cleared") is written to the System log and names the cleared log in its
own ``Channel`` field (EVTX UserData, Winlogbeat ``user_data``, recovered from the message in
the flat shape, where the System value takes the key). SigmaHQ's "Important Windows Eventlog
Cleared" names both: the logsource's ``Channel: System`` and the cleared log. It must fire
when an important log was cleared and not for any other log, in every shape.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.conftest import shared_data

from spearhunt.detect.engine import matching
from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.hunt import HuntOptions, hunt
from spearhunt.detect.sigma.compiler import CompiledRule, RuleCompiler
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import sniff
from spearhunt.model.detection import Detection

EVENTLOG = "Microsoft-Windows-Eventlog"
# The detection of SigmaHQ's rule 100ef69e-3327-481c-8e5c-6d80d9507556, abridged.
CLEARED_RULE = """\
title: Important Windows Eventlog Cleared
id: 100ef69e-3327-481c-8e5c-6d80d9507556
status: test
logsource:
    product: windows
    service: system
detection:
    selection:
        EventID: 104
        Provider_Name: 'Microsoft-Windows-Eventlog'
        Channel:
            - 'Microsoft-Windows-PowerShell/Operational'
            - 'Security'
            - 'System'
    condition: selection
level: high
"""
# A product-wide rule naming the channel in its detection: on events with no Channel field of
# their own it still means the System channel.
LOGON_RULE = """\
title: Logon in the Security log
id: 3b8a6f7e-1111-4a55-9d55-0c4b58d1c2f0
status: test
logsource:
    product: windows
detection:
    selection:
        Channel: Security
        EventID: 4624
    condition: selection
level: low
"""


def evtx(rec: int, cleared: str) -> dict[str, Any]:
    return {
        "Event": {
            "System": {
                "Provider": {"#attributes": {"Name": EVENTLOG}},
                "EventID": 104,
                "Channel": "System",
                "Computer": "ws1",
                "EventRecordID": rec,
                "TimeCreated": {"#attributes": {"SystemTime": "2024-01-01T00:00:00Z"}},
            },
            "UserData": {
                "LogFileCleared": {"SubjectUserName": "adm", "Channel": cleared, "BackupPath": ""}
            },
        }
    }


def ecs(rec: int, cleared: str) -> dict[str, Any]:
    return {
        "@timestamp": "2024-01-01T00:00:00Z",
        "winlog": {
            "channel": "System",
            "event_id": 104,
            "provider_name": EVENTLOG,
            "computer_name": "ws1",
            "record_id": rec,
            "user_data": {
                "SubjectUserName": "adm",
                "Channel": cleared,
                "xml_name": "LogFileCleared",
            },
        },
    }


def flat(rec: int, cleared: str) -> dict[str, Any]:
    return {
        "SourceName": EVENTLOG,
        "Channel": "System",
        "Hostname": "ws1",
        "EventID": 104,
        "EventRecordID": rec,
        "TimeCreated": "2024-01-01T00:00:00Z",
        "Message": f"The {cleared} log file was cleared.",
    }


def evtx_logon(rec: int) -> dict[str, Any]:
    e = evtx(rec, "")
    e["Event"]["System"] |= {"EventID": 4624, "Channel": "Security"}
    e["Event"]["System"]["Provider"] = {
        "#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}
    }
    del e["Event"]["UserData"]
    e["Event"]["EventData"] = {"TargetUserName": "adm", "LogonType": 3}
    return e


SHAPES = {"evtx": evtx, "ecs": ecs, "flat": flat}
FOO = "Microsoft-Windows-Foo/Operational"


def corpus(tmp: Path) -> tuple[Path, list[CompiledRule], set[tuple[str, int]]]:
    """One file with a cleared Security log and a cleared Foo log in each shape, and a logon.

    Returns the file, the compiled rules and the (rule title, record id) pairs that must fire.
    """
    rules_dir = tmp / "rules"
    rules_dir.mkdir()
    (rules_dir / "cleared.yml").write_text(CLEARED_RULE)
    (rules_dir / "logon.yml").write_text(LOGON_RULE)
    events, want = [], set()
    for make in SHAPES.values():
        rec = len(events) + 1
        events += [make(rec, "Security"), make(rec + 1, FOO)]
        want.add(("Important Windows Eventlog Cleared", rec))
    events.append(evtx_logon(len(events) + 1))
    want.add(("Logon in the Security log", len(events)))
    data = tmp / "events.jsonl"
    data.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    result = RuleCompiler(use_cache=False).compile_all(sorted(rules_dir.glob("*.yml")))
    assert not result.problems, result.problems
    return data, result.rules, want


@pytest.mark.parametrize("path", ["sql", "python"])
def test_cleared_log_rule_reads_the_events_own_channel_in_every_shape(
    tmp_path: Path, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, rules, want = corpus(tmp_path)
    if path == "sql":
        monkeypatch.setattr(matching, "PYTHON_ROWS_MAX", 0)
        monkeypatch.setattr(matching, "PYTHON_WORK_MAX", 0)
    eng = DuckEngine(rules, on_warning=lambda w: None)
    src = eng.source(str(data))
    for batch in read_events(sniff(data), lambda w: None):
        eng.add(src, batch)
    eng.run_rules()
    got = {(d.rule.title, d.record_id) for d in eng.detections()}
    # a cleared Security log fires in each shape, a cleared Foo log in none
    assert got == want


def _otrf_104(tmp: Path, name: str) -> Path:
    """The event-104 records of an OTRF LSASS set (HELK flat JSON), read from its zip."""
    z = shared_data("otrf", "datasets", "compound", name.split("/")[0], name.split("/")[1])
    out = tmp / "system_104.json"
    with zipfile.ZipFile(z) as zf, zf.open(zf.namelist()[0]) as f, out.open("wb") as w:
        for line in f:
            if b'"EventID":104,' in line:
                w.write(line)
    return out


@pytest.mark.shared_data
def test_sigmahq_cleared_log_rule_on_real_flat_json_fires_for_powershell_not_kernel_io(
    tmp_path: Path,
) -> None:
    # LSASS_campaign_01's lab cleared Kernel-IO/Operational (not an important log) and
    # PowerShell/Operational (one): the flat System channel of both is "System".
    data = _otrf_104(tmp_path, "LSASS_campaign_01/metasploit_logonpasswords_lsass_memory_dump.zip")
    rule = shared_data(
        "sigma", "rules", "windows", "builtin", "system", "microsoft_windows_eventlog"
    )
    fired: list[Detection] = []
    summary = hunt(
        HuntOptions(
            paths=[str(data)],
            rules=[rule / "win_system_susp_eventlog_cleared.yml"],
            with_pack=False,
            use_cache=False,
        ),
        fired.append,
    )
    assert summary.events == 2
    assert [d.event.get("Channel") for d in fired] == ["Microsoft-Windows-PowerShell/Operational"]
