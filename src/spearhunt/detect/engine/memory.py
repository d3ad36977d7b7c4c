"""The engine's memory budget: what ``--memory-limit`` means and how it is shared out.

The default, ``auto``, is a quarter of the machine's memory (or of the container's limit),
at least 768MB and at most 4GB: a laptop keeps most of its memory, a workstation is not held
to a laptop's share (at 768MB the engine spills a 1M-event hunt to disk and runs 1.2-1.3x
slower than at 4GB; ``bench/hunt.py --memory-limit``).

``--memory-limit`` bounds what the engine holds for the run's events: DuckDB's buffer pool
(which spills to disk past its share) and the input chunks on their way into it (Python's
lists of record texts and their Arrow copy, one chunk read while one is normalized). The
process adds a fixed overhead on top, whatever the input size: the interpreter, the loaded
libraries and the compiled rules (``OVERHEAD``, measured by ``bench/memory.py``).
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

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


AUTO = "auto"
AUTO_MIN = 768 * 1000**2
AUTO_MAX = 4 * 1000**3
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def machine_memory() -> int | None:
    """Bytes of memory this process can have: the machine's, or its container's limit when
    lower; None where neither can be read."""
    total: int | None = None
    with contextlib.suppress(AttributeError, ValueError, OSError):
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in _CGROUP_LIMITS:
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < (total or 1 << 62):
            total = int(text)
    return total if total and total > 0 else None


def auto_limit(total: int | None = None) -> int:
    """``--memory-limit auto``: a quarter of ``total`` (default: ``machine_memory()``),
    within 768MB and 4GB; 768MB when the machine's memory is unknown."""
    total = machine_memory() if total is None else total
    return AUTO_MIN if not total else max(AUTO_MIN, min(AUTO_MAX, total // 4))


def parse_memory(text: str, option: str = "--memory-limit") -> int:
    """Bytes of a size such as ``768MB``, ``4GB``, ``512MiB`` or ``auto`` (``auto_limit``);
    a clear error otherwise."""
    if (text or "").strip().lower() == AUTO:
        return auto_limit()
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


def describe(text: str) -> str:
    """A ``--memory-limit`` as the user gave it, with what ``auto`` came to."""
    if text.strip().lower() != AUTO:
        return text
    return f"{AUTO} ({auto_limit() / 1000**2:,.0f}MB)"


def out_of_memory_message(limit_text: str, threads: int | None) -> str:
    """What an out-of-memory failure tells the user: spearhunt's options, not DuckDB's."""
    limit_text = describe(limit_text)
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
