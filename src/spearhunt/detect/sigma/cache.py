"""The compiled-rule cache on disk: one entry per rule file, one bundle per rule set.

Every result is keyed by ``entry_key``: a SHA-256 of spearhunt's version, the pipeline
configuration digest and the rule file's bytes. A changed file has a new key, so a stale
result is never found, whatever the file's size or modification time say.

- An *entry* (``ab/abcd....json``) holds the result of one file, as JSON.
- A *bundle* (``bundle-<set>.bin``) holds the results of every file of one rule set, so a
  warm run reads one file instead of one per rule. It maps entry keys to results, encoded
  with ``marshal`` as plain tuples over one table of distinct predicate nodes: SigmaHQ's
  2,407 Windows rules load in ~0.12 s, against ~0.5 s from their JSON entries. When a file
  of the set changes, only its result is looked up or compiled again, and the bundle is
  rewritten.

marshal, like pickle, is not safe on data an attacker wrote. A bundle is only ever read
from the cache folder, which is created private (0700); it is written by us through a
private temporary file and an atomic rename, and ignored unless it is owned by the current
user and writable by nobody else. Never point ``read_bundle`` at a file you did not write.
A bundle that is truncated, corrupt, or from another spearhunt or Python version is ignored
(and rebuilt), never an error.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import marshal
import os
import sys
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path
from typing import Any

import orjson

from spearhunt import __version__
from spearhunt.detect.sigma import ir
from spearhunt.detect.sigma.compiled import CompiledRule, FileResult, RuleProblem
from spearhunt.model import RuleInfo

log = logging.getLogger(__name__)

BUNDLE_FORMAT = 1  # bump when the bundle's layout changes (field lists are checked anyway)
_MAGIC = b"SHRB"
_DIGEST = hashlib.sha256().digest_size

# And, Or and Not point at other rows of the node table; every other node is a leaf.
_AND, _OR, _NOT = 0, 1, 2
_LEAVES: tuple[type, ...] = (
    ir.Const,
    ir.Match,
    ir.Regex,
    ir.Cmp,
    ir.Exists,
    ir.IsNull,
    ir.FieldRef,
    ir.Keyword,
)
_CODE: dict[type, int] = {
    ir.And: _AND,
    ir.Or: _OR,
    ir.Not: _NOT,
    **{cls: 3 + i for i, cls in enumerate(_LEAVES)},
}
_SOURCE = RuleInfo.__slots__.index("source")


def cache_dir() -> Path:
    """Where compiled rules are cached (``SPEARHUNT_CACHE`` or the XDG cache folder)."""
    env = os.environ.get("SPEARHUNT_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "spearhunt" / "rules"


def key_prefix(digest: str) -> hashlib._Hash:
    """The hash state every entry key of one configuration starts from."""
    return hashlib.sha256(f"{__version__}\0{digest}\0".encode())


def entry_key(prefix: hashlib._Hash, data: bytes) -> str:
    """The cache key of a rule file's bytes under one configuration (see ``key_prefix``)."""
    h = prefix.copy()
    h.update(data)
    return h.hexdigest()


def _schema() -> tuple[Any, ...]:
    """The field lists the encoding relies on: a bundle written with others is ignored."""
    return (
        BUNDLE_FORMAT,
        sys.version_info[:2],
        __version__,
        RuleInfo.__slots__,
        RuleProblem.__slots__,
        tuple((c.__name__, _slots(c)) for c in _CODE),
    )


