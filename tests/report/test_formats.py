"""Navigator layers, the STIX bundle and the timelines of the demo campaign and of the hostile
case: valid for the tools that import them, exact where they should be, defused where a
spreadsheet would otherwise run them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import jsonschema
import orjson
import pytest

from spearhunt.report.detections import csv_safe
from spearhunt.report.document import load
from spearhunt.report.render import write_report
from spearhunt.report.stix import literal
from spearhunt.report.timeline import HAYABUSA_COLUMNS
from tests.conftest import FIXTURES
from tests.report.cases import PAYLOADS

SCHEMA = json.loads((FIXTURES / "navigator" / "layer-4.5.schema.json").read_text())


@pytest.fixture(scope="module")
def demo_out(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("formats")
    write_report(demo_store, out)
    return out


@pytest.fixture(scope="module")
def hostile_out(hostile_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile-formats")
    write_report(hostile_store, out)
    return out


# -- Navigator -----------------------------------------------------------------------------------
def test_navigator_layers_validate_against_the_4_5_schema(
    demo_out: Path, hostile_out: Path
) -> None:
    layers = sorted(demo_out.glob("navigator-*.json")) + sorted(
        hostile_out.glob("navigator-*.json")
    )
    assert len(layers) >= 3  # case + one per story, twice
    for path in layers:
        jsonschema.validate(json.loads(path.read_text()), SCHEMA)


def test_schema_rejects_what_the_navigator_would(demo_out: Path) -> None:
    layer = json.loads((demo_out / "navigator-case.json").read_text())
    for broken in (
        {**layer, "versions": {**layer["versions"], "layer": "4.4"}},
        {**layer, "techniques": [{"techniqueID": "T1059", "tactic": "lateral_movement"}]},
        {**layer, "gradient": {"colors": ["#fff"], "minValue": 0, "maxValue": 1}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def test_case_layer_scores_by_severity_and_frequency_and_names_rules(demo_out: Path) -> None:
    layer = json.loads((demo_out / "navigator-case.json").read_text())
    by_key = {(t["techniqueID"], t.get("tactic")): t for t in layer["techniques"]}
    phish = by_key[("T1566.001", "initial-access")]
    assert "Office Application Spawns a Shell or Script Host" in phish["comment"]
    assert any(m.get("name") == "rule" for m in phish["metadata"])
    # high and frequent outranks low and frequent
    assert phish["score"] > by_key[("T1078", "stealth")]["score"]
    assert layer["gradient"]["maxValue"] == max(t["score"] for t in layer["techniques"])


def test_story_layer_comments_carry_evidence(demo_out: Path, demo_store: Path) -> None:
    top = load(demo_store).stories[0].story
    layer = json.loads((demo_out / f"navigator-{top.id}.json").read_text())
    rdp = next(t for t in layer["techniques"] if t["techniqueID"] == "T1021.001")
    assert "Evidence:" in rdp["comment"] and "RDP logon" in rdp["comment"]
    assert {t["techniqueID"] for t in layer["techniques"]} >= {
        "T1566.001",
        "T1003.001",
        "T1021.001",
    }


# -- STIX ----------------------------------------------------------------------------------------
def _bundle(out: Path) -> dict:
    return json.loads((out / "stix-bundle.json").read_text())


@pytest.mark.parametrize("which", ["demo_out", "hostile_out"])
def test_stix_bundle_parses_with_stix2_and_passes_the_validator(
    which: str, request: pytest.FixtureRequest
) -> None:
    stix2 = pytest.importorskip("stix2")
    bundle = _bundle(request.getfixturevalue(which))
    parsed = stix2.parse(bundle, allow_custom=False)
    assert len(parsed.objects) == len(bundle["objects"])
    validator = pytest.importorskip("stix2validator")
    result = validator.validate_instance(bundle, validator.ValidationOptions(version="2.1"))
    assert result.is_valid, result.errors
    assert result.warnings == [] if which == "demo_out" else True


def test_stix_indicators_cover_hashes_urls_domains_ips_and_mail_and_indicate_the_campaign(
    demo_out: Path, demo_dir: Path
) -> None:
    objs = _bundle(demo_out)["objects"]
    patterns = " ".join(o["pattern"] for o in objs if o["type"] == "indicator")
    # The exfiltration's destination address, as the simulator allocated it.
    truth = json.loads((demo_dir / "simulation" / "truth.json").read_text())
    exfil_ip = truth["story"]["exfiltration"][0]["destination"]["ip"]
    for needle in (
        "file:hashes.'SHA-256' = 'a7bff0804ecf05fc4d640a7ade6f971010928c95a9e36d248153cb38fe25c53e'",
        "url:value = 'https://templates.example.com/",
        "domain-name:value = 'upload.cloud-sync-backup",
        f"ipv4-addr:value = '{exfil_ip}'",
        "email-addr:value = 'anna.baxter@",
    ):
        assert needle in patterns, needle
    campaigns = {o["id"] for o in objs if o["type"] == "campaign"}
    indicates = [
        o for o in objs if o["type"] == "relationship" and o["relationship_type"] == "indicates"
    ]
    assert indicates and all(r["target_ref"] in campaigns for r in indicates)
    uses = [o for o in objs if o["type"] == "relationship" and o["relationship_type"] == "uses"]
    assert any(
        o["type"] == "attack-pattern" and o["external_references"][0]["external_id"] == "T1566.001"
        for o in objs
    )
    assert uses


def test_stix_ids_are_stable_across_runs(demo_store: Path, tmp_path: Path, demo_out: Path) -> None:
    write_report(demo_store, tmp_path, ("stix",))
    ids = lambda b: sorted(o["id"] for o in b["objects"])  # noqa: E731
    assert ids(_bundle(tmp_path)) == ids(_bundle(demo_out))


def test_stix_pattern_literals_escape_quotes_and_backslashes() -> None:
    pattern = pytest.importorskip("stix2patterns.v21.pattern")
    value = "x'y\\z' OR [file:name = 'a"
    assert literal(value) == "'x\\'y\\\\z\\' OR [file:name = \\'a'"
    parsed = pattern.Pattern(f"[email-addr:value = {literal(value)}]")
    assert parsed.inspect().comparisons["email-addr"] == [(["value"], "=", literal(value))]


# -- timelines -------------------------------------------------------------------------------------
def test_timesketch_files_have_the_mandatory_columns_and_every_detection(
    demo_out: Path, demo_store: Path
) -> None:
    rep = load(demo_store)
    lines = [orjson.loads(x) for x in (demo_out / "timesketch.jsonl").read_bytes().splitlines()]
    assert all({"message", "datetime", "timestamp_desc"} <= set(r) and r["message"] for r in lines)
    assert sum(r["kind"] == "detection" for r in lines) == rep.detections
    assert [r["timestamp"] for r in lines] == sorted(r["timestamp"] for r in lines)
    assert {"mail", "network"} <= {r["kind"] for r in lines}
    top = rep.stories[0].story.id
    assert any(top in r["story_ids"] for r in lines if r["kind"] == "detection")
    with (demo_out / "timesketch.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {"message", "datetime", "timestamp_desc"} <= set(rows[0])
    assert len(rows) == len(lines)


def test_hayabusa_csv_has_its_columns_and_levels(demo_out: Path, demo_store: Path) -> None:
    with (demo_out / "hayabusa.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        assert tuple(next(reader)) == HAYABUSA_COLUMNS
        rows = list(reader)
    assert len(rows) >= load(demo_store).detections
    assert {r[2] for r in rows} <= {"crit", "high", "med", "low", "info"}
    assert rows[0][0].endswith(" +00:00")


def test_no_csv_cell_of_the_hostile_case_starts_a_formula(hostile_out: Path) -> None:
    cells = 0
    for name in ("timesketch.csv", "hayabusa.csv"):
        with (hostile_out / name).open(newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    cells += 1
                    assert cell.lstrip(" \t\r\n")[:1] not in ("=", "+", "-", "@", "\uff1d"), (
                        name,
                        cell[:60],
                    )
    assert cells > 100
    jsonl = (hostile_out / "timesketch.jsonl").read_text(encoding="utf-8")
    assert json.dumps(PAYLOADS[18])[1:-1] in jsonl  # JSON stays exact


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        (" =cmd", "' =cmd"),
        ("+x", "'+x"),
        ("-2", "'-2"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=x", "'\t=x"),
        ("\uff1dx", "'\uff1dx"),
        ("plain", "plain"),
        ("", ""),
        (None, ""),
        ("a=b", "a=b"),
    ],
)
def test_csv_safe_defuses_formula_starts(value: object, expected: str) -> None:
    assert csv_safe(value) == expected
