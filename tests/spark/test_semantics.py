"""Dialect cases on both engines, each rule with a positive and a negative event.

DuckDB (RE2, its LIKE, its NULLs) is the reference; Spark must agree on the Parquet that
``spearhunt ingest`` writes and on the same JSON Lines normalized by Spark itself. All cases
run in one hunt per engine: a Spark query costs seconds, a rule in it almost nothing.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import orjson
import pytest

from spearhunt.detect.engine import matching
from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.engine.parquet import ingest_to_parquet
from spearhunt.detect.engine.sql import java_regex
from spearhunt.detect.sigma.compiler import RuleCompiler
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import sniff

pytestmark = pytest.mark.spark

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def proc(**fields: str) -> dict:
    return {
        "EventID": 1,
        "Channel": SYSMON,
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "Computer": "ws1",
        "TimeCreated": "2024-01-01T00:00:00Z",
        **fields,
    }


def net(**fields: str) -> dict:
    return {**proc(**fields), "EventID": 3}


# name -> (detection YAML, category, positive event, negative event)
CASES = {
    "regex_flag_i": (
        "CommandLine|re|i: 'invoke-mimikatz'",
        "process_creation",
        proc(CommandLine="x Invoke-MIMIKATZ y"),
        proc(CommandLine="invoke mimikatz"),
    ),
    "regex_dollar_is_end_of_text": (
        r"CommandLine|re: 'evil\.exe$'",
        "process_creation",
        proc(CommandLine="c:\\evil.exe"),
        proc(CommandLine="c:\\evil.exe\n"),
    ),
    "regex_dot_and_newline": (
        "CommandLine|re: 'q.z'",
        "process_creation",
        proc(CommandLine="q\rz"),
        proc(CommandLine="q\nz"),
    ),
    "regex_escapes_and_braces": (
        r"CommandLine|re: '\{[0-9a-f]{8}\}|x{y'",
        "process_creation",
        proc(CommandLine="{deadbeef}"),
        proc(CommandLine="{dead} xy"),
    ),
    "regex_class_bracket": (
        r"CommandLine|re: '[[]ab]'",
        "process_creation",
        proc(CommandLine="[ab]"),
        proc(CommandLine="ab]"),
    ),
    "case_insensitive_endswith": (
        r"Image|endswith: '\CMD.exe'",
        "process_creation",
        proc(Image="C:\\Windows\\cmd.EXE"),
        proc(Image="C:\\cmd.exe.bak"),
    ),
    "cased_contains": (
        "CommandLine|cased|contains: 'Secret'",
        "process_creation",
        proc(CommandLine="a Secret b"),
        proc(CommandLine="a secret b"),
    ),
    "like_escapes_percent_underscore": (
        "CommandLine: 'a%b*c_d'",
        "process_creation",
        proc(CommandLine="a%bXXc_d"),
        proc(CommandLine="aXbXXcYd"),
    ),
    "like_backslash_literal": (
        r"CommandLine: 'C:\Temp\\*\x.exe'",
        "process_creation",
        proc(CommandLine="C:\\Temp\\foo\\x.exe"),
        proc(CommandLine="C:/Temp/foo/x.exe"),
    ),
    "escaped_wildcard": (
        r"CommandLine: 'what\?*'",
        "process_creation",
        proc(CommandLine="what?ever"),
        proc(CommandLine="whatxever"),
    ),
    "many_substrings": (
        "CommandLine|contains: [" + ", ".join(f"'tok{i}x'" for i in range(12)) + "]",
        "process_creation",
        proc(CommandLine="run TOK7X now"),
        proc(CommandLine="tok7 x"),
    ),
    "not_over_missing_field": (
        None,
        "process_creation",
        proc(Image="c:\\x.exe"),
        proc(Image="c:\\x.exe", ParentImage="c:\\explorer.exe"),
    ),
    "null_is_missing_or_empty": (
        None,
        "process_creation",
        proc(Image="c:\\y.exe", User=""),
        proc(Image="c:\\y.exe", User="bob"),
    ),
    "cidr": (
        "DestinationIp|cidr: '10.0.0.0/8'",
        "network_connection",
        net(DestinationIp="10.1.2.3"),
        net(DestinationIp="100.1.2.3"),
    ),
}
DETECTIONS = {
    "not_over_missing_field": """
        selection:
            Image|endswith: '\\x.exe'
        filter:
            ParentImage|contains: 'explorer'
        condition: selection and not filter""",
    "null_is_missing_or_empty": """
        selection:
            Image|endswith: '\\y.exe'
            User: null
        condition: selection""",
}


def rule_yaml(name: str, detection: str | None, category: str) -> str:
    body = (
        DETECTIONS.get(name)
        or f"""
        selection:
            {detection}
        condition: selection"""
    )
    return (
        textwrap.dedent(f"""\
        title: {name}
        id: {uuid.uuid5(uuid.NAMESPACE_URL, name)}
        status: test
        logsource:
            product: windows
            category: {category}
        detection:""")
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\nlevel: high\n"
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("semantics")
    rules_dir = tmp / "rules"
    rules_dir.mkdir()
    events, expected = [], {}
    for name, (detection, category, pos, neg) in CASES.items():
        (rules_dir / f"{name}.yml").write_text(rule_yaml(name, detection, category))
        expected[name] = len(events) + 1  # record id of the positive event
        events += [pos, neg]
    for i, e in enumerate(events, 1):
        e["EventRecordID"] = i
    data = tmp / "events.jsonl"
    data.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    result = RuleCompiler(use_cache=False).compile_all(sorted(rules_dir.glob("*.yml")))
    assert not result.problems, result.problems
    return tmp, data, result.rules, expected


def duck_hits(data: Path, rules) -> set[tuple[str, int]]:
    """DuckDB's SQL path (RE2 is the reference; its small-slice Python path reads ``$`` as
    Python does, before a final newline)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(matching, "PYTHON_ROWS_MAX", 0)
        mp.setattr(matching, "PYTHON_WORK_MAX", 0)
        eng = DuckEngine(rules, on_warning=lambda w: None)
        i = eng.source(str(data))
        for b in read_events(sniff(data), lambda w: None):
            eng.add(i, b)
        eng.run_rules()
        return {(d.rule.title, d.record_id) for d in eng.detections()}


