"""The bench/ scripts behind the README's figures: each answers --help without running, says
what it measures, agrees with the README on how it is run, and the cheap ones still run."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "bench").glob("*.py"))


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_help_describes_the_script_without_running_it(script: Path) -> None:
    done = _run(str(script.relative_to(ROOT)), "--help", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:"), done.stdout[:200]
    # The description is the module's docstring, and it shows how to run the script.
    assert f"python bench/{script.name}" in done.stdout
    assert "PYTHONPATH" not in done.stdout  # the project is installed: no path tricks
    # No option is left unexplained (argparse prints a bare metavar line for those).
    lines = [*done.stdout.split("options:", 1)[1].splitlines(), ""]
    bare = [
        line
        for line, after in itertools.pairwise(lines)
        if re.fullmatch(r"\s+--[\w-]+ [A-Z_]+", line) and not re.match(r"\s{8,}[^\s-]", after)
    ]
    assert not bare, bare


def test_readme_figures_name_scripts_that_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"python bench/([\w-]+\.py)", readme))
    assert named, "the figures table names no bench script"
    assert named <= {p.name for p in SCRIPTS}


def test_correlate_bench_builds_and_correlates_a_small_case() -> None:
    done = _run("bench/correlate.py", "--events", "4000", "--detections", "100")
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"built 4,000 events / 100 detections", done.stdout)
    assert re.search(r"correlated in [\d.]+s: \d+ stories", done.stdout)
