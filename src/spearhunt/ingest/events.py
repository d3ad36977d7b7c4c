"""Readers of event logs: EVTX, JSON Lines and JSON arrays (plain or gzip).

Readers do as little as possible in Python: they hand the engine each record's JSON text
and where it came from; parsing and flattening happen in the engine's native JSON code. A
bad record becomes an ``IngestWarning`` and the file goes on; a file that cannot be read at
all raises ``IngestError`` for that file only.
"""

from __future__ import annotations

import io
import json
import logging
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, BinaryIO

import evtx
import orjson
import pyarrow as pa

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
        raise IngestError(f"not an event log ({src.kind.value})", where=src.name)


def _open(src: Source) -> BinaryIO:
    return src.open()


INT64_MAX = 2**63 - 1
EVTX_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
EVTX_HEADER = 4096
EVTX_CHUNK = 65536


def _evtx_bytes(src: Source) -> bytes:
    """A compressed, archived or header-damaged EVTX file, read whole (bounded)."""
    with _open(src) as fh:
        return _read_bounded(fh, MAX_GZ_EVTX, src.name, "EVTX")


def _read_bounded(fh: BinaryIO, limit: int, name: str, what: str) -> bytes:
    try:
        data = fh.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"damaged or cut {what} data: {exc}", where=name) from exc
    if len(data) > limit:
        raise IngestError(f"{what} larger than {limit:,} bytes uncompressed: not read", where=name)
    return data


def evtx_expected(data: bytes) -> int | None:
    """Records the EVTX chunk headers say the file holds (None when no chunk header is sound).

    Each chunk header names its first and last record number; the sum over the file's chunks
    is what a reader should find, so what it did not find can be said as a number.
    """
    heads = (data[off : off + 40] for off in range(EVTX_HEADER, len(data), EVTX_CHUNK))
    return _count_chunk_records(heads)


def _count_chunk_records(heads: Iterable[bytes]) -> int | None:
    total, sound = 0, False
    for head in heads:
        if head[:8] != CHUNK_MAGIC or len(head) < 24:
            continue
        first = int.from_bytes(head[8:16], "little")
        last = int.from_bytes(head[16:24], "little")
        if first == 0 and last == 0:
            continue  # a chunk never written (EVTX files are preallocated)
        if last < first or last - first >= EVTX_CHUNK:  # a record is at least 24 bytes
            continue
        sound = True
        total += last - first + 1
    return total if sound else None


def _read_evtx(src: Source, on_warning: WarningSink, batch: int) -> Iterator[RawBatch]:
    name = src.name
    data: bytes | None = None
    try:
        if src.gzipped or src.member or src.encoding:
            data = _evtx_bytes(src)
        else:
            with src.path.open("rb") as fh:
                magic = fh.read(8)
            # A sound file is read by the parser itself, with no copy in memory.
            data = None if magic == EVTX_MAGIC else _evtx_bytes(src)
        if data is not None and not data.startswith(EVTX_MAGIC):
            if data[EVTX_HEADER : EVTX_HEADER + 8] != CHUNK_MAGIC:
                raise IngestError("not an EVTX file (no file or chunk signature)", where=name)
            on_warning(IngestWarning(name, "damaged EVTX file header: its chunks are read anyway"))
            data = EVTX_MAGIC + data[8:]
        parser = evtx.PyEvtxParser(io.BytesIO(data) if data is not None else name, EVTX_THREADS)
        records = parser.records_json()
    except (OSError, RuntimeError, ValueError, EOFError) as exc:
        raise IngestError(f"not a readable EVTX file: {exc}", where=name) from exc
    out = RawBatch(name, Kind.EVTX)
    done = 0  # records in batches already yielded
    seen: set[int] = set()  # their ids (a damaged file's records are recovered by id)
    errors: list[str] = []
    while True:
        try:
            # A plain loop (not next() per record): this is the hottest loop of a hunt.
            for rec in records:
                rid = rec["event_record_id"]  # type: ignore[index]
                if rid > INT64_MAX:  # the format's ids are unsigned; the engine's are int64
                    rid = -1
                out.texts.append(rec["data"])  # type: ignore[index]
                out.positions.append(rid)
                if len(out.positions) >= batch:
                    done += len(out.positions)
                    seen.update(out.positions)
                    yield out
                    out = RawBatch(name, Kind.EVTX)
            break
        except Exception as exc:  # the Rust parser reports a bad chunk or record and goes on
            errors.append(str(exc))
            if len(errors) > 10_000:  # a parser that keeps failing in place: stop
                break
    read = done + len(out.positions)
    expected = _expected(src, data)
    if errors or (expected is not None and expected > read):
        # Records after a damaged record header are carved: the chunk's record chain is
        # re-linked over the damage and the chunk parsed again on its own.
        whole = data if data is not None else _evtx_bytes_or_none(src)
        seen.update(out.positions)
        for rid, text in recover_evtx_records(whole, seen) if whole else ():
            out.texts.append(text)  # type: ignore[arg-type]
            out.positions.append(rid if rid <= INT64_MAX else -1)
        recovered = done + len(out.positions) - read
        read += recovered
        # The parser drops a cut or damaged chunk, sometimes without an error: the chunk
        # headers' record ranges say how many records the file should have held.
        if expected is not None and expected > read:
            lost = f"{expected - read:,} of the {expected:,} records its chunk headers list are missing"
        elif recovered:
            lost = "no record is missing"
        else:
            lost = "some records are missing"
        first = f"; first parser error: {errors[0][:200]}" if errors else ""
        carved = f"; {recovered:,} recovered from the damaged chunks" if recovered else ""
        on_warning(
            IngestWarning(
                name,
                f"damaged or cut EVTX file: {lost} ({len(errors)} parser errors{first}){carved}",
                record=read + 1,
            )
        )
    if out.texts:
        yield out


