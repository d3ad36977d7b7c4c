"""A JSON event that gives a key twice has one value everywhere: the last (issue 15).

DuckDB's JSON functions read the first value of a repeated key, orjson (the output) the last:
an attacker could let a rule match a value the analyst never sees, or hide one from the
rules. The engine keeps the last value for the rules and the output alike, and says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.sigma.compiler import CompiledRule, RuleCompiler
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import sniff
from spearhunt.model import IngestWarning

RULE = """\
title: {title}
id: {id}
status: test
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\\{image}'
    condition: selection
level: high
"""
HEAD = (
    '"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", '
    '"Provider_Name": "Microsoft-Windows-Sysmon", "Computer": "ws1", '
    '"TimeCreated": "2024-01-01T00:00:00Z"'
)
# A flat record and an evtx_dump record, each naming Image twice; then a clean record.
FLAT = "{" + HEAD + ', "Image": "C:\\\\good.exe", "EventRecordID": 1, "Image": "C:\\\\evil.exe"}'
EVTX = (
    '{"Event": {"System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", '
    '"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "Computer": "ws1", '
    '"EventRecordID": 2, "TimeCreated": {"#attributes": {"SystemTime": "2024-01-01T00:00:01Z"}}}, '
    '"EventData": {"Image": "C:\\\\good.exe", "Image": "C:\\\\evil.exe", "User": "a"}}}'
)
CLEAN = "{" + HEAD + ', "Image": "C:\\\\good.exe", "EventRecordID": 3}'


def rules_and_events(tmp: Path, lines: list[str]) -> tuple[list[CompiledRule], Path]:
    """The two rules ("evil" and "good" Image) and ``lines`` as a JSON Lines file."""
    rules_dir = tmp / "rules"
    rules_dir.mkdir()
    for n, title in enumerate(("evil", "good")):
        rule_id = f"00000000-0000-4000-8000-00000000000{n}"
        (rules_dir / f"{title}.yml").write_text(
            RULE.format(title=title, image=f"{title}.exe", id=rule_id)
        )
    rules = RuleCompiler(use_cache=False).compile_all(sorted(rules_dir.glob("*.yml"))).rules
    data = tmp / "events.jsonl"
    data.write_text("\n".join(lines) + "\n")
    return rules, data


def _hunt(
    tmp: Path, lines: list[str], chunk_bytes: int | None = None
) -> tuple[set[tuple[str, int]], dict, list[IngestWarning]]:
    rules, data = rules_and_events(tmp, lines)
    warnings: list[IngestWarning] = []
    eng = DuckEngine(
        rules, on_warning=warnings.append, **({"chunk_bytes": chunk_bytes} if chunk_bytes else {})
    )
    src = eng.source(str(data))
    for batch in read_events(sniff(data), warnings.append):
        eng.add(src, batch)
    eng.run_rules()
    found = list(eng.detections())
    hits = {(d.rule.title, d.record_id) for d in found}
    images = {(d.rule.title, d.record_id): d.event.get("Image") for d in found}
    return hits, images, warnings


@pytest.mark.parametrize("chunk_bytes", [None, 4096], ids=["direct", "staged"])
def test_a_repeated_key_is_matched_and_output_with_its_last_value_and_said(
    tmp_path: Path, chunk_bytes: int | None
):
    hits, images, warnings = _hunt(tmp_path, [FLAT, EVTX, CLEAN], chunk_bytes)
    # the rules see the last Image of records 1 and 2, as the output does
    assert hits == {("evil", 1), ("evil", 2), ("good", 3)}
    assert images[("evil", 1)] == images[("evil", 2)] == "C:\\evil.exe"
    said = [w for w in warnings if "key given twice" in w.message]
    assert len(said) == 1
    assert said[0].source.endswith("events.jsonl") and said[0].line == 1
    assert said[0].message.startswith("2 JSON records")


@pytest.mark.parametrize("lines", [[CLEAN], [CLEAN, CLEAN.replace('"EventRecordID": 3', '"x": 1')]])
def test_no_warning_without_a_repeated_key(tmp_path: Path, lines: list[str]):
    hits, _, warnings = _hunt(tmp_path, lines)
    assert ("good", 3) in hits
    assert warnings == []
