"""Turn the user's PATH arguments (files, folders, globs) into a stable list of input files,
and sniff what each file holds from its first bytes, not its name."""

from __future__ import annotations

import glob
import gzip
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import orjson

from spearhunt.errors import UsageError

SNIFF_BYTES = 8192


class Kind(StrEnum):
    """What a file holds."""

    EVTX = "evtx"
    JSON_LINES = "jsonl"
    JSON_ARRAY = "json"
    JSON_STREAM = "json-stream"  # concatenated (pretty-printed) objects, as evtx_dump writes
    PARQUET = "parquet"  # events written by `spearhunt ingest --to-parquet`
    ZEEK_TSV = "zeek"
    MAIL = "mail"
    UNKNOWN = "unknown"


# What `hunt` (and every command that hunts) reads as event logs; Parquet is a dataset that
# `spearhunt ingest --to-parquet` normalized already.
EVENT_KINDS = frozenset(
    {Kind.EVTX, Kind.JSON_LINES, Kind.JSON_ARRAY, Kind.JSON_STREAM, Kind.PARQUET}
)


@dataclass(frozen=True, slots=True)
class Source:
    """An input file and what it was sniffed to be."""

    path: Path
    kind: Kind
    gzipped: bool = False


def expand_paths(args: list[str] | list[Path]) -> list[Path]:
    """Files named by the arguments: files as given, folders recursively, globs expanded.

    Raises UsageError for an argument that names nothing, so a typo is not a silent empty run.
    """
    out: dict[Path, None] = {}
    for arg in args:
        text = str(arg)
        p = Path(text).expanduser()
        if p.is_file():
            out[p] = None
        elif p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not name.startswith("."):
                        out[Path(dirpath) / name] = None
        elif glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))  # noqa: PTH207 - absolute patterns
            if not matches:
                raise UsageError(f"no file matches {text!r}")
            for m in matches:
                out.update((f, None) for f in expand_paths([m]))
        else:
            raise UsageError(f"no such file or folder: {text}")
    return list(out)


def _head(path: Path) -> tuple[bytes, bool]:
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as gz:
                return gz.read(SNIFF_BYTES), True
        except (OSError, EOFError):
            return b"", True
    return head, False


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


def sniff(path: Path) -> Source:
    """Decide what a file holds from its first bytes."""
    try:
        head, gz = _head(path)
    except OSError:
        return Source(path, Kind.UNKNOWN)
    if head.startswith(b"ElfFile\x00"):
        return Source(path, Kind.EVTX, gz)
    if head.startswith(b"PAR1") and not gz:
        return Source(path, Kind.PARQUET)
    if head.startswith(b"\xd0\xcf\x11\xe0") and path.suffix.lower() == ".msg":
        return Source(path, Kind.MAIL, gz)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"#separator") or text.startswith(b"#fields"):
        return Source(path, Kind.ZEEK_TSV, gz)
    after = text[1:].lstrip(b" \t\r\n")
    # A JSON object's first byte after '{' is a key's quote or '}': RTF ('{\rtf1') is not JSON.
    if text.startswith(b"{") and after[:1] in (b'"', b"}"):
        if _zeek_json(text):
            return Source(path, Kind.ZEEK_TSV, gz)  # Zeek's JSON logs go to the network reader
        first = text.split(b"\n", 1)[0].strip()
        if len(first) < len(text.strip()) and not _is_json(first):
            return Source(path, Kind.JSON_STREAM, gz)
        return Source(path, Kind.JSON_LINES, gz)
    if text.startswith(b"[") and after[:1] in (b"{", b"]"):
        return Source(path, Kind.JSON_ARRAY, gz)
    if text.startswith(b"From "):
        return Source(path, Kind.MAIL, gz)  # mbox
    first = text.split(b"\n", 1)[0].lower()
    if any(first.startswith(h) for h in _MAIL_HEADERS) and b":" in first:
        return Source(path, Kind.MAIL, gz)
    return Source(path, Kind.UNKNOWN, gz)
