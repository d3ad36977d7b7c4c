"""The posture section of the HTML report: the demo's five defences and the per-story table
render in real Chromium without a console error, hostile finding text stays text, and the
coverage layer is a valid Navigator 4.5 layer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import orjson
import pytest

from spearhunt.model.posture import ControlResult, Finding, PostureResult, StepVerdict
from spearhunt.report.posture import coverage_layer
from spearhunt.report.render import write_report
from spearhunt.store.posture import save_result
from tests.conftest import FIXTURES
from tests.report.browser import Browser, artifact_dir

EVIL = '<script>alert("posture")</script><img src=x onerror=alert(1)>'


def test_demo_report_shows_the_defences_and_the_step_tables(
    demo_dir: Path, chromium: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    html = demo_dir / "report" / "report.html"
    with chromium.open(html) as (page, log):
        section = page.locator("section#posture")
        assert section.count() == 1
        assert section.locator(".control").count() == 5
        statuses = section.locator(".control .badge").all_inner_texts()
        assert "FAIL" in statuses
        assert section.locator("table.steps").count() >= 1
        text = section.inner_text()
        assert "Which defence would have stopped which step" in text
        assert "would have stopped" in text and "did not stop" in text
        assert page.locator('nav a[href="#posture"]').count() == 1
        section.scroll_into_view_if_needed()
        shot = artifact_dir(tmp_path_factory) / "posture-section.png"
        section.screenshot(path=str(shot))
        assert log.console_errors == [], log.console_errors
        assert log.foreign_requests == [] and log.dialogs == []
    assert shot.stat().st_size > 10_000


def test_hostile_finding_text_is_rendered_as_text(
    demo_dir: Path, chromium: Browser, tmp_path: Path
) -> None:
    store = tmp_path / "case.duckdb"
    shutil.copy(demo_dir / "case.duckdb", store)
    evil = PostureResult(
        controls=(
            ControlResult(
                "mfa",
                "fail",
                10,
                EVIL,
                (EVIL,),
                (Finding("critical", EVIL, EVIL, EVIL, (EVIL,), (EVIL,), "single_factor"),),
            ),
        ),
        steps=(StepVerdict(EVIL, EVIL, "mfa", "did not stop", EVIL),),
    )
    save_result(store, evil.to_dict())
    html = write_report(store, tmp_path / "r", ("html",)).path("html")
    assert html is not None
    raw = html.read_text()
    assert "<script>alert(" not in raw and "&lt;script&gt;" in raw
    with chromium.open(html) as (page, log):
        assert page.locator("section#posture").count() == 1
        assert EVIL in page.locator("section#posture").inner_text()
        assert log.dialogs == [] and log.console_errors == []


def test_coverage_layer_is_a_valid_navigator_layer(demo_dir: Path) -> None:
    from spearhunt.store.case import open_case
    from spearhunt.store.posture import saved_result

    with open_case(demo_dir / "case.duckdb") as case:
        doc = saved_result(case)
    assert doc is not None
    layer = coverage_layer(PostureResult.from_dict(doc))
    schema = json.loads((FIXTURES / "navigator" / "layer-4.5.schema.json").read_text())
    jsonschema.validate(orjson.loads(orjson.dumps(layer)), schema)
    assert layer["techniques"] and all(
        t["techniqueID"].startswith("T") for t in layer["techniques"]
    )
