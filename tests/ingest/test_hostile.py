"""Hostile input: each failure class of issue #15 for the log readers, with the fix's proof.

A bad file is a warning for that file; a bad record is a warning for that record and, where
the record can still be read, it is kept.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.engine.parquet import ingest_to_parquet
from spearhunt.errors import IngestError
from spearhunt.ingest.archives import iter_sources
from spearhunt.ingest.events import read_events
from spearhunt.model import IngestWarning

FLAT = {
    "EventID": 1,
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Computer": "ws1",
    "TimeCreated": "2024-05-01T10:00:00Z",
    "Image": "C:\\a.exe",
}


def line(**extra: object) -> bytes:
    return orjson.dumps({**FLAT, **extra}) + b"\n"


def ingest(*paths: Path) -> tuple[list[tuple], list[IngestWarning]]:
    """Events (computer, image, user) of the inputs through the DuckDB engine, and warnings."""
    warnings: list[IngestWarning] = []
    eng = DuckEngine([], on_warning=warnings.append)
    for s in iter_sources(list(paths), warnings.append):
        i = eng.source(s.name)
        try:
            for b in read_events(s, warnings.append):
                eng.add(i, b)
        except IngestError as exc:
            warnings.append(IngestWarning(s.name, exc.message))
    eng.flush()
    rows = eng.con.execute(
        "SELECT computer, fields->>'$.Image', fields->>'$.User' FROM events ORDER BY eid"
    ).fetchall()
    eng.close()
    return rows, warnings


def test_long_partition_values_are_shortened_to_a_legal_folder_name(tmp_path):
    fqdn = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters, legal
    f = tmp_path / "long.jsonl"
    f.write_bytes(line(Computer=fqdn) + line(Computer=fqdn[:-1] + "e") + line(Channel="x" * 400))
    warnings: list[IngestWarning] = []
    files, events = ingest_to_parquet([str(f)], tmp_path / "pq", on_warning=warnings.append)
    assert (files, events, warnings) == (1, 3, [])
    folders = [p for p in (tmp_path / "pq").rglob("*") if p.is_dir()]
    assert max(len(p.name.encode()) for p in folders) <= 255
    hosts = {p.name for p in folders if p.name.startswith("p_computer=")}
    assert len(hosts) == 3  # the two long names stay apart
