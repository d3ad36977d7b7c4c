"""The scale bar: a case with 10k detections renders (HTML) in under 10 s and under 10 MB."""

from __future__ import annotations

import time
from pathlib import Path

from spearhunt.report.render import write_report
from tests.report.cases import large_case


def test_ten_thousand_detections_render_fast_and_small(tmp_path: Path) -> None:
    store = large_case(tmp_path / "case.duckdb", detections=10_000)
    started = time.perf_counter()
    written = write_report(store, tmp_path / "out", ("html",))
    seconds = time.perf_counter() - started
    html = written.path("html")
    assert html is not None
    size = html.stat().st_size
    print(f"\n10k detections: html {seconds:.2f}s, {size / 1e6:.2f} MB")
    assert written.report.detections == 10_000
    assert seconds < 10
    assert size < 10_000_000
    text = html.read_text(encoding="utf-8")
    assert text.count("<tr data-kind=") <= 10 * 300  # evidence is capped per story, not dumped
    assert "lower-scored stories are left out" in text
