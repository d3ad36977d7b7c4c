"""Readers of event logs: EVTX, JSON Lines and JSON arrays (plain or gzip).

Readers do as little as possible in Python: they hand the engine each record's JSON text
and where it came from; parsing and flattening happen in the engine's native JSON code. A
bad record becomes an ``IngestWarning`` and the file goes on; a file that cannot be read at
all raises ``IngestError`` for that file only.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, BinaryIO

import evtx
import orjson

from spearhunt.errors import IngestError
from spearhunt.ingest.sources import Kind, Source
from spearhunt.model import IngestWarning

log = logging.getLogger(__name__)

BATCH = 50_000
BLOCK = 16 * 1024 * 1024
MAX_LINE = 16 * 1024 * 1024  # one JSON event larger than this is skipped as hostile
MAX_JSON_ARRAY = 1024 * 1024 * 1024  # a JSON array file is parsed whole; bound it
MAX_GZ_EVTX = 2 * 1024 * 1024 * 1024
# The Rust parser's own thread pool (its default: one thread per core) costs more than it
# gains here: the engine normalizes on the other core while this one reads, and most files
# are a few chunks long. One thread read the shared corpus ~25% faster in CPU and wall time.
EVTX_THREADS = 1

WarningSink = Callable[[IngestWarning], None]


@dataclass(slots=True)
class RawBatch:
    """Records of one file: JSON text (str or UTF-8 bytes) with line/record numbers and offsets."""

    source: str
    kind: Kind
    texts: list[str] | list[bytes] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)  # line (JSON) or record id (EVTX)
    offsets: list[int] | None = None  # byte offsets (JSON lines only)
    size_bytes: int = 0

    def __len__(self) -> int:
        return len(self.texts)


def read_events(src: Source, on_warning: WarningSink, batch: int = BATCH) -> Iterator[RawBatch]:
    """Yield batches of raw records from one event file."""
    if src.kind is Kind.EVTX:
        yield from _read_evtx(src, on_warning, batch)
    elif src.kind is Kind.JSON_LINES:
        yield from _read_json_lines(src, on_warning, batch)
    elif src.kind is Kind.JSON_ARRAY:
        yield from _read_json_array(src, on_warning, batch)
    elif src.kind is Kind.JSON_STREAM:
        yield from _read_json_stream(src, on_warning, batch)
    else:
        raise IngestError(f"not an event log ({src.kind.value})", where=str(src.path))


def _open(src: Source) -> BinaryIO:
    try:
        return gzip.open(src.path, "rb") if src.gzipped else src.path.open("rb")  # type: ignore[return-value]
    except OSError as exc:
        raise IngestError(f"cannot open: {exc.strerror or exc}", where=str(src.path)) from exc


def _read_evtx(src: Source, on_warning: WarningSink, batch: int) -> Iterator[RawBatch]:
    name = str(src.path)
    try:
        if src.gzipped:
            with gzip.open(src.path, "rb") as gz:
                data = gz.read(MAX_GZ_EVTX + 1)
            if len(data) > MAX_GZ_EVTX:
                raise IngestError("gzipped EVTX larger than 2 GiB uncompressed", where=name)
            parser = evtx.PyEvtxParser(io.BytesIO(data), EVTX_THREADS)
        else:
            parser = evtx.PyEvtxParser(name, EVTX_THREADS)
        records = parser.records_json()
    except (OSError, RuntimeError, ValueError, EOFError) as exc:
        raise IngestError(f"not a readable EVTX file: {exc}", where=name) from exc
    out = RawBatch(name, Kind.EVTX)
    done = 0  # records in batches already yielded
    while True:
        try:
            # A plain loop (not next() per record): this is the hottest loop of a hunt.
            for rec in records:
                out.texts.append(rec["data"])  # type: ignore[arg-type]
                out.positions.append(rec["event_record_id"])
                if len(out.positions) >= batch:
                    done += len(out.positions)
                    yield out
                    out = RawBatch(name, Kind.EVTX)
            break
        except Exception as exc:  # the Rust parser reports a bad chunk or record and goes on
            on_warning(
                IngestWarning(
                    name,
                    f"skipped unreadable EVTX data: {exc}",
                    record=done + len(out.positions) + 1,
                )
            )
    if out.texts:
        yield out


def _read_json_lines(src: Source, on_warning: WarningSink, batch: int) -> Iterator[RawBatch]:
    name = str(src.path)
    fh = _open(src)
    line_no = 0
    offset = 0
    carry = b""
    out = RawBatch(name, Kind.JSON_LINES, offsets=[])
    try:
        while True:
            block, error = _read_block(fh)
            if error is not None:
                on_warning(
                    IngestWarning(
                        name,
                        f"file ends early or is corrupt: {error}",
                        offset=offset,
                        line=line_no + 1,
                    )
                )
                if block:  # what decompressed cleanly is kept; the cut last line is not
                    block = block[: block.rfind(b"\n") + 1]
            if not block:
                lines = [carry] if carry else []
                carry = b""
            else:
                lines = (carry + block).split(b"\n")
                carry = lines.pop()
                if len(carry) > MAX_LINE:
                    on_warning(
                        IngestWarning(
                            name,
                            f"line longer than {MAX_LINE} bytes skipped",
                            offset=offset,
                            line=line_no + 1,
                        )
                    )
                    carry = b""
                    _skip_to_newline(fh)
            starts = list(accumulate((len(x) + 1 for x in lines), initial=0))
            for i, raw in enumerate(lines):
                line_no += 1
                text = raw.strip()
                if not text:
                    continue
                if len(text) > MAX_LINE:
                    on_warning(
                        IngestWarning(
                            name, "line too long, skipped", offset=offset + starts[i], line=line_no
                        )
                    )
                    continue
                out.texts.append(text)  # type: ignore[arg-type]
                out.positions.append(line_no)
                out.offsets.append(offset + starts[i])  # type: ignore[union-attr]
                out.size_bytes += len(text)
                if len(out.texts) >= batch:
                    yield out
                    out = RawBatch(name, Kind.JSON_LINES, offsets=[])
            offset += starts[-1]
            if not block or error is not None:
                break
    finally:
        fh.close()
    if out.texts:
        yield out


def _read_block(fh: BinaryIO) -> tuple[bytes, Exception | None]:
    """Up to BLOCK bytes; a corrupt or cut stream returns what was read before the fault."""
    parts: list[bytes] = []
    size = 0
    read1 = getattr(fh, "read1", fh.read)
    while size < BLOCK:
        try:
            chunk = read1(BLOCK - size)
        except (OSError, EOFError, zlib.error) as exc:
            return b"".join(parts), exc
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts), None


def _skip_to_newline(fh: BinaryIO) -> None:
    while True:
        chunk = fh.read(BLOCK)
        if not chunk or b"\n" in chunk:
            return


def _read_json_array(src: Source, on_warning: WarningSink, batch: int) -> Iterator[RawBatch]:
    name = str(src.path)
    with _open(src) as fh:
        data = fh.read(MAX_JSON_ARRAY + 1)
    if len(data) > MAX_JSON_ARRAY:
        raise IngestError("JSON array file larger than 1 GiB; use JSON Lines", where=name)
    try:
        items = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise IngestError(f"invalid JSON: {exc}", where=name) from exc
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise IngestError("JSON file holds neither an array nor an object", where=name)
    yield from _batches(name, Kind.JSON_ARRAY, enumerate(items, 1), on_warning, batch)


def _batches(
    name: str, kind: Kind, items: Iterable[tuple[int, Any]], on_warning: WarningSink, batch: int
) -> Iterator[RawBatch]:
    """Numbered parsed values -> batches of compact JSON objects (anything else is a warning)."""
    out = RawBatch(name, kind)
    for i, item in items:
        if not isinstance(item, dict):
            on_warning(IngestWarning(name, "JSON value is not an object", record=i))
            continue
        out.texts.append(orjson.dumps(item))  # type: ignore[arg-type]
        out.positions.append(i)
        if len(out.texts) >= batch:
            yield out
            out = RawBatch(name, kind)
    if out.texts:
        yield out


def _read_json_stream(src: Source, on_warning: WarningSink, batch: int) -> Iterator[RawBatch]:
    """Concatenated JSON objects, pretty-printed or not (``evtx_dump -o json``)."""
    name = str(src.path)
    with _open(src) as fh:
        data = fh.read(MAX_JSON_ARRAY + 1)
    if len(data) > MAX_JSON_ARRAY:
        raise IngestError("JSON stream file larger than 1 GiB; use JSON Lines", where=name)
    text = data.decode("utf-8", "replace")
    yield from _batches(
        name, Kind.JSON_STREAM, _stream_values(name, text, on_warning), on_warning, batch
    )


def _stream_values(name: str, text: str, on_warning: WarningSink) -> Iterator[tuple[int, Any]]:
    decoder = json.JSONDecoder()
    pos, n, end = 0, 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= end:
            break
        try:
            obj, nxt = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError) as exc:
            on_warning(
                IngestWarning(
                    name,
                    f"invalid JSON skipped: {getattr(exc, 'msg', exc)}",
                    offset=pos,
                    line=text.count("\n", 0, pos) + 1,
                )
            )
            resync = text.find("\n{", pos + 1)
            if resync < 0:
                break
            pos = resync + 1
            continue
        n += 1
        pos = nxt
        yield n, obj