@contextmanager
def gc_paused() -> Iterator[None]:
    """No garbage collection while a bundle's ~100k objects are built: they hold no cycles,
    and the collector's passes over them cost about a fifth of a warm load."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _make_private_dir(path: Path) -> None:
    """Create the folder and any missing parent as 0700 (``mkdir(parents=True)`` would
    leave the parents at the umask's default)."""
    if path.is_dir():
        return
    _make_private_dir(path.parent)
    path.mkdir(mode=0o700, exist_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a private temporary file and a rename, so readers see all or nothing."""
    _make_private_dir(path.parent)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- one entry per file (JSON)


def entry_path(cache: Path, key: str) -> Path:
    """Where the entry of one key lives."""
    return cache / key[:2] / f"{key}.json"


def encode_entry(result: FileResult) -> bytes:
    """The JSON form of one file's result."""
    return orjson.dumps(
        {
            "rules": [
                {
                    "info": {s: getattr(r.info, s) for s in RuleInfo.__slots__},
                    "variants": [[name, ir.to_json(tree)] for name, tree in r.variants],
                    "logsource": list(r.logsource),
                }
                for r in result.rules
            ],
            "problems": [
                {s: getattr(p, s) for s in RuleProblem.__slots__} for p in result.problems
            ],
            "correlations": result.correlations,
        },
        default=str,
    )


def decode_entry(data: bytes) -> FileResult:
    """Inverse of ``encode_entry``."""
    raw = orjson.loads(data)
    rules = []
    for r in raw["rules"]:
        info = dict(r["info"])
        info["tags"] = tuple(info["tags"])
        info["falsepositives"] = tuple(info["falsepositives"])
        info.setdefault("output", True)
        rules.append(
            CompiledRule(
                RuleInfo(**info),
                tuple((n, ir.from_json(t)) for n, t in r["variants"]),
                tuple(r["logsource"]),
            )
        )
    return FileResult(rules, [RuleProblem(**p) for p in raw["problems"]], raw["correlations"])


# ---------------------------------------------------------------- one bundle per rule set


def bundle_path(cache: Path, digest: str, rule_set: Iterable[str]) -> Path:
    """The bundle of one rule set (its roots, or its files) under one configuration."""
    h = hashlib.sha256(f"{BUNDLE_FORMAT}\0{__version__}\0{digest}".encode())
    for name in rule_set:
        h.update(b"\0" + os.fsencode(name))
    return cache / f"bundle-{h.hexdigest()[:32]}.bin"


class _NodeTable:
    """The distinct nodes of many trees (about half as many as the trees hold).

    Stored leaves first, one column per field and type (marshal loads columns ~3x faster
    than rows, and ``map`` builds nodes from them), then And/Or/Not in an order where
    children come first, pointing at other nodes by index.
    """

    def __init__(self) -> None:
        self._rows: list[tuple[int, Any]] = []  # in the order found: children first
        self._index: dict[Any, int] = {}
        self._seen: dict[int, tuple[ir.Node, int]] = {}  # id -> (node kept alive, row)

    def add(self, node: ir.Node) -> int:
        """The node's row (call ``layout`` once every tree is added)."""
        seen = self._seen.get(id(node))
        if seen is not None:
            return seen[1]
        code = _CODE[type(node)]
        if code == _NOT:
            row: tuple[int, Any] = (code, self.add(node.arg))  # type: ignore[union-attr]
        elif code in (_AND, _OR):
            row = (code, tuple(self.add(a) for a in node.args))  # type: ignore[union-attr]
        else:
            row = (code, tuple(getattr(node, s) for s in node.__slots__))
        # Equal numbers of different types (1 and 1.0) must stay distinct rows.
        key = (row, repr(node.number)) if isinstance(node, ir.Cmp) else row
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self._rows)
            self._rows.append(row)
        self._seen[id(node)] = (node, index)
        return index

    def layout(self) -> tuple[list[int], tuple[Any, ...]]:
        """Where each row lands in the stored table, and the table as stored."""
        rows = self._rows
        groups: dict[int, list[int]] = {}
        inner: list[int] = []
        for i, (code, _) in enumerate(rows):
            if code > _NOT:
                groups.setdefault(code, []).append(i)
            else:
                inner.append(i)
        order = [i for code in sorted(groups) for i in groups[code]] + inner
        new = [0] * len(rows)
        for n, i in enumerate(order):
            new[i] = n
        leaves = tuple(
            (code, tuple(zip(*(rows[i][1] for i in groups[code]), strict=True)))
            for code in sorted(groups)
        )
        codes = bytes(rows[i][0] for i in inner)
        args = tuple(
            new[rows[i][1]] if rows[i][0] == _NOT else tuple(new[j] for j in rows[i][1])
            for i in inner
        )
        return new, (leaves, codes, args)


def _slots(cls: type) -> tuple[str, ...]:
    """The slot names of a ``slots=True`` dataclass (typed: ``type`` does not declare them)."""
    return tuple(vars(cls)["__slots__"])


def _leaves(cls: type, columns: tuple[tuple[Any, ...], ...]) -> list[Any]:
    """Nodes of one leaf type from its field columns.

    A frozen dataclass's __init__ is a Python call per node with an object.__setattr__ per
    field; filling the slots column by column through their descriptors stays in C and
    builds the ~30k leaves of SigmaHQ's rules in ~40% of the time. The result is the same
    object (the test suite compares them): the node classes have no __post_init__, and
    should one ever get one, the constructor is used.
    """
    slots = _slots(cls)
    if hasattr(cls, "__post_init__") or len(columns) != len(slots):
        return list(map(cls, *columns))
    nodes: list[Any] = list(map(object.__new__, repeat(cls, len(columns[0]))))
    for name, column in zip(slots, columns, strict=True):
        deque(map(getattr(cls, name).__set__, nodes, column), maxlen=0)
    return nodes


def _build_nodes(table: tuple[Any, ...]) -> list[ir.Node]:
    leaves, codes, args = table
    nodes: list[ir.Node] = []
    for code, columns in leaves:
        nodes.extend(_leaves(_LEAVES[code - 3], columns))
    add = nodes.append
    for code, arg in zip(codes, args, strict=True):
        if code == _NOT:
            add(ir.Not(nodes[arg]))
        else:
            children = tuple([nodes[i] for i in arg])
            add(ir.And(children) if code == _AND else ir.Or(children))
    return nodes


def encode_bundle(results: Mapping[str, FileResult]) -> bytes:
    """The bundle of several files' results, by entry key (sources are not stored)."""
    table = _NodeTable()
    trees = {
        key: [[table.add(tree) for _, tree in r.variants] for r in result.rules]
        for key, result in results.items()
    }
    new, stored = table.layout()
    entries = {}
    for key, result in results.items():
        rules = tuple(
            (
                tuple(getattr(r.info, s) for i, s in enumerate(RuleInfo.__slots__) if i != _SOURCE),
                tuple((name, new[row]) for (name, _), row in zip(r.variants, rows, strict=True)),
                r.logsource,
            )
            for r, rows in zip(result.rules, trees[key], strict=True)
        )
        problems = tuple((p.reason, p.rule_id, p.title, p.kind) for p in result.problems)
        # Correlation documents are raw YAML (dates and all): JSON, as the entries keep them.
        correlations = (
            orjson.dumps(result.correlations, default=str) if result.correlations else b""
        )
        entries[key] = (rules, problems, correlations)
    payload = marshal.dumps((_schema(), stored, entries))
    return _MAGIC + hashlib.sha256(payload).digest() + payload


class Bundle:
    """A loaded bundle: results by entry key, each named after the file it is asked for."""

    def __init__(self, nodes: list[ir.Node], entries: dict[str, Any]) -> None:
        self._nodes = nodes
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> set[str]:
        """Every entry key the bundle holds."""
        return set(self._entries)

    def get(self, key: str, source: str) -> FileResult | None:
        """The result stored under ``key``, its rules and problems naming ``source``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        rules_raw, problems_raw, correlations = entry
        nodes = self._nodes
        rules = [
            CompiledRule(
                RuleInfo(*info[:_SOURCE], source, *info[_SOURCE:]),  # type: ignore[call-arg]
                tuple([(name, nodes[i]) for name, i in variants]),
                logsource,
            )
            for info, variants, logsource in rules_raw
        ]
        problems = [RuleProblem(source, *p) for p in problems_raw]
        return FileResult(rules, problems, orjson.loads(correlations) if correlations else [])


def decode_bundle(data: bytes) -> Bundle:
    """Inverse of ``encode_bundle``; ValueError when the data is not a bundle of ours."""
    head = len(_MAGIC) + _DIGEST
    if data[: len(_MAGIC)] != _MAGIC or len(data) < head:
        raise ValueError("not a rule bundle")
    payload = data[head:]
    if hashlib.sha256(payload).digest() != data[len(_MAGIC) : head]:
        raise ValueError("rule bundle checksum mismatch")
    try:
        with gc_paused():
            schema, table, entries = marshal.loads(payload)
            if schema != _schema():
                raise ValueError("rule bundle from another version")
            return Bundle(_build_nodes(table), entries)
    except (EOFError, TypeError, IndexError, KeyError) as exc:
        raise ValueError(f"malformed rule bundle: {exc}") from exc


def read_bundle(path: Path) -> Bundle | None:
    """The bundle at ``path`` (in our cache folder), or None when absent or unusable."""
    try:
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
                log.warning("ignoring rule bundle %s: not private to this user", path)
                return None
            data = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.debug("cannot read rule bundle %s: %s", path, exc)
        return None
    try:
        return decode_bundle(data)
    except ValueError as exc:
        log.debug("ignoring rule bundle %s: %s", path, exc)
        return None
