"""The compiled-rule cache: what a warm run reuses, and what it must never reuse."""

from __future__ import annotations

import hashlib
import marshal
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from spearhunt.detect.sigma import cache as rule_cache
from spearhunt.detect.sigma import ir
from spearhunt.detect.sigma.cache import bundle_path, decode_bundle, encode_bundle, read_bundle
from spearhunt.detect.sigma.compiled import CompiledRule, FileResult, RuleProblem
from spearhunt.detect.sigma.compiler import RuleCompiler, find_rule_files
from spearhunt.model import RuleInfo

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
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
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
    # Two files with the same bytes share one cache entry; each problem must name its file,
    # whether it comes from the bundle or from the file's own entry.
    a, b = tmp_path / "a.yml", tmp_path / "b.yml"
    a.write_text(text)
    b.write_text(text)
    cache = tmp_path / "cache"
    for _ in range(2):
        result = RuleCompiler(cache=cache).compile_all([a, b])
        assert [p.source for p in result.problems] == [str(a), str(b)]
    for bundle in cache.glob("bundle-*"):
        bundle.unlink()
    compiler = RuleCompiler(cache=cache)
    assert [p.source for p in compiler.compile_all([b, a]).problems] == [str(b), str(a)]
    assert compiler.cache_hits == 2


def bundles(cache: Path) -> list[Path]:
    return sorted(cache.glob("bundle-*.bin"))


def test_warm_run_reads_the_bundle_not_the_entries(tmp_path: Path) -> None:
    files, cache = write_rules(tmp_path / "rules"), tmp_path / "cache"
    cold = RuleCompiler(cache=cache).compile_all(files)
    for entry_dir in (d for d in cache.iterdir() if d.is_dir()):
        shutil.rmtree(entry_dir)
    warm_compiler = RuleCompiler(cache=cache)
    warm = warm_compiler.compile_all(files)
    assert (warm_compiler.cache_hits, warm_compiler.compiled) == (3, 0)
    assert repr(warm) == repr(cold)  # same rules, trees, problems, down to number types


def test_editing_a_rule_invalidates_it_even_with_same_size_and_mtime(tmp_path: Path) -> None:
    files, cache = write_rules(tmp_path / "rules"), tmp_path / "cache"
    RuleCompiler(cache=cache).compile_all(files)
    before = files[1].stat()
    files[1].write_text(files[1].read_text().replace("tool1.exe", "tool7.exe"))
    os.utime(files[1], ns=(before.st_atime_ns, before.st_mtime_ns))
    assert files[1].stat().st_size == before.st_size

    compiler = RuleCompiler(cache=cache)
    result = compiler.compile_all(files)
    assert (compiler.cache_hits, compiler.compiled) == (2, 1)
    assert "tool7.exe" in repr(result.rules[1].variants)
    assert "tool1.exe" not in repr(result.rules)
    again = RuleCompiler(cache=cache)
    assert repr(again.compile_all(files)) == repr(result)
    assert (again.cache_hits, again.compiled) == (3, 0)


def test_deleted_rule_leaves_the_bundle(tmp_path: Path) -> None:
    files, cache = write_rules(tmp_path / "rules"), tmp_path / "cache"
    RuleCompiler(cache=cache).compile_all(files)
    files[0].unlink()
    result = RuleCompiler(cache=cache).compile_all(files[1:])
    assert [r.info.title for r in result.rules] == ["Whoami 1", "Whoami 2"]
    rule_set = [str(p.absolute()) for p in files[1:]]
    bundle = read_bundle(bundle_path(cache, RuleCompiler().digest, rule_set))
    assert bundle is not None and len(bundle) == 2


def test_new_spearhunt_version_recompiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files, cache = write_rules(tmp_path / "rules"), tmp_path / "cache"
    RuleCompiler(cache=cache).compile_all(files)
    monkeypatch.setattr(rule_cache, "__version__", "999.0")
    compiler = RuleCompiler(cache=cache)
    compiler.compile_all(files)
    assert (compiler.cache_hits, compiler.compiled) == (0, 3)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty", "other-schema"])
