"""Compiled rules as SQL text, one file per rule variant, for DuckDB or Spark SQL.

Each rule's SQL selects from ``spearhunt_flat``, a flat view of the events with one pair of
columns per field a rule reads:

- ``c:<field>``: the value as text, lowercased (what every case-insensitive match reads);
- ``o:<field>``: the original text (regexes and ``|cased`` read it);
- ``_kw`` / ``_kw_cs``: every value of the event on lines (field-less keyword rules);

where ``<field>`` is the Sigma field name lowercased, without spaces (``c:commandline``).
``_view.sql`` builds that view over the Parquet dataset of ``spearhunt ingest --to-parquet``
(a table or view named ``events`` with its columns), for exactly the fields the rules read.
The rules are not folded for a slice here, so their channel / event id conditions stay in the
SQL (``c:channel``, ``c:eventid``, ``c:provider_name``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from spearhunt.detect.engine.plan import SYSTEM_CHANNEL, needed_fields
from spearhunt.detect.engine.sql import Dialect, Renderer
from spearhunt.detect.sigma import ir
from spearhunt.detect.sigma.compiler import CompiledRule
from spearhunt.normalize.windows import EVTX_SYSTEM_FIELDS

VIEW = "spearhunt_flat"
# Fields that come from the event's columns when the event has no such field of its own.
COLUMN_FALLBACK = {
    "channel": "channel",
    "eventid": "CAST(event_id AS {string})",
    "computer": "computer",
    "provider_name": "provider",
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _bq(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def file_name(rule: CompiledRule, variant: str) -> str:
    """A file name for one rule variant: its id and variant, safe on every file system."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{rule.info.rule_id}__{variant}")
    return base[:180] + ".sql"


def _quote(dialect: Dialect) -> Callable[[str], str]:
    return _bq if dialect.name == "spark" else _q


def rule_sql(rule: CompiledRule, variant: str, tree: ir.Node, dialect: Dialect) -> str:
    """The SQL of one rule variant over ``spearhunt_flat``, with a header naming the rule."""
    quote = _quote(dialect)

    def column(field: str, cased: bool) -> str:
        return quote(("o:" if cased else "c:") + ir.field_key(field))

    where = Renderer(dialect, column).render(tree)
    info = rule.info
    head = [
        f"-- {info.title}",
        f"-- id: {info.rule_id}  level: {info.level}  variant: {variant}",
        f"-- source: {info.source}",
    ]
    if info.tags:
        head.append(f"-- tags: {', '.join(info.tags)}")
    return "\n".join(head) + f"\nSELECT eid FROM {VIEW}\nWHERE {where};\n"


def view_sql(trees: Sequence[ir.Node], dialect: Dialect, spellings: dict[str, str]) -> str:
    """``CREATE VIEW spearhunt_flat`` over the Parquet ``events`` for the fields ``trees`` read."""
    lower, cased = needed_fields(trees)
    keyword = "*" in lower
    lower.discard("*")
    spark = dialect.name == "spark"
    quote = _quote(dialect)
    system = {name.lower(): f"sys_{name.lower()}" for name in EVTX_SYSTEM_FIELDS}
    cols = ["eid", "ts", "computer", "channel", "provider", "event_id", "record_id", "source"]
    for f in sorted(lower | cased):
        key = spellings.get(f, f)
        if f == SYSTEM_CHANNEL:  # the logsource's channel: the System value, never a field
            value = "channel"
        elif spark:
            value = f"get_json_object(fields, {dialect.string('$.' + key)})"
        else:
            value = f"json_extract_string(fields, {dialect.string(_duck_path(key))})"
        fallbacks = [system[f]] if f in system else []
        if f in COLUMN_FALLBACK:
            fallbacks.append(COLUMN_FALLBACK[f].format(string="STRING" if spark else "VARCHAR"))
        if fallbacks:
            value = f"coalesce({value}, {', '.join(fallbacks)})"
        if f in lower:
            cols.append(f"lower({value}) AS {quote('c:' + f)}")
        if f in cased:
            cols.append(f"{value} AS {quote('o:' + f)}")
    if keyword:
        values = (
            "concat_ws(char(10), map_values(from_json(fields, 'map<string,string>')))"
            if spark
            else "array_to_string(json_extract_string(fields, '$.*'), chr(10))"
        )
        cols += [f"lower({values}) AS _kw", f"{values} AS _kw_cs"]
    return (
        f"-- The flat view every rule file of this folder reads ({dialect.name}).\n"
        "-- `events`: the Parquet dataset of `spearhunt ingest --to-parquet`, e.g.\n"
        + (
            "--   CREATE TEMP VIEW events AS SELECT * FROM parquet.`DIR`;\n"
            if spark
            else "--   CREATE VIEW events AS SELECT * FROM read_parquet('DIR/**/*.parquet');\n"
        )
        + f"CREATE OR REPLACE {'TEMP ' if spark else ''}VIEW {VIEW} AS SELECT\n  "
        + ",\n  ".join(cols)
        + "\nFROM events;\n"
    )


def _duck_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def convert(rules: Sequence[CompiledRule], dialect: Dialect, out_dir: Path) -> int:
    """Write one SQL file per rule variant and ``_view.sql`` into ``out_dir``; returns files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    trees: list[ir.Node] = []
    spellings: dict[str, str] = {}
    n = 0
    for rule in rules:
        for variant, tree in rule.variants:
            trees.append(tree)
            for f in ir.fields(tree) - {"*"}:
                spellings.setdefault(ir.field_key(f), f)
            (out_dir / file_name(rule, variant)).write_text(
                rule_sql(rule, variant, tree, dialect), encoding="utf-8"
            )
            n += 1
    (out_dir / "_view.sql").write_text(view_sql(trees, dialect, spellings), encoding="utf-8")
    return n
