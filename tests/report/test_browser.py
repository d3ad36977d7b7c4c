"""The HTML report in real headless Chromium: the demo campaign renders its sections without a
console error, the evidence table filters and sorts, and hostile data never executes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spearhunt.report.render import write_report
from tests.report.browser import Browser, artifact_dir
from tests.report.cases import EVIL, PAYLOADS

SECTIONS = ("#summary", "#attack", "#hosts", "#mail", "#iocs")

# Elements and attributes a payload would need to run, fetch or navigate.
DANGER_JS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (/^on/i.test(a.name)) bad.push(el.tagName + ' ' + a.name);
      if (/^(href|src|action|formaction|xlink:href)$/i.test(a.name) && !/^#/.test(a.value)) bad.push(el.tagName + ' ' + a.name + '=' + a.value);
      if (a.name === 'style') bad.push(el.tagName + ' style');
    }
  }
  for (const sel of ['iframe', 'img', 'link', 'base', 'form', 'object', 'embed', 'meta[http-equiv=refresh]', 'math', 'foreignObject'])
    for (const el of document.querySelectorAll(sel)) bad.push(sel);
  return {bad, scripts: document.scripts.length, styles: document.querySelectorAll('style').length};
}"""


def test_demo_report_renders_every_section_without_console_errors(
    demo_dir: Path, chromium: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    html = demo_dir / "report" / "report.html"
    shots = artifact_dir(tmp_path_factory)
    with chromium.open(html) as (page, log):
        for sel in SECTIONS:
            assert page.locator(sel).count() == 1, sel
        stories = page.locator("section.story")
        assert stories.count() >= 1
        first = stories.first
        for part in (
            "figure.timeline svg",
            "figure.graph svg",
            "figure.heatmap svg",
            ".mail-verdict",
            "table.hosts-table",
            "table.evidence",
        ):
            assert first.locator(part).count() >= 1, part
        text = page.inner_text("body")
        assert "Summary for the incident lead" in text
        assert (
            "ws-003" in text and "Contract amendment" in text
        )  # the simulated patient zero and lure
        assert first.locator("table.evidence tbody tr").count() > 10
        shot = shots / "demo-report.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot of the demo report: {shot}")
        assert log.console_errors == [], log.console_errors
        assert log.dialogs == []
        assert log.foreign_requests == [], log.foreign_requests
    assert shot.stat().st_size > 20_000


def test_evidence_table_filters_and_sorts(demo_dir: Path, chromium: Browser) -> None:
    with chromium.open(demo_dir / "report" / "report.html") as (page, log):
        story = page.locator("section.story").first
        rows = story.locator("table.evidence tbody tr")
        total = rows.count()
        story.locator(".tools input").fill("lsass")
        visible = story.locator("table.evidence tbody tr:not([hidden])")
        assert 0 < visible.count() < total
        assert all("lsass" in t.lower() for t in visible.all_inner_texts())
        story.locator(".tools input").fill("")
        story.locator(".tools select").select_option("alert")
        assert all(k == "alert" for k in (r.get_attribute("data-kind") for r in visible.all()))
        story.locator(".tools select").select_option("")
        assert visible.count() == total
        level_header = story.locator("table.evidence thead th", has_text="Level")
        level_header.click()
        level_header.click()  # descending: the worst level first
        first_level = story.locator("table.evidence tbody tr").first.get_attribute("data-kind")
        assert first_level is not None
        ranks = [
            int(c.get_attribute("data-sort"))
            for c in story.locator("table.evidence tbody tr td:nth-child(4)").all()
        ]
        assert ranks == sorted(ranks, reverse=True)
        assert log.console_errors == []


@pytest.mark.parametrize("keep_csp", [True, False], ids=["with-csp", "escaping-alone"])
def test_hostile_fields_never_execute_and_page_still_renders(
    hostile_store: Path, chromium: Browser, tmp_path: Path, keep_csp: bool
) -> None:
    """Script tags, event handlers, javascript: URLs and CSS tricks in every field: no dialog,
    no request, no console error (a CSP violation would be one), the text shown as text. The
    second run strips the CSP so escaping alone is what is tested."""
    written = write_report(hostile_store, tmp_path / "out", ("html",))
    html = written.path("html")
    assert html is not None
    if not keep_csp:
        doc = html.read_text(encoding="utf-8")
        stripped = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", doc, count=1)
        assert stripped != doc
        html.write_text(stripped, encoding="utf-8")
    with chromium.open(html, settle_ms=800) as (page, log):
        page.mouse.move(300, 300)
        for sel in ("figure.timeline .mark", "figure.graph g.node rect", "#ioc-table td.mono"):
            if page.locator(sel).count():
                page.locator(sel).first.hover(force=True, timeout=5000)
        assert log.dialogs == [], log.dialogs
        assert log.foreign_requests == [], log.foreign_requests
        assert log.console_errors == [], log.console_errors
        found = page.evaluate(DANGER_JS)
        assert found["bad"] == [], found["bad"][:10]
        assert found["scripts"] == 1 and found["styles"] == 1
        assert page.locator("section.story").count() == 1
        assert page.locator("figure.timeline svg").count() == 1
        text = page.inner_text("body")
        for payload in PAYLOADS[:6]:
            assert payload.strip() in text, payload  # shown, as text
        assert (
            "[U+202E]" in text and "\u202e" not in text
        )  # no right-to-left override reaches the screen
        assert page.title().startswith("spearhunt report")
    assert EVIL not in " ".join(log.requests)
