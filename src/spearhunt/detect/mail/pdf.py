"""PDF facts read as bytes: action names, link targets and page count, Flate streams inflated.

Nothing is rendered. Names hidden inside compressed object streams (/ObjStm) are only visible
once the stream is inflated, so every FlateDecode-looking stream is inflated with zlib under a
per-stream and a total output budget (a PDF bomb stops at the budget, it is not expanded).
"""

from __future__ import annotations

import functools
import re
import zlib
from dataclasses import dataclass, field

MAX_INPUT = 20_000_000
MAX_STREAMS = 300
MAX_STREAM_OUT = 2_000_000
MAX_TOTAL_OUT = 12_000_000
NAMES = (
    "JavaScript",
    "JS",
    "Launch",
    "EmbeddedFile",
    "OpenAction",
    "AA",
    "URI",
    "SubmitForm",
    "RichMedia",
    "XFA",
    "Encrypt",
)
_NAME = {name: re.compile(rb"/" + name.encode() + rb"(?![A-Za-z])") for name in NAMES}
_STREAM = re.compile(rb"stream\r?\n")
_URI = re.compile(rb"/URI\s*\(((?:[^()\\]|\\.){4,2000})\)")
_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")


@dataclass(frozen=True, slots=True)
class PdfFacts:
    """Counts of interesting names, readable link targets and pages."""

    counts: dict[str, int] = field(default_factory=dict)
    uris: tuple[str, ...] = ()
    pages: int = 0
    inflated: int = 0  # streams inflated


def inflate_streams(data: bytes) -> tuple[list[bytes], int]:
    """Inflated content of the zlib streams in ``data``, bounded; (chunks, streams inflated)."""
    out: list[bytes] = []
    budget = MAX_TOTAL_OUT
    count = 0
    for match in _STREAM.finditer(data):
        if count >= MAX_STREAMS or budget <= 0:
            break
        start = match.end()
        cmf = data[start] if start < len(data) else 0
        if cmf & 0x0F != 8 or cmf >> 4 > 7:  # not a zlib header (deflate, window <= 32K)
            continue
        try:
            chunk = zlib.decompressobj().decompress(
                data[start : start + MAX_STREAM_OUT], min(MAX_STREAM_OUT, budget)
            )
        except zlib.error:
            continue
        count += 1
        budget -= len(chunk)
        out.append(chunk)
    return out, count


@functools.lru_cache(maxsize=8)
def pdf_facts(data: bytes) -> PdfFacts:
    """Facts over the raw file and its inflated streams (cached: the link and file checks both ask)."""
    data = data[:MAX_INPUT]
    chunks, inflated = inflate_streams(data)
    parts = [data, *chunks]
    counts = {name: sum(len(rx.findall(p)) for p in parts) for name, rx in _NAME.items()}
    uris: list[str] = []
    for p in parts:
        for raw in _URI.findall(p):
            text = raw.decode("latin-1").replace("\\", "").strip()
            if _PRINTABLE.match(text) and text not in uris:
                uris.append(text)
    pages = sum(len(_PAGE.findall(p)) for p in parts)
    return PdfFacts(counts=counts, uris=tuple(uris[:200]), pages=pages, inflated=inflated)
