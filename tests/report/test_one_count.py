"""One case, one count: the hunt, the report and its timelines count the same detections;
the helper rules of Sigma correlation rules (``generate: false``) feed the correlations but
are not alerts anywhere."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import duckdb

from spearhunt.model.detection import Detection, RuleInfo
from spearhunt.report.document import load
from spearhunt.store import detections as det
from spearhunt.store.case import CaseStore, open_case


def _detection(rule: RuleInfo, eid: int) -> Detection:
    return Detection(
        rule, datetime(2026, 3, 2, 10, eid), "ws1", "Security", 4624, eid, "x", {}, eid
    )


def test_helper_rule_detections_are_stored_for_correlation_but_not_counted(tmp_path: Path):
    alert = RuleInfo("r-alert", "Alert", "high", ("attack.execution",))
    helper = RuleInfo("r-helper", "Helper", "low", ("attack.lateral-movement",), output=False)
    store = CaseStore(tmp_path / "c.duckdb", "test")
    store.add_detections([_detection(alert, 1), _detection(helper, 2), _detection(helper, 3)])
    store.finish(0, 3)
    store.close()
    with open_case(tmp_path / "c.duckdb") as case:
        assert det.counts(case).detections == 1
        assert [a.rule_id for a in det.alerts(case)] == ["r-alert"]
        assert [r.rule_id for r in det.timeline(case)] == ["r-alert"]
        assert {t for _, t, _ in det.host_tactics(case)} == {"execution"}
        # the correlation rules still read their helpers' matches
        assert [m.eid for m in det.base_matches(case, ["r-helper"], [])] == [2, 3]


def test_a_case_stored_before_helper_rules_were_marked_counts_everything(tmp_path: Path):
    path = tmp_path / "old.duckdb"
    store = CaseStore(path, "test")
    store.add_detections([_detection(RuleInfo("r1", "One", "high"), 1)])
    store.finish(0, 1)
    store.close()
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE rules DROP COLUMN output")  # as a version-2 case has it
    con.execute("UPDATE case_meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    with open_case(path) as case:
        assert det.counts(case).detections == 1


def test_the_demo_counts_the_same_detections_in_hunt_report_and_timelines(demo_dir: Path):
    hunted = len((demo_dir / "detections.jsonl").read_text().splitlines())
    with open_case(demo_dir / "case.duckdb") as case:
        stored = case.con.execute("SELECT count(*) FROM detections").fetchone()[0]  # type: ignore[index]
    assert stored > hunted, "the demo's correlation rules have helper rules: the case keeps them"
    assert load(demo_dir / "case.duckdb").detections == hunted
    rows = list(csv.DictReader((demo_dir / "report" / "timesketch.csv").open(encoding="utf-8")))
    assert sum(r["kind"] == "detection" for r in rows) == hunted
    lines = (demo_dir / "report" / "timesketch.jsonl").read_text().splitlines()
    assert sum(json.loads(x).get("kind") == "detection" for x in lines) == hunted
