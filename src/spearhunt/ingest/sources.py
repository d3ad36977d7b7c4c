"""Turn the user's PATH arguments (files, folders, globs) into a stable list of input files,
and sniff what each file holds from its first bytes, not its name.

Only regular files are opened (a FIFO or a device would block the run); a file that cannot be
used carries a ``problem`` the caller reports, so nothing is skipped without a word.
"""

from __future__ import annotations

import codecs
import glob
import gzip
import io
import os
import re
import stat
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

import orjson

from spearhunt.errors import IngestError, UsageError

SNIFF_BYTES = 8192
# A name that promises a log: when such a file is not recognized, the run says so.
LOG_SUFFIXES = frozenset({".evtx", ".json", ".jsonl", ".ndjson", ".log", ".gz", ".zip", ".tgz"})
# The first key of the simulator's answer key (simulate/truth.py writes it first).
ANSWER_KEY_SCHEMA = re.compile(rb'^\{\s*"schema"\s*:\s*"spearhunt\.simulate\.truth/')


class Kind(StrEnum):
    """What a file holds."""

    EVTX = "evtx"
    JSON_LINES = "jsonl"
    JSON_ARRAY = "json"
    JSON_STREAM = "json-stream"  # concatenated (pretty-printed) objects, as evtx_dump writes
    PARQUET = "parquet"  # events written by `spearhunt ingest --to-parquet`
    ZEEK_TSV = "zeek"
    MAIL = "mail"
    ARCHIVE = "archive"  # zip or tar(.gz) of logs, read in place (ingest.archives)
    ANSWER_KEY = "answer-key"  # truth.json of `spearhunt simulate`: never read as evidence
    UNKNOWN = "unknown"


# What `hunt` (and every command that hunts) reads as event logs; Parquet is a dataset that
# `spearhunt ingest --to-parquet` normalized already.
EVENT_KINDS = frozenset(
    {Kind.EVTX, Kind.JSON_LINES, Kind.JSON_ARRAY, Kind.JSON_STREAM, Kind.PARQUET}
)

Opener = Callable[[], BinaryIO]


@dataclass(frozen=True, slots=True)
class Source:
    """An input file (or a member of an archive) and what it was sniffed to be."""

    path: Path
    kind: Kind
    gzipped: bool = False
    member: str | None = None  # name inside the archive at ``path``
    encoding: str | None = None  # "utf-16-le"/"utf-16-be" text, re-encoded to UTF-8 on reading
    problem: str | None = None  # why it cannot be read (said to the user, never silent)
    opener: Opener | None = field(default=None, repr=False, compare=False)

    @property
    def where(self) -> Path:
        """The path the user knows it by (``logs.zip/a.json`` for an archive member)."""
        return self.path / self.member if self.member else self.path

    @property
    def name(self) -> str:
        """``where`` as text: the source name in warnings, detections and the case."""
        return str(self.where)

    def open(self) -> BinaryIO:
        """The content as bytes (gunzipped, UTF-16 re-encoded); IngestError if it cannot be opened."""
        try:
            raw: BinaryIO = self.opener() if self.opener else self.path.open("rb")
        except OSError as exc:
            raise IngestError(f"cannot open: {exc.strerror or exc}", where=self.name) from exc
        if self.gzipped:
            raw = _owning_gzip(raw)
        if self.encoding:
            raw = io.BufferedReader(Utf8Reader(raw, self.encoding))
        return raw


def _owning_gzip(raw: BinaryIO) -> BinaryIO:
    gz = gzip.GzipFile(fileobj=raw, mode="rb")
    gz.myfileobj = raw  # type: ignore[assignment]  # GzipFile closes it with itself
    return gz  # type: ignore[return-value]


class Utf8Reader(io.RawIOBase):
    """A byte stream in another encoding, read as UTF-8 (PowerShell 5.1 writes UTF-16)."""

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)("replace")
        self._pending = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._eof:
            chunk = self._raw.read(1 << 20)
            self._eof = not chunk
            text = self._decoder.decode(chunk, final=self._eof)
            self._pending = text.encode("utf-8", "surrogatepass").replace(b"\xef\xbb\xbf", b"")
        n = min(len(buf), len(self._pending))
        buf[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def expand_paths(args: list[str] | list[Path]) -> list[Path]:
    """Files named by the arguments: files as given, folders recursively, globs expanded.

    Raises UsageError for an argument that names nothing, so a typo is not a silent empty run.
    Entries found inside folders or by globs are kept even when they are not regular files
    (a FIFO, a dangling link): ``sniff`` gives them a problem the run reports.
    """
    out: dict[Path, None] = {}
    for arg in args:
        text = str(arg)
        p = Path(text).expanduser()
        if p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not name.startswith("."):
                        out[Path(dirpath) / name] = None
        elif p.exists():
            out[p] = None
        elif glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))  # noqa: PTH207 - absolute patterns
            if not matches:
                raise UsageError(f"no file matches {text!r}")
            for m in matches:
                mp = Path(m)
                if mp.is_dir():
                    out.update((f, None) for f in expand_paths([mp]))
                else:
                    out[mp] = None  # a dangling link too: reported, not fatal
        elif p.is_symlink():
            out[p] = None
        else:
            raise UsageError(f"no such file or folder: {text}")
    return list(out)


