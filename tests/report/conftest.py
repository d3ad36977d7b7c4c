"""Cases shared by the report tests: a simulated campaign (the demo), a hostile case, a big one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spearhunt.cli.main import run
from tests.report.browser import Browser, browser
from tests.report.cases import hostile_case


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``spearhunt demo`` output: simulated campaign, case store, and its report/ folder."""
    out = tmp_path_factory.mktemp("demo") / "d"
    assert run(["-q", "demo", "--out", str(out), "--seed", "7"]) == 0
    return out


@pytest.fixture(scope="session")
def demo_store(demo_dir: Path) -> Path:
    """The demo's case store (correlated)."""
    return demo_dir / "case.duckdb"


@pytest.fixture(scope="session")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A case whose every field is an injection attempt."""
    return hostile_case(tmp_path_factory.mktemp("hostile") / "case.duckdb")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the session (skips locally without it, fails under CI)."""
    with browser() as b:
        yield b
