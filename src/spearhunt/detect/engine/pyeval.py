"""Evaluate predicate trees in Python over rows of a slice table.

For a slice of a few hundred events, binding a SQL query for each of its rules costs more
than the events themselves (DuckDB spends ~1 ms binding a rule, and ~1 µs evaluating it on a
row), so small slices are matched here, over the same lowercased columns the SQL would read.
Semantics are ``ir.evaluate``'s; a test runs every SigmaHQ rule both ways and compares.
The explicit loops below are faster than ``all``/``any`` over generators on this hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spearhunt.detect.sigma import ir

Row = tuple[Any, ...]
Pred = Callable[[Row], bool]
Index = Callable[[str, bool], int]  # (field, cased) -> position in the row


def _num(x: Any) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _match(i: int, op: str, v: str) -> Pred:
    if op == "eq":
        return lambda r: r[i] == v
    if op == "prefix":
        return lambda r: (x := r[i]) is not None and x.startswith(v)
    if op == "suffix":
        return lambda r: (x := r[i]) is not None and x.endswith(v)
    if op == "contains":
        return lambda r: (x := r[i]) is not None and v in x
    rx = ir.glob_regex(v, True).fullmatch  # the column is already in the right case
    return lambda r: (x := r[i]) is not None and rx(x) is not None


def _all(preds: list[Pred]) -> Pred:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda r: a(r) and b(r)

    def pred(r: Row) -> bool:
        for p in preds:  # noqa: SIM110
            if not p(r):
                return False
        return True

    return pred


def _any(preds: list[Pred]) -> Pred:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda r: a(r) or b(r)

    def pred(r: Row) -> bool:
        for p in preds:  # noqa: SIM110
            if p(r):
                return True
        return False

    return pred


def _match_any(i: int, op: str, values: list[str]) -> Pred:
    """One predicate for an or-list of literals on one column (sets and tuples, no loops)."""
    if op == "eq":
        vs = frozenset(values)
        return lambda r: r[i] in vs
    t = tuple(values)
    if op == "prefix":
        return lambda r: (x := r[i]) is not None and x.startswith(t)
    if op == "suffix":
        return lambda r: (x := r[i]) is not None and x.endswith(t)

    def contains(r: Row) -> bool:
        x = r[i]
        if x is None:
            return False
        for v in t:  # noqa: SIM110
            if v in x:
                return True
        return False

    return contains


def compile_tree(node: ir.Node, index: Index, kw_index: Callable[[bool], int]) -> Pred:
    """A Python predicate over slice rows equivalent to the tree."""
    match node:
        case ir.Const(value):
            return (lambda r: True) if value else (lambda r: False)
        case ir.And(args):
            return _all([compile_tree(a, index, kw_index) for a in args])
        case ir.Or(args):
            groups: dict[tuple[int, str], list[str]] = {}
            preds: list[Pred] = []
            for a in args:
                if isinstance(a, ir.Match) and a.op != "glob":
                    groups.setdefault((index(a.field, a.cased), a.op), []).append(a.value)
                else:
                    preds.append(compile_tree(a, index, kw_index))
            lists = [_match_any(i, op, vs) for (i, op), vs in groups.items()]
            return _any(lists + preds)
        case ir.Not(arg):
            p = compile_tree(arg, index, kw_index)
            return lambda r: not p(r)
        case ir.Match(field, op, value, cased):
            return _match(index(field, cased), op, value)
        case ir.Regex(field, pattern, flags):
            i, search = index(field, True), ir.compiled_regex(pattern, flags).search
            return lambda r: (x := r[i]) is not None and search(x) is not None
        case ir.Cmp(field, op, number):
            i = index(field, False)
            test = {
                "<": number.__gt__,
                "<=": number.__ge__,
                ">": number.__lt__,
                ">=": number.__le__,
            }[op]
            return lambda r: (n := _num(r[i])) is not None and test(n)
        case ir.Exists(field):
            i = index(field, False)
            return lambda r: r[i] is not None
        case ir.IsNull(field):
            i = index(field, False)
            return lambda r: r[i] is None or r[i] == ""
        case ir.FieldRef(field, other, op, cased):
            ia, ib = index(field, cased), index(other, cased)
            if op == "eq":
                return lambda r: r[ia] is not None and r[ia] == r[ib]
            if op == "prefix":
                return lambda r: r[ia] is not None and r[ib] is not None and r[ia].startswith(r[ib])
            return lambda r: r[ia] is not None and r[ib] is not None and r[ia].endswith(r[ib])
        case ir.Keyword(op, value, cased):
            return _match(kw_index(cased), op, value)
    raise TypeError(f"not a predicate node: {node!r}")