def _evtx_bytes_or_none(src: Source) -> bytes | None:
    try:
        return _evtx_bytes(src)
    except IngestError:
        return None


RECORD_MAGIC = b"**\x00\x00"


def recover_evtx_records(data: bytes, have: set[int]) -> list[tuple[int, str]]:
    """(record id, JSON) of records a damaged chunk hides from the parser.

    The parser follows each record's size to the next record, so one damaged record header
    loses the rest of its chunk. For every chunk whose parse falls short of its header's
    record range in ``have`` (the ids the first parse gave), the chain is re-linked (each
    damaged header rewritten to reach the next record signature) and the chunk parsed alone;
    the records it then gives that are not in ``have`` are returned. Records whose templates sat in the damaged bytes stay lost.
    """
    out: list[tuple[int, str]] = []
    head = bytearray(data[:EVTX_HEADER].ljust(EVTX_HEADER, b"\x00"))
    head[:8] = EVTX_MAGIC
    struct.pack_into("<QQ", head, 8, 0, 0)  # first and last chunk number
    struct.pack_into("<H", head, 0x2A, 1)  # one chunk
    for off in range(EVTX_HEADER, len(data), EVTX_CHUNK):
        chunk = data[off : off + EVTX_CHUNK]
        if chunk[:8] != CHUNK_MAGIC or len(chunk) < 512:
            continue
        chunk = chunk.ljust(EVTX_CHUNK, b"\x00")  # a cut chunk: its whole records are read
        first, last = struct.unpack_from("<QQ", chunk, 8)
        if last < first or last - first >= EVTX_CHUNK:
            continue
        if all(rid in have for rid in range(first, last + 1)):
            continue
        relinked = _relink(chunk)
        again = _parse_chunk(bytes(head), relinked)
        if not [rid for rid, _ in again if rid not in have]:
            # A damaged string or template table fails the whole chunk: without them the
            # parser reads each name and template where the records define them.
            again = _parse_chunk(bytes(head), relinked[:128] + bytes(384) + relinked[512:])
        out.extend((rid, text) for rid, text in again if rid not in have and first <= rid <= last)
    return out


