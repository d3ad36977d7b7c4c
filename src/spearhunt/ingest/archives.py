"""Log archives (zip, tar, tar.gz) read in place, member by member, within hard bounds.

Recorded attack data ships zipped (OTRF "Mordor", EVTX-ATTACK-SAMPLES), often several logs to
one archive. Each member is sniffed like a file and handed on as a ``Source`` whose ``open``
streams it; nothing is written to disk. The bounds are the mail side's against bombs
(``ingest.mail.limits``: compression ratio, nesting), scaled to log sizes; a member that
breaks one is skipped with a warning, and a member that inflates past its bound while being
read stops there with an ``IngestError`` for that member.
"""

from __future__ import annotations

import io
import logging
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from spearhunt.errors import IngestError
from spearhunt.ingest.mail.limits import DEFAULT_LIMITS
from spearhunt.ingest.sources import (
    SNIFF_BYTES,
    Kind,
    Source,
    classify,
    expand_paths,
    read_head,
    sniff,
    unknown_problem,
)
from spearhunt.model import IngestWarning

log = logging.getLogger(__name__)

Warn = Callable[[IngestWarning], None]


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Caps on what one log archive may cost to read."""

    max_members: int = 20_000  # entries looked at per archive
    max_member_bytes: int = 4 * 1024**3  # one member, uncompressed
    max_total_bytes: int = 32 * 1024**3  # all members of one archive, uncompressed
    max_ratio: float = DEFAULT_LIMITS.max_ratio  # uncompressed / compressed above this: a bomb
    ratio_floor: int = 256 * 1024**2  # below this size a high ratio costs nothing (EVTX pads)


DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()


class ArchiveBoundError(IngestError):
    """A member inflated past a bound while it was read (the records before it are kept)."""


class _Bounded(io.RawIOBase):
    """A member stream that stops at a byte bound and turns codec faults into OSError."""

    def __init__(
        self,
        raw: BinaryIO,
        name: str,
        bound: int,
        packed: int,
        limits: ArchiveLimits,
        crc: int | None = None,
    ):
        self._raw = raw
        self._crc = crc  # checked here, at the end, after the data was handed on
        self._sum = 0
        self._name = name
        self._bound = bound
        self._packed = packed
        self._limits = limits
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            data = self._raw.read(len(buf))
        except (zipfile.BadZipFile, zlib.error, EOFError, tarfile.TarError) as exc:
            raise OSError(f"damaged archive member: {exc}") from exc
        n = len(data)
        if self._crc is not None:
            if not n and self._sum != self._crc:
                self._crc = None
                raise OSError("damaged archive member: bad CRC (its data was read anyway)")
            self._sum = zlib.crc32(data, self._sum)
        self.read_bytes += n
        if self.read_bytes > self._bound:
            raise ArchiveBoundError(
                f"member inflates past {self._bound:,} bytes: the rest is not read",
                where=self._name,
            )
        lim = self._limits
        if (
            self._packed
            and self.read_bytes > lim.ratio_floor
            and self.read_bytes / self._packed > lim.max_ratio
        ):
            raise ArchiveBoundError(
                f"compression ratio past {lim.max_ratio:.0f}:1 (archive bomb): the rest is not read",
                where=self._name,
            )
        buf[:n] = data
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _member_source(
    archive: Source,
    member: str,
    opener: Callable[[], BinaryIO],
    on_warning: Warn,
    head_opener: Callable[[], BinaryIO] | None = None,
) -> Source | None:
    """Sniff one member (by its content, like a file); None (and a warning) when unusable."""
    where = f"{archive.path}/{member}"
    try:
        with (head_opener or opener)() as fh:
            head, gz, problem = read_head(fh)
    except IngestError as exc:
        on_warning(IngestWarning(where, exc.message))
        return None
    except (OSError, RuntimeError, ValueError) as exc:
        on_warning(IngestWarning(where, f"archive member cannot be read, skipped: {exc}"))
        return None
    if problem:
        on_warning(IngestWarning(where, f"{problem}; skipped"))
        return None
    suffix = PurePosixPath(member).suffix.lower()
    if gz and suffix == ".gz":
        suffix = PurePosixPath(PurePosixPath(member).stem).suffix.lower()
    kind, encoding = classify(head, suffix)
    if kind is Kind.ARCHIVE:
        on_warning(IngestWarning(where, "archive inside an archive not opened; extract it first"))
        return None
    if kind is Kind.PARQUET:
        on_warning(IngestWarning(where, "Parquet inside an archive not read; extract it first"))
        return None
    if kind is Kind.UNKNOWN:
        msg = unknown_problem(head, member) or "not a log spearhunt reads: skipped"
        on_warning(IngestWarning(where, msg))
        return None
    return Source(archive.path, kind, gz, member=member, encoding=encoding, opener=opener)


def _bounded(
    open_raw: Callable[[], BinaryIO],
    name: str,
    size: int,
    packed: int,
    limits: ArchiveLimits,
    crc: int | None = None,
) -> Callable[[], BinaryIO]:
    bound = min(limits.max_member_bytes, size) if size else limits.max_member_bytes

    def opener() -> BinaryIO:
        try:
            raw = open_raw()
        except (zipfile.BadZipFile, zlib.error, EOFError, tarfile.TarError, RuntimeError) as exc:
            raise OSError(f"archive member cannot be opened: {exc}") from exc
        return io.BufferedReader(_Bounded(raw, name, bound, packed, limits, crc), 1 << 20)

    return opener


def _declared_bomb(size: int, packed: int, limits: ArchiveLimits) -> str | None:
    if size > limits.max_member_bytes:
        return f"declares {size:,} bytes, over the {limits.max_member_bytes:,}-byte cap"
    if size > limits.ratio_floor and packed and size / packed > limits.max_ratio:
        return f"compression ratio {size / packed:.0f}:1 ({packed:,} -> {size:,} bytes)"
    return None


def _zip_open(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> BinaryIO:
    fh = zf.open(info)
    # A member with a bad CRC is still what unzip tools extract: read it, and say it is
    # damaged at its end (``_Bounded`` checks the CRC) instead of losing all of it.
    fh._expected_crc = None  # type: ignore[attr-defined]
    return fh  # type: ignore[return-value]


def _zip_members(src: Source, on_warning: Warn, limits: ArchiveLimits) -> Iterator[Source]:
    try:
        zf = zipfile.ZipFile(src.path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        on_warning(IngestWarning(src.name, f"damaged zip archive, not read: {exc}"))
        return
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > limits.max_members:
            on_warning(
                IngestWarning(
                    src.name,
                    f"{len(infos):,} members; only the first {limits.max_members:,} are read",
                )
            )
            infos = infos[: limits.max_members]
        total = 0
        for info in infos:
            where = f"{src.path}/{info.filename}"
            if info.flag_bits & 0x1:
                on_warning(IngestWarning(where, "encrypted archive member not read"))
                continue
            bomb = _declared_bomb(info.file_size, info.compress_size, limits)
            if bomb:
                on_warning(IngestWarning(where, f"archive member {bomb}: not read"))
                continue
            total += info.file_size
            if total > limits.max_total_bytes:
                on_warning(
                    IngestWarning(
                        src.name,
                        f"members past {limits.max_total_bytes:,} bytes in all are not read",
                    )
                )
                return
            mode = (info.external_attr >> 16) & 0o170000
            if mode and mode not in (0o100000,):
                on_warning(IngestWarning(where, "archive member is not a regular file: not read"))
                continue
            opener = _bounded(
                partial(_zip_open, zf, info),
                where,
                info.file_size,
                info.compress_size,
                limits,
                info.CRC,
            )
            head = _bounded(partial(_zip_open, zf, info), where, info.file_size, 0, limits)
            s = _member_source(src, info.filename, opener, on_warning, head)
            if s is not None:
                yield s


class _Replay(io.RawIOBase):
    """Bytes already read (the sniffed head) followed by the rest of a one-pass stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buf), len(self._head))
            buf[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._rest.close()
        super().close()


class _TarMember:
    """A member of a one-pass tar stream: its head (kept for the sniff), then one reading
    of the whole (the head replayed in front of the rest of the stream)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.head = fh.read(SNIFF_BYTES)
        self._opened = False

    def sniff(self) -> BinaryIO:
        return io.BytesIO(self.head)

    def __call__(self) -> BinaryIO:
        if self._opened:
            raise OSError("a tar member is read once, in archive order")
        self._opened = True
        return io.BufferedReader(_Replay(self.head, self._fh))


def _tar_members(src: Source, on_warning: Warn, limits: ArchiveLimits) -> Iterator[Source]:
    # One pass over the stream ("r|"): a member is read while it is current, so a compressed
    # tar is decompressed once. The sniffed head is replayed in front of the rest.
    try:
        raw = src.path.open("rb")
    except OSError as exc:
        on_warning(IngestWarning(src.name, f"cannot open: {exc.strerror or exc}"))
        return
    mode = "r|gz" if src.gzipped else "r|"
    seen = total = 0
    try:
        with raw, tarfile.open(fileobj=raw, mode=mode) as tf:  # type: ignore[call-overload]
            for ti in tf:
                seen += 1
                if seen > limits.max_members:
                    on_warning(
                        IngestWarning(
                            src.name, f"only the first {limits.max_members:,} members are read"
                        )
                    )
                    return
                where = f"{src.path}/{ti.name}"
                if ti.isdir():
                    continue
                if not ti.isfile():
                    on_warning(IngestWarning(where, "archive member is a link or device: not read"))
                    continue
                total += ti.size
                if ti.size > limits.max_member_bytes or total > limits.max_total_bytes:
                    on_warning(IngestWarning(where, "archive member past the size cap: not read"))
                    continue
                fh = tf.extractfile(ti)
                if fh is None:
                    continue
                tm = _TarMember(fh)
                opener = _bounded(tm, where, ti.size, 0, limits)
                s = _member_source(src, ti.name, opener, on_warning, tm.sniff)
                if s is not None:
                    yield s
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        on_warning(IngestWarning(src.name, f"damaged tar archive, the rest is not read: {exc}"))


def archive_members(
    src: Source, on_warning: Warn, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS
) -> Iterator[Source]:
    """The readable members of a zip or tar(.gz) archive, in archive order (one level deep).

    Each member must be consumed (opened and read) before the next is asked for: a tar is
    read in one pass. Members that are skipped are said through ``on_warning``.
    """
    with src.path.open("rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK"):
        yield from _zip_members(src, on_warning, limits)
    else:
        yield from _tar_members(src, on_warning, limits)


def sources_of(path: Path, on_warning: Warn) -> Iterator[Source]:
    """What one file holds, an archive's members one by one; unreadable files are warned.

    Files that cannot be read (FIFO, dangling link, empty, damaged gzip, an unrecognized file
    with a log's name) are said through ``on_warning`` and not yielded.
    """
    s = sniff(path)
    if s.problem:
        on_warning(IngestWarning(s.name, s.problem))
    if s.kind is Kind.ARCHIVE:
        yield from archive_members(s, on_warning)
    elif s.kind is not Kind.UNKNOWN:
        yield s


def iter_sources(args: Sequence[str] | Sequence[Path], on_warning: Warn) -> Iterator[Source]:
    """``sources_of`` every file the arguments name (files, folders, globs)."""
    for path in expand_paths(list(args)):  # type: ignore[arg-type]
        yield from sources_of(path, on_warning)
