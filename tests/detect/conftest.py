"""Helpers to run small Sigma rules over small event lists, on both evaluation paths."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest

from spearhunt.detect.engine import matching
from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.sigma.compiler import RuleCompiler
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import sniff

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def sysmon1(**fields: Any) -> dict[str, Any]:
    """A flat Sysmon process-creation event."""
    return {
        "EventID": 1,
        "Channel": SYSMON,
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "Computer": "ws1",
        "TimeCreated": "2024-01-01T00:00:00Z",
        **fields,
    }


def compile_yaml(tmp: Path, rule: str, placeholders: dict[str, list[str]] | None = None):
    path = tmp / "rule.yml"
    path.write_text(textwrap.dedent(rule))
    return RuleCompiler(placeholders, use_cache=False).compile_file(path)


def run(
    tmp: Path,
    rule: str,
    events: list[dict[str, Any]],
    mode: str,
    placeholders: dict[str, list[str]] | None = None,
) -> list[int]:
    """Indices (0-based) of the events the rule matches, by one evaluation path: SQL or
    Python, over the slice table or its de-duplicated form."""
    result = compile_yaml(tmp, rule, placeholders)
    assert not result.problems, result.problems
    data = tmp / "events.jsonl"
    data.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    mp = pytest.MonkeyPatch()
    sql = mode.startswith("sql")
    mp.setattr(matching, "PYTHON_ROWS_MAX", 0 if sql else 10**9)
    mp.setattr(matching, "PYTHON_WORK_MAX", 0 if sql else 10**12)
    mp.setattr(matching, "DEDUP_MIN", 0 if mode.endswith("dedup") else 10**12)
    try:
        eng = DuckEngine(result.rules, on_warning=lambda w: None)
        src = sniff(data)
        i = eng.source(str(data))
        for b in read_events(src, lambda w: None):
            eng.add(i, b)
        eng.run_rules()
        return sorted(d.event_key - 1 for d in eng.detections())
    finally:
        mp.undo()


@pytest.fixture(params=["sql", "python", "sql-dedup", "python-dedup"])
def match(request, tmp_path):
    """``match(rule_yaml, events) -> matched indices`` on one evaluation path."""

    def _match(rule: str, events: list[dict[str, Any]], **kw: Any) -> list[int]:
        return run(tmp_path, rule, events, request.param, **kw)

    return _match
