"""The engine's memory budget: what ``--memory-limit`` means and how it is shared out.

``--memory-limit`` bounds what the engine holds for the run's events: DuckDB's buffer pool
(which spills to disk past its share) and the input chunks on their way into it (Python's
lists of record texts and their Arrow copy, one chunk read while one is normalized). The
process adds a fixed overhead on top, whatever the input size: the interpreter, the loaded
libraries and the compiled rules (``OVERHEAD``, measured by ``bench/memory.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spearhunt.errors import UsageError

# DuckDB's units: KB, MB, GB, TB are powers of 1000, KiB, MiB, GiB, TiB of 1024.
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "t": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
MIN_LIMIT = 192 * 1000**2
# A chunk in flight costs about this many times its record texts' size (the texts, their
# Arrow copy, and DuckDB's JSON parse of the chunk being normalized).
CHUNK_FACTOR = 4
CHUNK_BYTES_MAX = 96 * 1024 * 1024
# What DuckDB needs per thread for one operator before it can spill (hash tables, the
# JSON of a chunk): below it a query fails instead of spilling.
PER_THREAD = 128 * 1000**2  # 2 threads at 256MB ran out on the OTRF logs; 1 did not
# DuckDB allocates some memory outside its buffer pool (query state, Arrow results): an
# eighth of the limit is kept for it.
RESERVE = 8
# What peak RSS holds beyond the limit (bench/memory.py, the OTRF host logs, all SigmaHQ
# Windows rules): ~190 MB of interpreter, libraries and compiled rules, ~100-150 MB more.
OVERHEAD = "~350 MB"


def parse_memory(text: str, option: str = "--memory-limit") -> int:
    """Bytes of a size such as ``768MB``, ``4GB``, ``512MiB``; a clear error otherwise."""
    m = _SIZE.match(text or "")
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _UNITS:
        raise UsageError(f"{option} wants a size such as 512MB or 4GB, got {text!r}")
    value = int(float(m.group(1)) * _UNITS[unit])
    if value < MIN_LIMIT:
        raise UsageError(f"{option} {text} is too small: the engine needs at least 192MB")
    return value


@dataclass(frozen=True, slots=True)
class Budget:
    """How one memory limit is shared between the input chunks and DuckDB."""

    limit: int
    chunk_bytes: int  # record texts buffered before a chunk is normalized
    duckdb_bytes: int  # DuckDB's memory_limit
    threads: int | None  # DuckDB threads (None: DuckDB's default, all cores)

    @property
    def batch_records(self) -> int:
        """Records a reader batch holds: a batch is buffered whole, so it fits in a chunk
        (EVTX and Sysmon JSON records run 1-3 KB)."""
        return max(1_000, min(50_000, self.chunk_bytes // 2_048))

    @property
    def duckdb_setting(self) -> str:
        """The value for DuckDB's ``SET memory_limit``."""
        return f"{self.duckdb_bytes}B"


def budget(limit: int, threads: int | None, cores: int) -> Budget:
    """Share ``limit`` bytes: an eighth for chunks (at most 96 MiB of texts), an eighth kept
    for what DuckDB holds outside its pool, the rest DuckDB's; with no ``--threads``, as
    many threads as the DuckDB share can feed."""
    chunk = min(CHUNK_BYTES_MAX, limit // (8 * CHUNK_FACTOR))
    duck = limit - CHUNK_FACTOR * chunk - limit // RESERVE
    if threads is None and duck < PER_THREAD * cores:
        threads = max(1, duck // PER_THREAD)
    return Budget(limit, chunk, duck, threads)


def out_of_memory_message(limit_text: str, threads: int | None) -> str:
    """What an out-of-memory failure tells the user: spearhunt's options, not DuckDB's."""
    if threads == 1:
        return (
            f"the engine ran out of memory within --memory-limit {limit_text} (--threads 1): "
            "give it more (e.g. --memory-limit 2GB)"
        )
    th = f"--threads {threads}" if threads else "all cores"
    return (
        f"the engine ran out of memory within --memory-limit {limit_text} ({th}): "
        "give it more (e.g. --memory-limit 2GB) or fewer threads (--threads 1)"
    )
