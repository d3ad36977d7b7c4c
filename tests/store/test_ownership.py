"""store/ owns the case: no other module speaks SQL to a case table or opens a case file
with DuckDB itself. The exceptions are named here, with why."""

from __future__ import annotations

import re
from pathlib import Path

from spearhunt.store.schema import TABLES

SRC = Path(__file__).resolve().parents[2] / "src" / "spearhunt"
# The DuckDB hunt engine ingests, time-corrects and matches in the case's events table
# itself (copying a million events out and back would double a run); convert writes SQL
# over a flat view it names `events`, for other tools.
EXCEPTIONS = {
    "detect/engine/duck.py",
    "detect/engine/matching.py",
    "detect/engine/parquet.py",
    "normalize/timefix.py",
    "detect/convert.py",
}
SQL_ON_TABLE = re.compile(
    r"\b(?:FROM|INTO|JOIN|UPDATE|TABLE(?: IF NOT EXISTS)?)\s+(" + "|".join(sorted(TABLES)) + r")\b"
)


def offenders() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in sorted(SRC.rglob("*.py")):
        rel = f.relative_to(SRC).as_posix()
        if rel.startswith("store/") or rel in EXCEPTIONS:
            continue
        text = f.read_text(encoding="utf-8")
        hits = SQL_ON_TABLE.findall(text)
        if "duckdb.connect(" in text:
            hits.append("duckdb.connect")
        if hits:
            out[rel] = sorted(set(hits))
    return out


def test_the_pattern_finds_sql_on_a_case_table():
    assert SQL_ON_TABLE.search('con.execute("SELECT doc FROM correlation_results")')
    assert not SQL_ON_TABLE.search("# events from the sources are normalized")


def test_only_store_speaks_sql_to_the_case():
    assert offenders() == {}
