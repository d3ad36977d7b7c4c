"""The compiled form of a Sigma condition: a small, dialect-neutral predicate tree.

pySigma turns a rule into this tree (see ``backend``); engines render it into their own
query language (``spearhunt.detect.engine.sql``) and ``evaluate`` runs it in pure Python, the
reference the engines are tested against.

Semantics, fixed here once for every engine:
- string matches are case-insensitive unless ``cased``; values are stored lowercased then;
- a leaf over a missing field is false (so ``not x`` over a missing field is true, as Sigma says);
- numbers are compared as strings except by ``Cmp``, which casts the field to a number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# A glob value uses ``*`` and ``?`` as wildcards; a literal ``*``, ``?`` or ``\`` is escaped by ``\``.
MATCH_OPS = ("eq", "prefix", "suffix", "contains", "glob")


def field_key(name: str) -> str:
    """How field names are compared: ignoring case and spaces (Defender logs 'Threat Name',
    rules say 'ThreatName'; providers disagree on 'ProcessId' / 'ProcessID')."""
    return name.lower().replace(" ", "")


CMP_OPS = ("<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True)
class Const:
    """A constant truth value (what a subtree folds to when its fields are known)."""

    value: bool


@dataclass(frozen=True, slots=True)
class And:
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    arg: Node


@dataclass(frozen=True, slots=True)
class Match:
    """``field`` matches ``value`` by ``op`` (eq, prefix, suffix, contains, glob)."""

    field: str
    op: str
    value: str
    cased: bool = False


@dataclass(frozen=True, slots=True)
class Regex:
    """``field`` matches a regular expression (RE2/Java common subset); ``flags`` from i, m, s."""

    field: str
    pattern: str
    flags: str = ""


@dataclass(frozen=True, slots=True)
class Cmp:
    """Numeric comparison of ``field`` (cast to a number) with ``number``."""

    field: str
    op: str
    number: float


@dataclass(frozen=True, slots=True)
class Exists:
    """``field`` is present (not null)."""

    field: str


@dataclass(frozen=True, slots=True)
class IsNull:
    """``field`` has no value: absent, null or empty (Windows logs write empty <Data/> as "")."""

    field: str


@dataclass(frozen=True, slots=True)
class FieldRef:
    """``field`` equals (or starts/ends with) the value of ``other`` in the same event."""

    field: str
    other: str
    op: str = "eq"  # eq, prefix, suffix
    cased: bool = False


@dataclass(frozen=True, slots=True)
class Keyword:
    """A field-less search: any field's value matches (``field`` is always ``*``)."""

    op: str
    value: str
    cased: bool = False


Node = Const | And | Or | Not | Match | Regex | Cmp | Exists | IsNull | FieldRef | Keyword
TRUE = Const(True)
FALSE = Const(False)


def and_(*args: Node) -> Node:
    """Conjunction with constant folding and flattening."""
    out: list[Node] = []
    for a in args:
        if isinstance(a, Const):
            if not a.value:
                return FALSE
            continue
        out.extend(a.args if isinstance(a, And) else (a,))
    if not out:
        return TRUE
    return out[0] if len(out) == 1 else And(tuple(out))


def or_(*args: Node) -> Node:
    """Disjunction with constant folding and flattening."""
    out: list[Node] = []
    for a in args:
        if isinstance(a, Const):
            if a.value:
                return TRUE
            continue
        out.extend(a.args if isinstance(a, Or) else (a,))
    if not out:
        return FALSE
    return out[0] if len(out) == 1 else Or(tuple(dict.fromkeys(out)))


def not_(arg: Node) -> Node:
    """Negation with constant folding."""
    if isinstance(arg, Const):
        return Const(not arg.value)
    if isinstance(arg, Not):
        return arg.arg
    return Not(arg)


def fields(node: Node) -> set[str]:
    """Every field name the tree reads (``*`` for keyword searches)."""
    match node:
        case And(args) | Or(args):
            return set().union(*(fields(a) for a in args))
        case Not(arg):
            return fields(arg)
        case FieldRef(field=f, other=o):
            return {f, o}
        case Keyword():
            return {"*"}
        case Const():
            return set()
        case _:
            return {node.field}


def cased_fields(node: Node) -> set[str]:
    """Fields that are read with their original case (regexes, cased matches)."""
    match node:
        case And(args) | Or(args):
            return set().union(*(cased_fields(a) for a in args))
        case Not(arg):
            return cased_fields(arg)
        case Regex(field=f):
            return {f}
        case Match(field=f, cased=True):
            return {f}
        case FieldRef(field=f, other=o, cased=True):
            return {f, o}
        case _:
            return set()


def specialize(node: Node, constants: Mapping[str, Any], present: Callable[[str], bool]) -> Node:
    """Fold the tree for one slice of events.

    ``constants`` maps lowercased field names to the value every event of the slice has (the
    slice's channel, provider, event id); a field for which ``present`` is false is missing from
    every event. Leaves over such fields are decided here, so the engine never evaluates them.
    """
    match node:
        case And(args):
            return and_(*(specialize(a, constants, present) for a in args))
        case Or(args):
            return or_(*(specialize(a, constants, present) for a in args))
        case Not(arg):
            return not_(specialize(arg, constants, present))
        case Const() | Keyword():
            return node
        case FieldRef(field=f, other=o):
            if not present(field_key(f)) or not present(field_key(o)):
                return FALSE
            return node
        case _:
            key = field_key(node.field)
            if key in constants:
                return Const(evaluate(node, {key: constants[key]}))
            if not present(key):
                return Const(evaluate(node, {}))
            return node


