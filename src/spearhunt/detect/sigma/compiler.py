"""Compile Sigma rule files into predicate trees, with an on-disk cache.

Loading YAML and running pySigma costs ~10 ms a rule; the cache, keyed by the rule file's
bytes, spearhunt's version and the pipeline configuration, makes the second run nearly free.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import orjson

from spearhunt import __version__
from spearhunt.detect.sigma import ir
from spearhunt.detect.sigma.compiled import CompiledRule, FileResult, RuleProblem
from spearhunt.detect.sigma.pipelines import config_digest
from spearhunt.model import RuleInfo

__all__ = ["CompiledRule", "FileResult", "RuleCompiler", "RuleProblem", "cache_dir",
           "find_rule_files"]

log = logging.getLogger(__name__)

RULE_SUFFIXES = (".yml", ".yaml")


def find_rule_files(roots: Iterable[Path]) -> list[Path]:
    """Every Sigma YAML file below the given files or folders, in a stable order."""
    out: list[Path] = []
    for root in roots:
        if root.is_file():
            out.append(root)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            out.extend(Path(dirpath) / f for f in sorted(filenames) if f.endswith(RULE_SUFFIXES))
    return out


# ---------------------------------------------------------------- cache


def cache_dir() -> Path:
    """Where compiled rules are cached (``SPEARHUNT_CACHE`` or the XDG cache folder)."""
    env = os.environ.get("SPEARHUNT_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "spearhunt" / "rules"


def _encode(result: FileResult) -> bytes:
    return orjson.dumps({
        "rules": [
            {"info": {s: getattr(r.info, s) for s in RuleInfo.__slots__},
             "variants": [[name, ir.to_json(tree)] for name, tree in r.variants],
             "logsource": list(r.logsource)}
            for r in result.rules
        ],
        "problems": [{s: getattr(p, s) for s in RuleProblem.__slots__} for p in result.problems],
        "correlations": result.correlations,
    }, default=str)


def _decode(data: bytes) -> FileResult:
    raw = orjson.loads(data)
    rules = []
    for r in raw["rules"]:
        info = dict(r["info"])
        info["tags"] = tuple(info["tags"])
        info["falsepositives"] = tuple(info["falsepositives"])
        info.setdefault("output", True)
        rules.append(CompiledRule(RuleInfo(**info),
                                  tuple((n, ir.from_json(t)) for n, t in r["variants"]),
                                  tuple(r["logsource"])))  # type: ignore[arg-type]
    return FileResult(rules, [RuleProblem(**p) for p in raw["problems"]], raw["correlations"])


class RuleCompiler:
    """Compiles rule files, reusing cached results when the file and config are unchanged."""

    def __init__(self, placeholders: Mapping[str, Sequence[str]] | None = None,
                 cache: Path | None = None, use_cache: bool = True) -> None:
        self.placeholders = dict(placeholders or {})
        self.cache = cache or cache_dir()
        self.use_cache = use_cache
        self.digest = config_digest(self.placeholders)
        self.cache_hits = 0
        self.compiled = 0

    def _key(self, data: bytes) -> str:
        h = hashlib.sha256(f"{__version__}\0{self.digest}\0".encode())
        h.update(data)
        return h.hexdigest()

    def cached(self, path: Path) -> FileResult | None:
        """The cached result for a rule file, or None when it must be compiled."""
        if not self.use_cache:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        key = self._key(data)
        entry = self.cache / key[:2] / f"{key}.json"
        if not entry.exists():
            return None
        try:
            result = _decode(entry.read_bytes())
        except (OSError, ValueError, KeyError, TypeError):
            log.debug("ignoring unreadable cache entry %s", entry)
            return None
        self.cache_hits += 1
        return _with_source(result, str(path))

    def compile_file(self, path: Path) -> FileResult:
        """Compile one rule file (never raises for a bad rule: it becomes a problem)."""
        source = str(path)
        hit = self.cached(path)
        if hit is not None:
            return hit
        try:
            data = path.read_bytes()
        except OSError as exc:
            return FileResult(problems=[RuleProblem(source, f"cannot read: {exc.strerror}")])
        key = self._key(data)
        entry = self.cache / key[:2] / f"{key}.json"
        result = self._compile(data, path)
        self.compiled += 1
        if self.use_cache:
            try:
                entry.parent.mkdir(parents=True, exist_ok=True)
                tmp = entry.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(_encode(result))
                tmp.replace(entry)
            except OSError as exc:
                log.debug("cannot write rule cache %s: %s", entry, exc)
        return result

    def _compile(self, data: bytes, path: Path) -> FileResult:
        # pySigma is imported here, on the first file the cache does not have.
        from spearhunt.detect.sigma.translate import compile_bytes

        return compile_bytes(data, str(path), self.placeholders)

    def compile_all(self, paths: Sequence[Path],
                    on_progress: Callable[[int, int, str], None] | None = None) -> FileResult:
        """Compile many files into one result, de-duplicating rules by id (first wins)."""
        total = FileResult()
        seen: dict[str, str] = {}
        results: dict[Path, FileResult] = {}
        for path in paths:
            hit = self.cached(path)
            if hit is not None:
                results[path] = hit
        misses = [p for p in paths if p not in results]
        workers = min(os.cpu_count() or 1, 8)
        if len(misses) >= PARALLEL_MIN and workers > 1:
            # pySigma is pure Python: a cold cache compiles in one process per core.
            chunks = [misses[i::workers] for i in range(workers)]
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                for chunk, res in zip(chunks, pool.map(_compile_chunk, [
                        (c, self.placeholders, self.cache, self.use_cache) for c in chunks]), strict=True):
                    results.update(zip(chunk, res, strict=True))
                    self.compiled += len(chunk)
        for n, path in enumerate(paths, 1):
            res = results.get(path) or self.compile_file(path)
            for rule in res.rules:
                first = seen.get(rule.info.rule_id)
                if first is not None:
                    total.problems.append(RuleProblem(
                        rule.info.source, f"duplicate rule id, already loaded from {first}",
                        rule.info.rule_id, rule.info.title, "skipped"))
                    continue
                seen[rule.info.rule_id] = rule.info.source
                total.rules.append(rule)
            total.problems.extend(res.problems)
            total.correlations.extend(res.correlations)
            if on_progress and (n % 50 == 0 or n == len(paths)):
                on_progress(n, len(paths), "rules")
        return total


PARALLEL_MIN = 200  # below this many uncached files, starting workers costs more than it saves


def _compile_chunk(args: tuple[list[Path], dict[str, list[str]], Path, bool]) -> list[FileResult]:
    paths, placeholders, cache, use_cache = args
    compiler = RuleCompiler(placeholders, cache=cache, use_cache=use_cache)
    return [compiler.compile_file(p) for p in paths]


def _with_source(result: FileResult, source: str) -> FileResult:
    """A cached result moved to another path keeps its rules but names the new path."""
    if (all(r.info.source == source for r in result.rules)
            and all(p.source == source for p in result.problems)):
        return result
    rules = [dataclasses.replace(r, info=dataclasses.replace(r.info, source=source))
             for r in result.rules]
    problems = [dataclasses.replace(p, source=source) for p in result.problems]
    return FileResult(rules, problems, result.correlations)
