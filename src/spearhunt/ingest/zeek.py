"""Zeek logs (TSV with ``#fields`` headers, and Zeek JSON) -> network records.

Only the logs the correlation stage reads are kept: conn, dns, http and ssl. Every reader
has the same shape: the schema is declared (``SCHEMAS``), a file that is not a Zeek log
raises ``IngestError``, records are generated one at a time, and a bad line becomes a
warning, never the end of the file. Lines and field counts are bounded, since a log can come
from a hostile sensor or a tampered evidence copy.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from spearhunt.errors import IngestError
from spearhunt.ingest.sources import Source
from spearhunt.model import IngestWarning

MAX_LINE = 1 << 20  # a longer line is skipped and counted
MAX_FIELDS = 512
MAX_WARNINGS = 100  # per file; later ones are only counted

# log name -> (column, type) kept from it; types: ts, str, int, float, list
SCHEMAS: dict[str, tuple[tuple[str, str], ...]] = {
    "conn": (
        ("ts", "ts"),
        ("uid", "str"),
        ("id.orig_h", "str"),
        ("id.orig_p", "int"),
        ("id.resp_h", "str"),
        ("id.resp_p", "int"),
        ("proto", "str"),
        ("service", "str"),
        ("duration", "float"),
        ("orig_bytes", "int"),
        ("resp_bytes", "int"),
        ("conn_state", "str"),
    ),
    "dns": (
        ("ts", "ts"),
        ("uid", "str"),
        ("id.orig_h", "str"),
        ("id.resp_h", "str"),
        ("query", "str"),
        ("qtype_name", "str"),
        ("rcode_name", "str"),
        ("answers", "list"),
    ),
    "http": (
        ("ts", "ts"),
        ("uid", "str"),
        ("id.orig_h", "str"),
        ("id.resp_h", "str"),
        ("id.resp_p", "int"),
        ("method", "str"),
        ("host", "str"),
        ("uri", "str"),
        ("user_agent", "str"),
        ("request_body_len", "int"),
        ("response_body_len", "int"),
        ("status_code", "int"),
    ),
    "ssl": (
        ("ts", "ts"),
        ("uid", "str"),
        ("id.orig_h", "str"),
        ("id.resp_h", "str"),
        ("id.resp_p", "int"),
        ("server_name", "str"),
        ("subject", "str"),
        ("issuer", "str"),
        ("established", "str"),
    ),
}
# Fields that tell a JSON record's log when it carries no ``_path``.
_SIGNATURES = (
    ("conn", "conn_state"),
    ("dns", "query"),
    ("http", "method"),
    ("ssl", "server_name"),
    ("ssl", "cipher"),
    ("conn", "duration"),
)
_NAME = re.compile(r"^(conn|dns|http|ssl)[._-]", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class NetRecord:
    """One kept Zeek record: its log name and values in ``SCHEMAS[log]`` order."""

    log: str
    values: tuple[Any, ...]
    pos: int  # line number in the file


Warn = Callable[[IngestWarning], None]


def _open(source: Source) -> io.BufferedReader:
    raw = source.open()  # a file, gzipped or not, or an archive member
    return raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]


def _ts(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), dt.UTC).replace(tzinfo=None)
    text = str(value)
    try:
        return dt.datetime.fromtimestamp(float(text), dt.UTC).replace(tzinfo=None)
    except ValueError:
        pass
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp.astimezone(dt.UTC).replace(tzinfo=None) if stamp.tzinfo else stamp


def _convert(kind: str, value: Any, set_sep: str = ",") -> Any:
    if value is None:
        return None
    if kind == "ts":
        return _ts(value)
    if kind == "int":
        if isinstance(value, bool):
            return int(value)
        return int(float(value)) if value != "" else None
    if kind == "float":
        return float(value) if value != "" else None
    if kind == "list":
        if isinstance(value, list):
            return [str(v) for v in value][:256]
        return [v for v in str(value).split(set_sep) if v][:256]
    if isinstance(value, bool):
        return "T" if value else "F"
    return str(value)[:4096]


def read_zeek(source: Source, on_warning: Warn) -> Iterator[NetRecord]:
    """Records of a Zeek conn/dns/http/ssl log (TSV or JSON); other Zeek logs yield nothing."""
    name = source.name
    warned = 0

    def warn(msg: str, line: int) -> None:
        nonlocal warned
        warned += 1
        if warned <= MAX_WARNINGS:
            on_warning(IngestWarning(name, msg, line=line))

    with _open(source) as fh:
        try:
            first = fh.peek(64).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        except (OSError, EOFError, zlib.error) as exc:
            raise IngestError(f"damaged or cut file: {exc}", where=name) from exc
        if first == b"#":
            yield from _tsv(fh, source.where, warn)
        elif first == b"{":
            yield from _json(fh, source.where, warn)
        else:
            raise IngestError("not a Zeek log (no #fields header, not JSON)", where=name)
    if warned > MAX_WARNINGS:
        on_warning(IngestWarning(name, f"{warned - MAX_WARNINGS} more bad lines not listed"))


def _unescape(text: str) -> str:
    """A Zeek header value with its escapes (``\\x09``) undone; hostile text kept as is."""
    try:
        return text.encode("latin-1", "replace").decode("unicode_escape")
    except UnicodeDecodeError:
        return text


def _lines(fh: io.BufferedReader, warn: Callable[[str, int], None]) -> Iterator[tuple[int, bytes]]:
    n = 0
    while True:
        try:
            line = fh.readline(MAX_LINE + 1)
        except (OSError, EOFError, zlib.error) as exc:  # a cut or corrupt gzip or archive
            warn(f"file ends early or is corrupt: {exc}", n + 1)
            return
        if not line:
            return
        n += 1
        if len(line) > MAX_LINE:
            while line and not line.endswith(b"\n"):  # the rest of the long line
                try:
                    line = fh.readline(MAX_LINE + 1)
                except (OSError, EOFError, zlib.error):
                    return
            warn(f"line longer than {MAX_LINE} bytes skipped", n)
            continue
        line = line.rstrip(b"\r\n")
        if line:
            yield n, line


def _tsv(
    fh: io.BufferedReader, path: Path, warn: Callable[[str, int], None]
) -> Iterator[NetRecord]:
    sep, set_sep, empty, unset = "\t", ",", "(empty)", "-"
    log: str | None = None
    index: list[tuple[int, str]] = []
    for n, raw in _lines(fh, warn):
        line = raw.decode("utf-8", "replace")
        if line.startswith("#"):
            key, _, rest = line[1:].partition(sep if not line.startswith("#separator") else " ")
            if key == "separator":
                sep = _unescape(rest.strip()) or "\t"
            elif key == "set_separator":
                set_sep = rest or ","
            elif key == "empty_field":
                empty = rest
            elif key == "unset_field":
                unset = rest
            elif key == "path":
                log = rest.strip().lower()
            elif key == "fields":
                names = rest.split(sep)[:MAX_FIELDS]
                log = log or _log_from_name(path)
                schema = SCHEMAS.get(log or "")
                index = (
                    [
                        (names.index(col), kind) if col in names else (-1, kind)
                        for col, kind in schema
                    ]
                    if schema
                    else []
                )
            continue
        if not index or log not in SCHEMAS:
            if log is None:
                warn("record before a #fields header skipped", n)
            continue
        parts = line.split(sep, MAX_FIELDS)
        try:
            values = tuple(
                None
                if i < 0 or i >= len(parts) or parts[i] == unset
                else _convert(kind, "" if parts[i] == empty else parts[i], set_sep)
                for i, kind in index
            )
        except (ValueError, OverflowError, OSError) as exc:
            warn(f"bad {log} record: {exc}", n)
            continue
        if values[0] is None:
            warn(f"{log} record without a time skipped", n)
            continue
        yield NetRecord(log, values, n)


def _log_from_name(path: Path) -> str | None:
    m = _NAME.match(path.name)
    return m.group(1).lower() if m else None


def _json(
    fh: io.BufferedReader, path: Path, warn: Callable[[str, int], None]
) -> Iterator[NetRecord]:
    by_name = _log_from_name(path)
    for n, line in _lines(fh, warn):
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            warn("line is not JSON", n)
            continue
        if not isinstance(obj, dict):
            warn("JSON line is not an object", n)
            continue
        log = str(obj.get("_path") or obj.get("@stream") or by_name or _guess(obj)).lower()
        schema = SCHEMAS.get(log)
        if schema is None:
            continue
        # Zeek's ``scope_sep`` setting: ``id_orig_h`` is ``id.orig_h`` written with '_'
        get = obj.get if "id_orig_h" not in obj and "id_resp_h" not in obj else _underscored(obj)
        try:
            values = tuple(_convert(kind, get(col), ",") for col, kind in schema)
        except (ValueError, OverflowError, OSError, TypeError) as exc:
            warn(f"bad {log} record: {exc}", n)
            continue
        if values[0] is None:
            warn(f"{log} record without a time skipped", n)
            continue
        yield NetRecord(log, values, n)


def _underscored(obj: dict[str, Any]) -> Callable[[str], Any]:
    def get(col: str) -> Any:
        return obj.get(col.replace(".", "_"), obj.get(col))

    return get


def _guess(obj: dict[str, Any]) -> str:
    for log, key in _SIGNATURES:
        if key in obj:
            return log
    return ""
