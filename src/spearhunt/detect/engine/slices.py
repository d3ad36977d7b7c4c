"""How the engines name a slice's columns: one home for DuckDB and Spark, which read the
same folded rules over the same narrow columns (``c:<field>`` lowercased, ``o:<field>`` in
the original case, for regexes and ``|cased``)."""

from __future__ import annotations

from spearhunt.detect.sigma import ir


def quote(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def column_name(field: str, cased: bool) -> str:
    """Slice-table column of a field: lowercased values, or original case for ``cased``."""
    return quote(slot(field, cased))


def slot(field: str, cased: bool) -> str:
    """Unquoted slice-table column name of a field."""
    return ("o:" if cased else "c:") + ir.field_key(field)


def json_path(key: str) -> str:
    """The JSONPath of a top-level key of an event's ``fields``."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
