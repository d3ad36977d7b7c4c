"""spearhunt's modules import each other without a circle (function-level imports included:
a circle hidden inside a function is still a circle)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "spearhunt"


def import_graph() -> dict[str, set[str]]:
    """Module -> the spearhunt modules it imports anywhere in its text."""
    files = {}
    for f in SRC.rglob("*.py"):
        name = ".".join(("spearhunt", *f.relative_to(SRC).with_suffix("").parts))
        files[name.removesuffix(".__init__")] = f
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, f in files.items():
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("spearhunt"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    target = sub if sub in files else node.module
                    if target in files and target != mod:
                        graph[mod].add(target)
            elif isinstance(node, ast.Import):
                graph[mod] |= {a.name for a in node.names if a.name in files and a.name != mod}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_spearhunt_imports_itself_through_others() -> None:
    graph = import_graph()
    assert "spearhunt.simulate.lateral" in graph["spearhunt.simulate.campaign"]
    assert cycles(graph) == []