# ---------------------------------------------------------------- pure Python evaluation


@lru_cache(maxsize=65536)
def glob_regex(value: str, cased: bool) -> re.Pattern[str]:
    """Compile a Sigma glob (``*``, ``?``, ``\\`` escapes) into an anchored regex."""
    out = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            out.append(re.escape(value[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL | (0 if cased else re.IGNORECASE))


def re2_dollar(pattern: str) -> str:
    """RE2 (DuckDB) reads ``$`` as the end of the text; Python's ``$`` also matches before a
    final newline. Outside classes, unescaped ``$`` becomes ``\\Z`` so both agree."""
    out: list[str] = []
    i, start = 0, -1  # start: index in out of the open '[' (-1: not in a class)
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if start >= 0:
            first = len(out) == start + 1 or (len(out) == start + 2 and out[-1] == "^")
            if c == "]" and not first:  # a ']' first in a class is a literal
                start = -1
        elif c == "[":
            start = len(out)
        elif c == "$":
            c = "\\Z"
        out.append(c)
        i += 1
    return "".join(out)


@lru_cache(maxsize=16384)
def compiled_regex(pattern: str, flags: str) -> re.Pattern[str]:
    """Python compilation of a rule regex with its flags, with RE2's meaning of ``$``."""
    if "m" not in flags:
        pattern = re2_dollar(pattern)
    f = 0
    f |= re.IGNORECASE if "i" in flags else 0
    f |= re.MULTILINE if "m" in flags else 0
    f |= re.DOTALL if "s" in flags else 0
    return re.compile(pattern, f)


def match_value(op: str, value: str, text: str, cased: bool) -> bool:
    """Does ``text`` match ``value`` by ``op``? ``value`` is already lowercased unless cased."""
    if not cased:
        text = text.lower()
    if op == "eq":
        return text == value
    if op == "prefix":
        return text.startswith(value)
    if op == "suffix":
        return text.endswith(value)
    if op == "contains":
        return value in text
    return glob_regex(value, cased).fullmatch(text) is not None


def as_text(value: Any) -> str | None:
    """How an event value reads as a string for matching (JSON scalars as JSON writes them)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def evaluate(node: Node, event: Mapping[str, Any]) -> bool:
    """Evaluate the tree on one event (field names compared by ``field_key``)."""
    return _eval(node, {field_key(k): v for k, v in event.items()})


def _eval(node: Node, event: Mapping[str, Any]) -> bool:
    match node:
        case Const(value):
            return value
        case And(args):
            return all(_eval(a, event) for a in args)
        case Or(args):
            return any(_eval(a, event) for a in args)
        case Not(arg):
            return not _eval(arg, event)
        case Match(field, op, value, cased):
            text = as_text(event.get(field_key(field)))
            return text is not None and match_value(op, value, text, cased)
        case Regex(field, pattern, flags):
            text = as_text(event.get(field_key(field)))
            return text is not None and compiled_regex(pattern, flags).search(text) is not None
        case Cmp(field, op, number):
            text = as_text(event.get(field_key(field)))
            num = _number(text) if text is not None else None
            if num is None:
                return False
            return {"<": num < number, "<=": num <= number, ">": num > number, ">=": num >= number}[
                op
            ]
        case Exists(field):
            return event.get(field_key(field)) is not None
        case IsNull(field):
            return event.get(field_key(field)) in (None, "")
        case FieldRef(field, other, op, cased):
            a, b = as_text(event.get(field_key(field))), as_text(event.get(field_key(other)))
            if a is None or b is None:
                return False
            if not cased:
                a, b = a.lower(), b.lower()
            return a == b if op == "eq" else a.startswith(b) if op == "prefix" else a.endswith(b)
        case Keyword(op, value, cased):
            return any(
                (t := as_text(v)) is not None and match_value(op, value, t, cased)
                for v in event.values()
            )
    raise TypeError(f"not a predicate node: {node!r}")


# ---------------------------------------------------------------- serialisation (rule cache)

_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (Const, And, Or, Not, Match, Regex, Cmp, Exists, IsNull, FieldRef, Keyword)
}


def to_json(node: Node) -> Any:
    """Plain JSON-able form of the tree."""
    match node:
        case And(args) | Or(args):
            return [type(node).__name__, [to_json(a) for a in args]]
        case Not(arg):
            return ["Not", to_json(arg)]
        case _:
            return [type(node).__name__, [getattr(node, s) for s in node.__slots__]]


def from_json(data: Any) -> Node:
    """Inverse of ``to_json``."""
    name, payload = data
    cls = _TYPES[name]
    if cls in (And, Or):
        return cls(tuple(from_json(a) for a in payload))
    if cls is Not:
        return Not(from_json(payload))
    return cls(*payload)  # type: ignore[no-any-return]
