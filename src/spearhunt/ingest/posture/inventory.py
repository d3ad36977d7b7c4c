"""Software inventories: osquery's ``programs``/``os_version`` results (osqueryd's JSON results
log, one line per row with ``hostIdentifier`` and ``columns``, or a ``snapshot`` line; and
``osqueryi --json`` output, one file per host named after it), or a CSV of host, vendor,
product, version."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from spearhunt.errors import IngestError
from spearhunt.ingest.posture.common import (
    WarningSink,
    csv_rows,
    files_under,
    json_lines,
    load_json,
    read_text,
    text_of,
)
from spearhunt.model import IngestWarning
from spearhunt.model.hosts import short_host
from spearhunt.model.posture import Software


def read_inventory(paths: list[Path], on_warning: WarningSink) -> Iterator[Software]:
    """Every installed product in the files (and folders of .json/.jsonl/.log/.csv) given."""
    for path in files_under(paths, (".json", ".jsonl", ".log", ".csv", ".gz")):
        try:
            yield from _read_file(path, on_warning)
        except IngestError as exc:
            on_warning(IngestWarning(str(path), f"file skipped: {exc.message}"))


def _read_file(path: Path, on_warning: WarningSink) -> Iterator[Software]:
    text = read_text(path)
    head = text.lstrip()[:1]
    if head == "[":
        doc = load_json(path)
        if not isinstance(doc, list):
            raise IngestError("osqueryi --json output must be a JSON array", where=str(path))
        host = short_host(path.name.split(".json")[0])
        for i, row in enumerate(doc, 1):
            if not isinstance(row, dict):
                on_warning(IngestWarning(str(path), "row is not a JSON object; skipped", record=i))
                continue
            item = _row(row, row.get("hostname") or row.get("host") or host, str(path))
            if item is None:
                on_warning(
                    IngestWarning(str(path), "row without name and version; skipped", record=i)
                )
            else:
                yield item
    elif head == "{":
        yield from _results_log(path, text, on_warning)
    else:
        yield from _csv(path, text, on_warning)


def _row(cols: dict[str, Any], host: Any, source: str) -> Software | None:
    name = text_of(cols.get("name"))
    version = text_of(cols.get("version"))
    host_name = short_host(text_of(host))
    if not name or not version or not host_name:
        return None
    vendor = text_of(cols.get("publisher") or cols.get("vendor"))
    if not vendor and "platform" in cols and "windows" in name.lower():
        vendor = "Microsoft"  # os_version rows name no publisher
    return Software(host_name, name, version, vendor, source)


def _results_log(path: Path, text: str, on_warning: WarningSink) -> Iterator[Software]:
    for n, rec in json_lines(path, text, on_warning):
        host = rec.get("hostIdentifier")
        if not text_of(host):
            on_warning(IngestWarning(str(path), "result without hostIdentifier; skipped", line=n))
            continue
        if rec.get("action") == "removed":
            continue
        rows = rec.get("snapshot") if rec.get("action") == "snapshot" else [rec.get("columns")]
        if not isinstance(rows, list):
            on_warning(IngestWarning(str(path), "snapshot is not a list; skipped", line=n))
            continue
        for cols in rows:
            item = _row(cols, host, str(path)) if isinstance(cols, dict) else None
            if item is None:
                on_warning(
                    IngestWarning(
                        str(path), "row without columns name and version; skipped", line=n
                    )
                )
            else:
                yield item


def _csv(path: Path, text: str, on_warning: WarningSink) -> Iterator[Software]:
    rows = csv_rows(path, text, on_warning)
    first = next(rows, None)
    if first is None:
        if "version" not in text[:4096].lower():
            raise IngestError("not an inventory CSV (no version column)", where=str(path))
        return
    keys = first[1].keys()
    if "host" not in keys or "version" not in keys or not ({"product", "name"} & keys):
        raise IngestError(
            "inventory CSV needs the columns host, product (or name) and version", where=str(path)
        )
    for line, row in chain([first], rows):
        item = Software(
            short_host(row["host"]),
            (row.get("product") or row.get("name") or "").strip()[:300],
            row["version"].strip()[:100],
            (row.get("vendor") or row.get("publisher") or "").strip()[:200],
            str(path),
        )
        if not item.host or not item.name or not item.version:
            on_warning(
                IngestWarning(str(path), "row without host, product or version; skipped", line=line)
            )
            continue
        yield item
