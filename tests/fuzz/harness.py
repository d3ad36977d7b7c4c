"""A seeded mutation fuzzer for spearhunt's readers (no coverage guidance: cheap, reproducible).

Each case is derived from a seed input by a few random mutations (bit flips, interesting bytes,
cuts, duplicated or spliced ranges); ``run`` feeds every case to a reader and fails on the first
exception that is not one of the project's own errors, naming the case's seed so it can be
replayed with ``replay``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence

# Bytes that reach corners of the formats: control and escape characters, JSON structure,
# numbers past 64 bits, lone surrogate escapes, invalid UTF-8, gzip/zip/EVTX magics.
INTERESTING = (
    b"\x00",
    b"\xff",
    b"\x1b]0;x\x07",
    b"{",
    b"[" * 64,
    b'"',
    b"\\ud800",
    b"99999999999999999999999",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"\xc3\x28",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\n",
    b"\r\n\r\n",
    b"=?utf-8?b?A?=",
    b"\x1f\x8b\x08",
    b"PK\x03\x04",
    b"ElfChnk\x00",
    b"\xff\xff\xff\xff\xff\xff\xff\xff",
)


def examples(default: int) -> int:
    """Cases per reader: a short bounded run in CI, ``SPEARHUNT_FUZZ=N`` for a long one."""
    return int(os.environ.get("SPEARHUNT_FUZZ", default))


def mutate(data: bytes, rng: random.Random, seeds: Sequence[bytes] = ()) -> bytes:
    """``data`` with 1-4 random mutations."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        n = len(buf)
        at = rng.randrange(n + 1)
        if op == 0 and n:  # flip bits
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(n)
                buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # an interesting value
            buf[at:at] = rng.choice(INTERESTING)
        elif op == 2 and n:  # delete a range
            del buf[at : at + rng.randint(1, max(1, n // 8))]
        elif op == 3 and n:  # cut the end
            del buf[rng.randrange(n) :]
        elif op == 4 and n:  # duplicate a range
            start = rng.randrange(n)
            buf[at:at] = buf[start : start + rng.randint(1, 256)]
        elif op == 5 and n:  # overwrite with random bytes
            k = rng.randint(1, 16)
            buf[at : at + k] = rng.randbytes(k)
        elif op == 6 and seeds:  # splice another seed in
            other = rng.choice(seeds)
            if other:
                start = rng.randrange(len(other))
                buf[at:at] = other[start : start + rng.randint(1, 512)]
    return bytes(buf)


def run(
    seeds: Sequence[bytes],
    target: Callable[[bytes], object],
    allowed: tuple[type[BaseException], ...],
    count: int,
    seed: int = 15,
) -> int:
    """Feed ``count`` mutated cases to ``target``; returns how many ran. Raises AssertionError
    naming the replay seed for an exception outside ``allowed``."""
    for i in range(count):
        rng = random.Random(seed * 1_000_003 + i)
        case = mutate(rng.choice(seeds), rng, seeds)
        try:
            target(case)
        except allowed:
            pass
        except Exception as exc:
            raise AssertionError(
                f"case {i} (replay(seeds, seed={seed}, index={i})): {type(exc).__name__}: {exc}"
            ) from exc
    return count


def replay(seeds: Sequence[bytes], seed: int, index: int) -> bytes:
    """The bytes of one case of ``run``, to reproduce a failure."""
    rng = random.Random(seed * 1_000_003 + index)
    return mutate(rng.choice(seeds), rng, seeds)