def _parse_chunk(head: bytes, chunk: bytes) -> list[tuple[int, str]]:
    try:
        records = evtx.PyEvtxParser(io.BytesIO(head + chunk), EVTX_THREADS).records_json()
    except (OSError, RuntimeError, ValueError):
        return []
    got: list[tuple[int, str]] = []
    for _ in range(EVTX_CHUNK // 24):  # each failure costs one step: bounded
        try:
            for rec in records:
                got.append((rec["event_record_id"], rec["data"]))  # type: ignore[index]
            break
        except Exception:  # the parser reports a bad record and goes on
            continue
    return got


def _relink(chunk: bytes) -> bytes:
    """The chunk with its record chain re-linked over damaged record headers."""
    buf = bytearray(chunk)
    end = len(buf)
    pos = 512
    while pos + 24 <= end:
        size = int.from_bytes(buf[pos + 4 : pos + 8], "little")
        sound = (
            buf[pos : pos + 4] == RECORD_MAGIC
            and 24 <= size <= end - pos
            and int.from_bytes(buf[pos + size - 4 : pos + size], "little") == size
        )
        if sound:
            pos += size
            continue
        nxt = buf.find(RECORD_MAGIC, pos + 4)
        if nxt < 0:
            break
        size = nxt - pos
        if size >= 24:
            buf[pos : pos + 4] = RECORD_MAGIC
            struct.pack_into("<I", buf, pos + 4, size)
            struct.pack_into("<I", buf, nxt - 4, size)
        pos = nxt
    struct.pack_into("<I", buf, 48, max(pos, int.from_bytes(buf[48:52], "little")))
    return bytes(buf)


def _expected(src: Source, data: bytes | None) -> int | None:
    if data is not None:
        return evtx_expected(data)
    try:  # a plain file: only the chunk headers are read
        with src.path.open("rb") as fh:
            size = fh.seek(0, io.SEEK_END)
            heads = []
            for off in range(EVTX_HEADER, size, EVTX_CHUNK):
                fh.seek(off)
                heads.append(fh.read(40))
    except OSError:
        return None
    return _count_chunk_records(heads)


def _read_json_lines(src: Source, on_warning: WarningSink, batch: int) -> Iterator[RawBatch]:
    name = src.name
    fh = _open(src)
    line_no = 0
    offset = 0
    carry = b""
    first = True
    out = RawBatch(name, Kind.JSON_LINES, offsets=[])
    try:
        while True:
            block, error = _read_block(fh)
            if first:
                first = False
                if block.startswith(b"\xef\xbb\xbf"):  # a UTF-8 BOM is not part of the record
                    block = block[3:]
                    offset = 3
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
                whole = carry
                carry = b""
            else:
                data = carry + block
                whole = data[: data.rfind(b"\n") + 1]  # the complete lines, for the checks
                lines = data.split(b"\n")
                carry = lines.pop()
                if len(carry) > MAX_LINE:
                    # Skip the rest of the long line only: the records after it are read.
                    on_warning(
                        IngestWarning(
                            name,
                            f"line longer than {MAX_LINE} bytes skipped",
                            offset=offset + sum(len(x) + 1 for x in lines),
                            line=line_no + len(lines) + 1,
                        )
                    )
                    long_len = len(carry)
                    skipped, carry, _eof = _skip_to_newline(fh)
                    lines.append(b"")  # stands for the skipped line in the numbering
                    offset += long_len + skipped - 1  # its bytes beyond the placeholder's one
            lines = _clean_lines(lines, whole, name, line_no, on_warning)
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


# A \uD800-\uDFFF escape: a surrogate, lone (hostile) or half of a pair (an emoji).
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE = re.compile("[\ud800-\udfff]")


def _clean_lines(
    lines: list[bytes], whole: bytes, name: str, line_no: int, on_warning: WarningSink
) -> list[bytes]:
    """Lines as the engine can take them: valid UTF-8, no lone surrogate escapes.

    An attacker's bytes must not remove the event they sit in: a bad sequence is replaced
    (U+FFFD) and the record kept, with a warning. ``whole`` is the block the lines come from
    (at least all their bytes): Arrow validates its UTF-8 (~3 ms per 16 MB) and one regex
    looks for surrogate escapes (~20 ms), so a clean block costs little; lines are looked at
    one by one only in a block with a fault.
    """
    try:
        pa.array([whole], pa.binary()).cast(pa.string())
        bad_utf8 = False
    except pa.ArrowInvalid:
        bad_utf8 = True
    maybe_surrogate = _SURROGATE.search(whole) is not None
    if not bad_utf8 and not maybe_surrogate:
        return lines
    out = []
    for i, raw in enumerate(lines):
        fixed = raw
        if bad_utf8:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                fixed = raw.decode("utf-8", "replace").encode("utf-8")
                on_warning(
                    IngestWarning(
                        name, "invalid UTF-8 replaced (record kept)", line=line_no + i + 1
                    )
                )
        if maybe_surrogate and _SURROGATE.search(fixed):
            fixed = _without_lone_surrogates(fixed, name, line_no + i + 1, on_warning)
        out.append(fixed)
    return out


def _without_lone_surrogates(raw: bytes, name: str, line: int, on_warning: WarningSink) -> bytes:
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return raw  # the engine reports the invalid record
    clean = _tame(obj)
    if clean == obj:
        return raw
    on_warning(
        IngestWarning(name, "lone UTF-16 surrogate escape replaced (record kept)", line=line)
    )
    return orjson.dumps(clean)


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


def _skip_to_newline(fh: BinaryIO) -> tuple[int, bytes, bool]:
    """Read past the end of the current line: (bytes skipped, what follows the newline, EOF)."""
    skipped = 0
    while True:
        chunk, error = _read_block(fh)
        if error is not None or not chunk:
            return skipped + len(chunk), b"", True
        cut = chunk.find(b"\n")
        if cut >= 0:
            return skipped + cut + 1, chunk[cut + 1 :], False
        skipped += len(chunk)


def _read_whole(src: Source, on_warning: WarningSink, what: str) -> bytes:
    """A JSON array or stream file read whole (bounded); a cut or corrupt file keeps its head."""
    parts: list[bytes] = []
    size = 0
    with _open(src) as fh:
        while True:
            block, error = _read_block(fh)
            parts.append(block)
            size += len(block)
            if size > MAX_JSON_ARRAY:
                raise IngestError(
                    f"{what} file larger than {MAX_JSON_ARRAY:,} bytes; use JSON Lines",
                    where=src.name,
                )
            if error is not None:
                on_warning(
                    IngestWarning(
                        src.name,
                        f"file ends early or is corrupt: {error}; the records before are read",
                        offset=size,
                    )
                )
                break
            if not block:
                break
    data = b"".join(parts)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data


def _read_json_array(src: Source, on_warning: WarningSink, batch: int) -> Iterator[RawBatch]:
    name = src.name
    data = _read_whole(src, on_warning, "JSON array")
    try:
        items = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # A cut or damaged array: its complete records are read one by one, the fault said.
        on_warning(
            IngestWarning(name, f"invalid JSON array ({exc}); its readable records are kept")
        )
        text = _decode(data, name, on_warning)
        start = text.find("[") + 1
        yield from _batches(
            name, Kind.JSON_ARRAY, _stream_values(name, text, on_warning, start), on_warning, batch
        )
        return
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise IngestError("JSON file holds neither an array nor an object", where=name)
    yield from _batches(name, Kind.JSON_ARRAY, enumerate(items, 1), on_warning, batch)


def _decode(data: bytes, name: str, on_warning: WarningSink) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        on_warning(IngestWarning(name, "invalid UTF-8 replaced (records kept)", offset=exc.start))
        return data.decode("utf-8", "replace")


def _batches(
    name: str, kind: Kind, items: Iterable[tuple[int, Any]], on_warning: WarningSink, batch: int
) -> Iterator[RawBatch]:
    """Numbered parsed values -> batches of compact JSON objects (anything else is a warning)."""
    out = RawBatch(name, kind)
    for i, item in items:
        if not isinstance(item, dict):
            on_warning(IngestWarning(name, "JSON value is not an object", record=i))
            continue
        try:
            text = orjson.dumps(item)
        except (TypeError, orjson.JSONEncodeError) as exc:
            # Lone surrogates, integers past 64 bits: keep the event, make the value text.
            text = orjson.dumps(_tame(item))
            on_warning(IngestWarning(name, f"value replaced to keep the record: {exc}", record=i))
        out.texts.append(text)  # type: ignore[arg-type]
        out.positions.append(i)
        if len(out.texts) >= batch:
            yield out
            out = RawBatch(name, kind)
    if out.texts:
        yield out


def _tame(value: Any) -> Any:
    """A parsed JSON value orjson can write: lone surrogates replaced, huge integers as text."""
    if isinstance(value, str):
        return _LONE.sub("\ufffd", value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, dict):
        return {_tame(str(k)): _tame(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tame(v) for v in value]
    return str(value)


def _read_json_stream(src: Source, on_warning: WarningSink, batch: int) -> Iterator[RawBatch]:
    """Concatenated JSON objects, pretty-printed or not (``evtx_dump -o json``)."""
    name = src.name
    text = _decode(_read_whole(src, on_warning, "JSON stream"), name, on_warning)
    yield from _batches(
        name, Kind.JSON_STREAM, _stream_values(name, text, on_warning), on_warning, batch
    )


def _stream_values(
    name: str, text: str, on_warning: WarningSink, pos: int = 0
) -> Iterator[tuple[int, Any]]:
    decoder = json.JSONDecoder()
    n, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n,]":
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
