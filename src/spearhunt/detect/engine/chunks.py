"""Input for the DuckDB engine: raw records buffered into chunks, each normalized on one
engine thread while the caller reads the next (reading is Python, DuckDB releases the GIL).

At most one chunk is in flight and a chunk is at most ``chunk_bytes`` of record texts, so
the input's memory stays bounded (``engine.memory``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import pyarrow as pa

from spearhunt.ingest.events import RawBatch
from spearhunt.ingest.sources import Kind
from spearhunt.normalize.windows import SHAPE_EVTX

CHUNK_EVENTS = 100_000
CHUNK_BYTES = 96 * 1024 * 1024
SCAN_BATCH = 16_384
T = TypeVar("T")


class ChunkQueue:
    """Buffers record batches; hands each full chunk (an Arrow table of i, src, pos, j and
    its shape) to ``ingest`` on the engine thread."""

    def __init__(
        self, ingest: Callable[[pa.Table, int | None], None], chunk_bytes: int = CHUNK_BYTES
    ) -> None:
        self.ingest = ingest
        self.chunk_bytes = chunk_bytes
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="spearhunt-engine")
        self._pending: Future[None] | None = None
        self._src: list[int] = []
        self._pos: list[int] = []
        self._text: list[Any] = []
        self._bytes = 0
        self._evtx = True

    def add(self, src_index: int, batch: RawBatch) -> None:
        """Buffer one batch; hands a chunk over when the buffer is full."""
        self._src.extend([src_index] * len(batch))
        self._pos.extend(batch.positions)
        self._text.extend(batch.texts)
        self._evtx = self._evtx and batch.kind is Kind.EVTX
        self._bytes += batch.size_bytes or 1500 * len(batch)
        if len(self._text) >= CHUNK_EVENTS or self._bytes >= self.chunk_bytes:
            self.flush(wait=False)

    def flush(self, wait: bool = True) -> None:
        """Hand the buffered records over; with ``wait``, also wait until they are in."""
        if self._text:
            table = pa.table(
                {
                    "i": pa.array(range(1, len(self._text) + 1), pa.int64()),
                    "src": pa.array(self._src, pa.int32()),
                    "pos": pa.array(self._pos, pa.int64()),
                    "j": text_array(self._text),
                }
            )
            # DuckDB scans an Arrow table on several threads only batch by batch.
            table = pa.Table.from_batches(table.to_batches(max_chunksize=SCAN_BATCH))
            shape = SHAPE_EVTX if self._evtx else None
            self._text, self._src, self._pos, self._bytes = [], [], [], 0
            self._evtx = True
            self.wait()  # one chunk in flight at most: memory stays bounded
            self._pending = self._worker.submit(self.ingest, table, shape)
        if wait:
            self.wait()

    def wait(self) -> None:
        """Wait for the chunk in flight; re-raises what failed on the engine thread."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run other work on the engine thread (after the chunk in flight)."""
        return self._worker.submit(fn, *args)

    def close(self) -> None:
        """Stop the engine thread."""
        self._worker.shutdown(wait=True)


def text_array(texts: list[Any]) -> pa.Array:
    """Arrow strings from str or UTF-8 bytes; invalid UTF-8 is replaced, not fatal."""
    if texts and isinstance(texts[0], bytes):
        arr = pa.array(texts, pa.binary())
        try:
            return arr.cast(pa.string())
        except pa.ArrowInvalid:
            return pa.array([t.decode("utf-8", "replace") for t in texts], pa.string())
    return pa.array(texts, pa.string())