def not_regular(path: Path) -> str | None:
    """Why ``path`` must not be opened (FIFO, device, dangling link), or None for a regular file."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "dangling symbolic link" if path.is_symlink() else "file vanished"
    except OSError as exc:
        return f"cannot stat: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a regular file: not opened"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file: not opened"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file: not opened"
    return "not a regular file: not opened"


_MAIL_HEADERS = (
    b"received:",
    b"return-path:",
    b"from:",
    b"delivered-to:",
    b"message-id:",
    b"mime-version:",
    b"x-",
    b"subject:",
    b"date:",
    b"to:",
    b"arc-",
    b"dkim-",
    b"authentication-results:",
    b"content-type:",
    b"reply-to:",
    b"thread-",
)


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


# Keys only Zeek's JSON writer puts in a record, in either scope separator ('.' is Zeek's
# default, '_' a common setting that also renames ``_path``): ``_path``, ``@stream`` (the log
# name some shippers write instead), and the connection id of every log that has one.
_ZEEK_KEYS = (b'"_path"', b'"@stream"', b'"id.orig_h"', b'"id_orig_h"')


def _zeek_json(text: bytes) -> bool:
    first = text[:4096].split(b"\n", 1)[0]
    return any(k in first for k in _ZEEK_KEYS) and b'"EventID"' not in first


def utf16_encoding(head: bytes) -> str | None:
    """The UTF-16 flavour of a text that starts with a BOM or an ASCII character, else None."""
    if head.startswith(b"\xff\xfe"):
        return "utf-16-le"
    if head.startswith(b"\xfe\xff"):
        return "utf-16-be"
    if len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0] and head[2]:
        return "utf-16-le"
    if len(head) >= 4 and head[0] == 0 and head[2] == 0 and head[1] and head[3]:
        return "utf-16-be"
    return None


def classify(head: bytes, suffix: str = "") -> tuple[Kind, str | None]:
    """What the first bytes of a (decompressed) file say it holds, and its UTF-16 encoding."""
    if head.startswith(b"ElfFile\x00"):
        return Kind.EVTX, None
    if head.startswith(b"PAR1"):
        return Kind.PARQUET, None
    if head.startswith(b"\xd0\xcf\x11\xe0") and suffix == ".msg":
        return Kind.MAIL, None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")) or head[257:262] == b"ustar":
        return Kind.ARCHIVE, None
    if suffix == ".evtx" and head[4096:4104] == b"ElfChnk\x00":
        return Kind.EVTX, None  # damaged file header, intact chunks: the reader recovers them
    encoding = utf16_encoding(head)
    if encoding:
        text = head[2:] if head[:2] in (b"\xff\xfe", b"\xfe\xff") else head
        head = text[: len(text) // 2 * 2].decode(encoding, "replace").encode("utf-8", "replace")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"#separator") or text.startswith(b"#fields"):
        return Kind.ZEEK_TSV, encoding
    after = text[1:].lstrip(b" \t\r\n")
    # A JSON object's first byte after '{' is a key's quote or '}': RTF ('{\rtf1') is not JSON.
    if text.startswith(b"{") and after[:1] in (b'"', b"}"):
        if ANSWER_KEY_SCHEMA.match(text):
            return Kind.ANSWER_KEY, encoding
        if _zeek_json(text):
            return Kind.ZEEK_TSV, encoding  # Zeek's JSON logs go to the network reader
        first = text.split(b"\n", 1)[0].strip()
        if len(first) < len(text.strip()) and not _is_json(first):
            return Kind.JSON_STREAM, encoding
        return Kind.JSON_LINES, encoding
    if text.startswith(b"[") and after[:1] in (b"{", b"]"):
        return Kind.JSON_ARRAY, encoding
    if text.startswith(b"From "):
        return Kind.MAIL, encoding  # mbox
    first = text.split(b"\n", 1)[0].lower()
    if any(first.startswith(h) for h in _MAIL_HEADERS) and b":" in first:
        return Kind.MAIL, encoding
    return Kind.UNKNOWN, None


def read_head(fh: BinaryIO) -> tuple[bytes, bool, str | None]:
    """The first bytes of a stream (gunzipped when gzip): (head, gzipped, problem)."""
    head = fh.read(SNIFF_BYTES)
    if head[:2] != b"\x1f\x8b":
        return head, False, None
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(head)) as gz:
            inner = _read_some(gz, SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        return b"", True, f"damaged gzip data: {exc}"
    return inner, True, None


def _read_some(gz: gzip.GzipFile, n: int) -> bytes:
    """Up to ``n`` bytes of a gzip member whose compressed tail may be missing (a sniff head)."""
    parts: list[bytes] = []
    size = 0
    try:
        while size < n:
            chunk = gz.read1(n - size)
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
    except EOFError:
        pass  # the head was cut from a longer stream: what came out is what we need
    return b"".join(parts)


def sniff(path: Path) -> Source:
    """Decide what a file holds from its first bytes (only regular files are opened)."""
    problem = not_regular(path)
    if problem:
        return Source(path, Kind.UNKNOWN, problem=problem)
    try:
        with path.open("rb") as fh:
            head, gz, problem = read_head(fh)
    except OSError as exc:
        return Source(path, Kind.UNKNOWN, problem=f"cannot read: {exc.strerror or exc}")
    if problem:
        return Source(path, Kind.UNKNOWN, gz, problem=problem)
    suffix = path.suffix.lower()
    if gz and suffix == ".gz":
        suffix = Path(path.stem).suffix.lower()
    kind, encoding = classify(head, suffix)
    if kind is Kind.PARQUET and gz:
        kind = Kind.UNKNOWN
    if kind is Kind.UNKNOWN:
        return Source(path, kind, gz, problem=unknown_problem(head, path.name))
    return Source(path, kind, gz, encoding=encoding)


def unknown_problem(head: bytes, name: str) -> str | None:
    """What to tell the user about an unrecognized file: always for an empty one or a log name."""
    if not head:
        return "empty file (0 bytes)"
    suffixes = {s.lower() for s in Path(name).suffixes}
    if suffixes & LOG_SUFFIXES:
        return "not recognized as EVTX, JSON, Zeek, mail or an archive of them: skipped"
    return None