def test_corrupt_bundle_is_ignored_and_rebuilt(tmp_path: Path, damage: str) -> None:
    files, cache = write_rules(tmp_path / "rules"), tmp_path / "cache"
    cold = RuleCompiler(cache=cache).compile_all(files)
    [bundle] = bundles(cache)
    data = bundle.read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data = data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:]
    elif damage == "garbage":
        data = b"SHRB" + os.urandom(len(data))
    elif damage == "empty":
        data = b""
    else:  # well-formed, but written by another layout: must not be trusted
        schema, table, entries = marshal.loads(data[36:])
        payload = marshal.dumps(((0, *schema[1:]), table, entries))
        data = b"SHRB" + hashlib.sha256(payload).digest() + payload
    bundle.write_bytes(data)
    assert read_bundle(bundle) is None

    compiler = RuleCompiler(cache=cache)
    assert repr(compiler.compile_all(files)) == repr(cold)
    assert compiler.cache_hits == 3  # from the per-file entries
    assert read_bundle(bundle) is not None  # and the bundle was written again


@pytest.mark.parametrize("text", [b"{not json", b"[]", b'{"rules": [{"info": {}}]}', b""])
def test_corrupt_file_entry_is_ignored_and_rebuilt(tmp_path: Path, text: bytes) -> None:
    files, cache = write_rules(tmp_path / "rules"), tmp_path / "cache"
    cold = RuleCompiler(cache=cache).compile_all(files)
    entries = sorted(cache.glob("??/*.json"))
    assert len(entries) == 3
    for bundle in bundles(cache):
        bundle.unlink()
    for entry in entries:
        entry.write_bytes(text)

    compiler = RuleCompiler(cache=cache)
    assert repr(compiler.compile_all(files)) == repr(cold)
    assert (compiler.cache_hits, compiler.compiled) == (0, 3)
    assert all(entry.read_bytes() != text for entry in entries)


def test_bundle_writable_by_others_is_not_read(tmp_path: Path) -> None:
    files, cache = write_rules(tmp_path / "rules"), tmp_path / "cache"
    RuleCompiler(cache=cache).compile_all(files)
    [bundle] = bundles(cache)
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    bundle.chmod(0o666)
    assert read_bundle(bundle) is None
    RuleCompiler(cache=cache).compile_all(files)
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600  # replaced by a private one


def test_cache_folder_is_private_and_has_no_leftovers(tmp_path: Path) -> None:
    files, cache = write_rules(tmp_path / "rules"), tmp_path / "deep" / "cache"
    RuleCompiler(cache=cache).compile_all(files)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    assert not list(cache.rglob("*.tmp"))


def test_concurrent_writers_leave_one_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "bundle-x.bin"
    contents = [bytes([i]) * 200_000 for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda data: rule_cache.write_atomic(target, data), contents * 4))
    assert target.read_bytes() in contents
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_two_processes_filling_one_cache_agree(tmp_path: Path) -> None:
    rules, cache = tmp_path / "rules", tmp_path / "cache"
    write_rules(rules, 5)
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda _: compile_in_fresh_interpreter(rules, cache), range(2)))
    assert all(out.split()[2] == "5" for out in outs)
    assert compile_in_fresh_interpreter(rules, cache) == "5 0 5 False"


def test_no_cache_writes_nothing(tmp_path: Path) -> None:
    files, cache = write_rules(tmp_path / "rules"), tmp_path / "cache"
    for _ in range(2):
        compiler = RuleCompiler(cache=cache, use_cache=False)
        compiler.compile_all(files)
        assert (compiler.cache_hits, compiler.compiled) == (0, 3)
    assert not cache.exists()


def test_bundle_keeps_every_node_type_and_number_type() -> None:
    trees = [
        ir.And(
            (
                ir.Match("Image", "suffix", "\\x.exe"),
                ir.Not(ir.Regex("C", "a$", "i")),
                ir.Or((ir.Cmp("N", ">", 1.0), ir.Cmp("N", "<", 1), ir.Exists("E"))),
            )
        ),
        ir.Or(
            (
                ir.IsNull("Z"),
                ir.FieldRef("A", "B", "prefix", True),
                ir.Keyword("glob", "*x*"),
                ir.Match("Image", "suffix", "\\x.exe"),
            )
        ),
        ir.FALSE,
    ]
    info = RuleInfo("id", "t", "high", ("attack.t1",), "src", falsepositives=("fp",), output=False)
    result = FileResult(
        [
            CompiledRule(info, (("sysmon", t), ("audit", trees[0])), ("windows", None, None))
            for t in trees
        ],
        [RuleProblem("src", "why", "id2", "t2", "unsupported")],
        [{"title": "c", "date": "2024-01-01"}],
    )
    decoded = decode_bundle(encode_bundle({"k": result})).get("k", "src")
    assert repr(decoded) == repr(result)