def spark_hits(spark, paths: list[str], rules) -> set[tuple[str, int]]:
    from spearhunt.detect.engine.spark import SparkEngine
    from spearhunt.detect.engine.spark import read_events as spark_read

    eng = SparkEngine(spark, rules)
    hits = eng.run(spark_read(spark, paths))
    assert not eng.stats.failed_rules, eng.stats.failed_rules
    return {(d.rule.title, d.record_id) for d in eng.detections(hits)}


def test_duckdb_matches_each_positive_and_no_negative(corpus):
    _, data, rules, expected = corpus
    assert duck_hits(data, rules) == {(name, rec) for name, rec in expected.items()}


def test_spark_on_parquet_agrees_with_duckdb_on_every_case(corpus, spark):
    tmp, data, rules, expected = corpus
    out = tmp / "parquet"
    ingest_to_parquet([str(data)], out, on_warning=lambda w: None)
    got = spark_hits(spark, [str(out)], rules)
    want = {(name, rec) for name, rec in expected.items()}
    assert got == want, (sorted(want - got), sorted(got - want))


def test_spark_on_json_lines_agrees_with_duckdb_on_every_case(corpus, spark):
    _, data, rules, expected = corpus
    got = spark_hits(spark, [str(data)], rules)
    want = {(name, rec) for name, rec in expected.items()}
    assert got == want, (sorted(want - got), sorted(got - want))


@pytest.mark.parametrize(
    ("pattern", "flags", "java"),
    [
        ("a$", "", r"(?d)a\z"),
        ("a$", "m", "(?dm)a$"),
        ("(?P<x>a)", "i", "(?dui)(?<x>a)"),
        ("[[:alpha:]&&]", "", r"(?d)[\p{Alpha}\&\&]"),
        ("[]a]", "", r"(?d)[\]a]"),
        ("x{y}", "", r"(?d)x\{y}"),
        ("x{2,3}", "", "(?d)x{2,3}"),
        (r"\Q$[\E$", "", r"(?d)\Q$[\E\z"),
    ],
)
def test_java_regex_keeps_re2_meaning(pattern, flags, java):
    assert java_regex(pattern, flags) == java
