"""Compile Sigma rule files into predicate trees, with an on-disk cache.

Loading YAML and running pySigma costs ~10 ms a rule; the cache (``cache``), keyed by the
rule file's bytes, spearhunt's version and the pipeline configuration, makes the second run
nearly free: one bundle read for the whole rule set, and no pySigma import at all.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from spearhunt.detect.sigma.cache import (
    Bundle,
    bundle_path,
    cache_dir,
    decode_entry,
    encode_bundle,
    encode_entry,
    entry_key,
    entry_path,
    gc_paused,
    key_prefix,
    read_bundle,
    write_atomic,
)
from spearhunt.detect.sigma.compiled import CompiledRule, FileResult, RuleProblem
from spearhunt.detect.sigma.pipelines import config_digest
from spearhunt.model.callbacks import Progress

__all__ = [
    "CompiledRule",
    "FileResult",
    "RuleCompiler",
    "RuleProblem",
    "cache_dir",
    "find_rule_files",
]

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
            base = Path(dirpath)  # parsed once per folder, not once per file
            out.extend(base / f for f in sorted(filenames) if f.endswith(RULE_SUFFIXES))
    return out


class RuleCompiler:
    """Compiles rule files, reusing cached results when the file and config are unchanged."""

    def __init__(
        self,
        placeholders: Mapping[str, Sequence[str]] | None = None,
        cache: Path | None = None,
        use_cache: bool = True,
    ) -> None:
        self.placeholders = dict(placeholders or {})
        self.cache = cache or cache_dir()
        self.use_cache = use_cache
        self.digest = config_digest(self.placeholders)
        self._prefix = key_prefix(self.digest)
        self.cache_hits = 0
        self.compiled = 0

    def _key(self, data: bytes) -> str:
        return entry_key(self._prefix, data)

    def _entry(self, key: str, path: Path) -> FileResult | None:
        if not self.use_cache:
            return None
        entry = entry_path(self.cache, key)
        try:
            data = entry.read_bytes()
        except OSError:
            return None
        try:
            result = decode_entry(data)
        except (ValueError, KeyError, TypeError):
            log.debug("ignoring unreadable cache entry %s", entry)
            return None
        return _with_source(result, str(path))

    def cached(self, path: Path) -> FileResult | None:
        """The cached result for a rule file, or None when it must be compiled."""
        if not self.use_cache:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        result = self._entry(self._key(data), path)
        if result is not None:
            self.cache_hits += 1
        return result

    def compile_file(self, path: Path) -> FileResult:
        """Compile one rule file (never raises for a bad rule: it becomes a problem)."""
        return self._load(path)[1]

    def _load(self, path: Path) -> tuple[str | None, FileResult]:
        """The file's cache key (None when it cannot be read) and its result."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            return None, FileResult(
                problems=[RuleProblem(str(path), f"cannot read: {exc.strerror}")]
            )
        key = self._key(data)
        hit = self._entry(key, path)
        if hit is not None:
            self.cache_hits += 1
            return key, hit
        return key, self._compile_and_store(data, key, path)

    def _compile_and_store(self, data: bytes, key: str, path: Path) -> FileResult:
        result = self._compile(data, path)
        self.compiled += 1
        if self.use_cache:
            entry = entry_path(self.cache, key)
            try:
                write_atomic(entry, encode_entry(result))
            except OSError as exc:
                log.debug("cannot write rule cache %s: %s", entry, exc)
        return result

    def _compile(self, data: bytes, path: Path) -> FileResult:
        # pySigma is imported here, on the first file the cache does not have.
        from spearhunt.detect.sigma.translate import compile_bytes

        return compile_bytes(data, str(path), self.placeholders)

    def compile_all(
        self,
        paths: Sequence[Path],
        on_progress: Progress | None = None,
        rule_set: Sequence[Path] | None = None,
    ) -> FileResult:
        """Compile many files into one result, de-duplicating rules by id (first wins).

        ``rule_set`` names the set for its cache bundle (the folders the paths were found
        in; by default the paths themselves). Results are still looked up by file content.
        """
        bundle_file = bundle = None
        if self.use_cache:
            names = [str(p.absolute()) for p in (paths if rule_set is None else rule_set)]
            bundle_file = bundle_path(self.cache, self.digest, names)
            bundle = read_bundle(bundle_file)
        # keys: the key of the bytes each result was (or will be) compiled from
        results, keys, misses = self._lookup(paths, bundle)
        workers = min(os.cpu_count() or 1, 8)
        if len(misses) >= PARALLEL_MIN and workers > 1:
            self._compile_parallel(list(misses), workers, results, keys)
        total = FileResult()
        seen: dict[str, str] = {}
        for n, path in enumerate(paths, 1):
            res = results.get(path)
            if res is None:
                res = results[path] = self._compile_and_store(misses[path], keys[path], path)
            for rule in res.rules:
                first = seen.get(rule.info.rule_id)
                if first is not None:
                    total.problems.append(
                        RuleProblem(
                            rule.info.source,
                            f"duplicate rule id, already loaded from {first}",
                            rule.info.rule_id,
                            rule.info.title,
                            "skipped",
                        )
                    )
                    continue
                seen[rule.info.rule_id] = rule.info.source
                total.rules.append(rule)
            total.problems.extend(res.problems)
            total.correlations.extend(res.correlations)
            if on_progress and (n % 50 == 0 or n == len(paths)):
                on_progress(n, len(paths), "rules")
        if (
            bundle_file is not None
            and keys
            and (bundle is None or bundle.keys() != set(keys.values()))
        ):
            self._write_bundle(bundle_file, {keys[p]: results[p] for p in paths if p in keys})
        return total

    def _lookup(
        self,
        paths: Sequence[Path],
        bundle: Bundle | None,
    ) -> tuple[dict[Path, FileResult], dict[Path, str], dict[Path, bytes]]:
        """Results found in the bundle or the entries, every readable file's key, and the
        bytes of the files still to compile."""
        results: dict[Path, FileResult] = {}
        keys: dict[Path, str] = {}
        misses: dict[Path, bytes] = {}
        with gc_paused():
            for path in paths:
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    results[path] = FileResult(
                        problems=[RuleProblem(str(path), f"cannot read: {exc.strerror}")]
                    )
                    continue
                key = keys[path] = self._key(data)
                hit = bundle.get(key, str(path)) if bundle is not None else None
                if hit is None:
                    hit = self._entry(key, path)
                if hit is None:
                    misses[path] = data
                else:
                    self.cache_hits += 1
                    results[path] = hit
        return results, keys, misses

    def _compile_parallel(
        self, todo: list[Path], workers: int, results: dict[Path, FileResult], keys: dict[Path, str]
    ) -> None:
        # pySigma is pure Python: a cold cache compiles in one process per core.
        chunks = [todo[i::workers] for i in range(workers)]
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            for chunk, res in zip(
                chunks,
                pool.map(
                    _compile_chunk,
                    [(c, self.placeholders, self.cache, self.use_cache) for c in chunks],
                ),
                strict=True,
            ):
                for path, (key, result) in zip(chunk, res, strict=True):
                    results[path] = result
                    if key is None:
                        keys.pop(path, None)
                    else:
                        keys[path] = key  # the file may have changed since it was hashed
                self.compiled += len(chunk)

    def _write_bundle(self, path: Path, results: dict[str, FileResult]) -> None:
        try:
            write_atomic(path, encode_bundle(results))
        except (OSError, ValueError) as exc:  # ValueError: a value marshal cannot write
            log.debug("cannot write rule bundle %s: %s", path, exc)


PARALLEL_MIN = 200  # below this many uncached files, starting workers costs more than it saves


def _compile_chunk(
    args: tuple[list[Path], dict[str, list[str]], Path, bool],
) -> list[tuple[str | None, FileResult]]:
    paths, placeholders, cache, use_cache = args
    compiler = RuleCompiler(placeholders, cache=cache, use_cache=use_cache)
    return [compiler._load(p) for p in paths]


def _with_source(result: FileResult, source: str) -> FileResult:
    """A cached result moved to another path keeps its rules but names the new path."""
    if all(r.info.source == source for r in result.rules) and all(
        p.source == source for p in result.problems
    ):
        return result
    rules = [
        dataclasses.replace(r, info=dataclasses.replace(r.info, source=source))
        for r in result.rules
    ]
    problems = [dataclasses.replace(p, source=source) for p in result.problems]
    return FileResult(rules, problems, result.correlations)
