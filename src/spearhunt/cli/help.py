"""``--help`` that reads as written, whatever Typer release is installed.

Typer 0.20 and later label option values with Python annotations (``<int>``,
``<list[Path]>``, ``<bool>`` on flags) and write required arguments as ``{paths}...``; our help
texts were written for click's words (``INTEGER``, ``PATH``, ``TEXT``), which is also what
most command-line tools print. ``classic_type_names`` puts those words back; on an older Typer
(which prints them itself) it changes nothing. ``one_line_summaries`` gives every command a
one-line summary for the command list, so a description never stops mid-sentence.
"""

from __future__ import annotations

import re
from typing import Any

import typer

# Python annotation -> click's word for it; a list shows its element's word.
_WORDS = {
    "int": "INTEGER",
    "float": "FLOAT",
    "str": "TEXT",
    "path": "PATH",
    "file": "FILE",
    "directory": "DIR",
    "datetime": "DATETIME",
    "uuid": "UUID",
}
_LIST = re.compile(r"^list\[(.*)\]$")


def type_word(label: str) -> str:
    """``INTEGER`` for ``<int>``, ``PATH`` for ``<list[Path]>``; choices as ``[a|b]``."""
    inner = label[1:-1] if label.startswith("<") and label.endswith(">") else label
    m = _LIST.match(inner)
    if m:
        inner = m.group(1)
    if "|" in inner:
        return f"[{inner}]"
    return _WORDS.get(inner.lower(), inner.upper())


def classic_type_names() -> bool:
    """Patch Typer's help labels back to click's words; False when the installed Typer
    already prints them (nothing to do)."""
    try:
        from typer.core import TyperArgument, TyperOption
    except ImportError:  # pragma: no cover - a Typer without these classes prints click's words
        return False
    original = getattr(TyperOption, "display_type", None)
    if original is None or getattr(original, "_spearhunt", False):
        return False

    def display_type(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) or getattr(self, "count", False):
            return None  # a flag takes no value: nothing to show
        if self.metavar is not None:
            return str(self.metavar)
        label = original(self, ctx)
        return None if label is None else type_word(str(label))

    def usage_name(self: Any) -> str:
        name = self.metavar or (self.name or "").upper()
        if not self.required:
            name = f"[{name}]"
        return f"{name}..." if self.nargs != 1 else name

    display_type._spearhunt = True  # type: ignore[attr-defined]
    for cls in (TyperOption, TyperArgument):
        cls.display_type = display_type  # type: ignore[method-assign,assignment]
    if hasattr(TyperArgument, "_usage_display_name"):
        TyperArgument._usage_display_name = usage_name  # type: ignore[method-assign]
    return True


def first_sentence(text: str) -> str:
    """The first paragraph's first sentence on one line (what a command list should show)."""
    para = " ".join(text.strip().split("\n\n", 1)[0].split())
    m = re.search(r"\.(?=\s+[^a-z\s]|$)", para)  # a full stop, then not lowercase ("e.g. x")
    return para[: m.start() + 1] if m else para


def one_line_summaries(app: typer.Typer) -> None:
    """Give each command without a ``short_help`` the first sentence of its docstring."""
    apps = [app]
    while apps:
        current = apps.pop()
        for info in current.registered_commands:
            if info.short_help is None:
                doc = info.help or (info.callback.__doc__ if info.callback else None)
                if doc:
                    info.short_help = first_sentence(doc)
        for group in current.registered_groups:
            if group.typer_instance is not None:
                apps.append(group.typer_instance)
