"""Bounded reading shared by the posture readers: whole files, CSV rows, JSON documents."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from spearhunt.errors import IngestError
from spearhunt.model import IngestWarning
from spearhunt.model.callbacks import OnWarning

WarningSink = OnWarning  # the shared callback type, under the name ingest/ uses
MAX_FILE = 512 * 1024 * 1024  # one posture input larger than this is refused, not read
MAX_FIELD = 64 * 1024  # a CSV cell longer than this is hostile; its row is skipped
MAX_ROWS = 5_000_000


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes (gunzipped when it ends in .gz), refusing more than ``limit``
    (default ``MAX_FILE``)."""
    limit = limit or MAX_FILE
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read(limit + 1)
        else:
            with path.open("rb") as fh:
                data = fh.read(limit + 1)
    except (OSError, EOFError) as exc:
        raise IngestError(
            f"cannot read: {getattr(exc, 'strerror', None) or exc}", where=str(path)
        ) from exc
    if len(data) > limit:
        raise IngestError(f"larger than {limit // (1024 * 1024)} MiB; split it", where=str(path))
    return data


def decode(data: bytes) -> str:
    """Text of a file: UTF-16 with a BOM (PowerShell's Export-Csv on Windows PowerShell),
    else UTF-8 (with or without BOM), undecodable bytes replaced."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    return data.decode("utf-8-sig", "replace")


def read_text(path: Path, limit: int | None = None) -> str:
    """Decoded text of a bounded file."""
    return decode(read_bytes(path, limit))


def load_json(path: Path, limit: int | None = None) -> Any:
    """One JSON document (object or array)."""
    data = read_bytes(path, limit)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        data = decode(data).encode()
    try:
        return orjson.loads(data.removeprefix(codecs.BOM_UTF8))
    except orjson.JSONDecodeError as exc:
        raise IngestError(f"invalid JSON: {exc}", where=str(path)) from exc


def json_lines(
    path: Path, text: str, on_warning: WarningSink
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each JSON line; a bad line is a warning."""
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            on_warning(IngestWarning(str(path), f"invalid JSON line skipped: {exc}", line=n))
            continue
        if not isinstance(obj, dict):
            on_warning(IngestWarning(str(path), "JSON line is not an object", line=n))
            continue
        yield n, obj


def csv_rows(
    path: Path, text: str, on_warning: WarningSink, skip_prefix: str = "#"
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row by lowercased header) of a CSV file; over-long cells and rows that
    do not fit the header are warnings. Lines starting with ``skip_prefix`` before the header
    (PowerShell's ``#TYPE`` line) are skipped."""
    lines = text.splitlines(keepends=True)
    start = 0
    while start < len(lines) and lines[start].startswith(skip_prefix):
        start += 1
    csv.field_size_limit(MAX_FIELD * 4)
    reader = csv.reader(io.StringIO("".join(lines[start:])))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise IngestError(f"unreadable CSV header: {exc}", where=str(path)) from exc
    count = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            on_warning(
                IngestWarning(str(path), f"CSV row skipped: {exc}", line=start + reader.line_num)
            )
            continue
        line = start + reader.line_num
        if not row or not any(row):
            continue
        if len(row) != len(header):
            on_warning(
                IngestWarning(
                    str(path),
                    f"row has {len(row)} cells, the header {len(header)}; skipped",
                    line=line,
                )
            )
            continue
        if any(len(cell) > MAX_FIELD for cell in row):
            on_warning(
                IngestWarning(
                    str(path), f"cell longer than {MAX_FIELD} characters; row skipped", line=line
                )
            )
            continue
        count += 1
        if count > MAX_ROWS:
            on_warning(
                IngestWarning(
                    str(path), f"more than {MAX_ROWS} rows; the rest is not read", line=line
                )
            )
            return
        yield line, dict(zip(header, row, strict=True))


def text_of(value: Any, limit: int = 1024) -> str:
    """A field value as bounded text ('' for missing, nested or non-scalar values)."""
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value)[:limit].strip()


def parse_time(value: Any) -> datetime | None:
    """A naive UTC datetime from ISO 8601 (with Z or an offset), ``M/D/YYYY h:mm:ss AM`` (what
    Export-Csv writes for a US locale) or epoch seconds; None when unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            return None
    text = text_of(value, 64)
    if not text:
        return None
    ts: datetime | None = None
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in (
            "%m/%d/%Y %I:%M:%S %p",
            "%m/%d/%Y %H:%M:%S",
            "%m/%d/%Y %H:%M",
            "%d/%m/%Y %H:%M:%S",
        ):
            try:
                ts = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if ts is None:
        return None
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts


def parse_date(value: Any) -> date | None:
    """A calendar date from ``YYYY-MM-DD`` (None when unreadable)."""
    text = text_of(value, 32)
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def files_under(paths: list[Path], suffixes: tuple[str, ...], limit: int = 200_000) -> list[Path]:
    """The files given, and the files with one of ``suffixes`` under the folders given."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(
                f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(suffixes)
            )
        elif p.exists():
            out.append(p)
        else:
            raise IngestError("no such file or folder", where=str(p))
        if len(out) > limit:
            raise IngestError(f"more than {limit} files; point at a smaller folder", where=str(p))
    return out
