"""The compiled-rule cache: what a warm run reuses, and what it must never reuse."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spearhunt.detect.sigma.compiler import RuleCompiler, find_rule_files

RULE = """
title: Whoami {n}
id: 00000000-0000-0000-0000-{n:012d}
status: test
level: high
logsource: {{category: process_creation, product: windows}}
detection:
  sel: {{Image|endswith: '\\\\{image}'}}
  condition: sel
"""


def write_rules(folder: Path, n: int = 3) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"r{i}.yml").write_text(RULE.format(n=i, image=f"tool{i}.exe"))
    return find_rule_files([folder])


def compile_in_fresh_interpreter(rules: Path, cache: Path) -> str:
    """Compile a folder in a new Python process; prints cache hits and whether pySigma loaded."""
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from spearhunt.detect.sigma.compiler import RuleCompiler, find_rule_files
        c = RuleCompiler(cache=Path({str(cache)!r}))
        r = c.compile_all(find_rule_files([Path({str(rules)!r})]))
        print(c.cache_hits, c.compiled, len(r.rules), "sigma" in sys.modules)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env, check=True)
    return proc.stdout.strip()


def test_warm_run_does_not_import_pysigma(tmp_path: Path) -> None:
    rules, cache = tmp_path / "rules", tmp_path / "cache"
    RuleCompiler(cache=cache).compile_all(write_rules(rules))
    assert compile_in_fresh_interpreter(rules, cache) == "3 0 3 False"


def test_uncached_rule_imports_pysigma_and_compiles(tmp_path: Path) -> None:
    rules, cache = tmp_path / "rules", tmp_path / "cache"
    RuleCompiler(cache=cache).compile_all(write_rules(rules))
    (rules / "new.yml").write_text(RULE.format(n=9, image="new.exe"))
    assert compile_in_fresh_interpreter(rules, cache) == "3 1 4 True"


@pytest.mark.parametrize("text", ["title: x\ndetection: [unclosed\n", "just a string\n"])
def test_problem_from_a_shared_cache_entry_names_its_own_file(tmp_path: Path, text: str) -> None:
    # Two files with the same bytes share one cache entry; each problem must name its file.
    a, b = tmp_path / "a.yml", tmp_path / "b.yml"
    a.write_text(text)
    b.write_text(text)
    result = RuleCompiler(cache=tmp_path / "cache").compile_all([a, b])
    assert [p.source for p in result.problems] == [str(a), str(b)]
