"""SigmaHQ's regression set: each named rule fires on its sample (EVTX and JSON twin)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from tests.conftest import shared_data

from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.sigma.compiler import RuleCompiler
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import sniff

pytestmark = pytest.mark.shared_data

# Samples that hold more matching events than their info.yml counts: every extra event
# matches the rule when read by hand (and Zircolite, the reference engine, counts the same).
KNOWN_COUNT_ERRATA = {
    "0b9ad457-2554-44c1-82c2-d56a99c42377": 3,  # Anydesk Temporary Artefact
    "8fbf3271-1ef6-4e94-8210-03c2317947f6": 3,  # Cred Dump Tools Dropped Files
    "45e112d0-7759-4c2a-aa36-9f8fb79d3393": 3,  # IE Change Domain Zone
    "c7dcacd0-cc59-4004-b0a4-1d6cdebe6f3e": 2,  # Disable Administrative Share Creation
}
ID_LINE = re.compile(rb"^id:\s*([0-9a-fA-F-]{36})\s*$", re.MULTILINE)


def _cases(sigma: Path) -> list[tuple[str, str, int | None, Path]]:
    out = []
    for info in sorted((sigma / "regression_data").rglob("info.yml")):
        doc = yaml.safe_load(info.read_text()) or {}
        for test in doc.get("regression_tests_info") or []:
            rid = doc["rule_metadata"][0]["id"]
            title = doc["rule_metadata"][0].get("title", "")
            out.append((rid, title, test.get("match_count"), sigma / test["path"]))
    return out


def _rule_files(sigma: Path, wanted: set[str]) -> dict[str, Path]:
    found = {}
    for folder in ("rules", "rules-threat-hunting", "rules-emerging-threats"):
        for f in (sigma / folder).rglob("*.yml"):
            m = ID_LINE.search(f.read_bytes())
            if m and m.group(1).decode() in wanted:
                found[m.group(1).decode()] = f
    return found


def _count(rule_file: Path, sample: Path, cache: Path) -> int:
    result = RuleCompiler(cache=cache).compile_file(rule_file)
    assert result.rules, result.problems
    eng = DuckEngine(result.rules, on_warning=lambda w: None)
    src = sniff(sample)
    idx = eng.source(str(sample))
    for batch in read_events(src, lambda w: None):
        eng.add(idx, batch)
    eng.run_rules()
    return sum(1 for _ in eng.detections())


def test_every_regression_sample_fires_its_rule(tmp_path_factory):
    sigma = shared_data("sigma")
    cases = _cases(sigma)
    assert len(cases) >= 150
    files = _rule_files(sigma, {c[0] for c in cases})
    cache = tmp_path_factory.mktemp("rule-cache")
    passed, failures = 0, []
    for rid, title, expected, sample in cases:
        if rid not in files:
            failures.append(f"{rid} {title}: rule file not found")
            continue
        want = KNOWN_COUNT_ERRATA.get(rid, expected)
        for path in (sample, sample.with_suffix(".json")):
            if path.suffix == ".json" and not path.exists():
                continue
            got = _count(files[rid], path, cache)
            if got == 0 or (want is not None and got != want):
                failures.append(
                    f"{rid} {title} [{path.suffix}]: {got} detections, expected {want or '>=1'}"
                )
            else:
                passed += 1
    print(f"\nSigmaHQ regression set: {passed} samples pass, {len(failures)} fail")
    for f in failures:
        print("  FAIL", f)
    assert not failures
