"""Open containers (zip, 7z, gzip, ISO) inside a mail, within hard bounds.

A bomb is reported as a note, never expanded; an encrypted archive is tried with the candidate
passwords (those found in the mail body first) and reported either way.
"""

from __future__ import annotations

import gzip
import io
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from spearhunt.ingest.mail.blob import Blob, Note, make_blob
from spearhunt.ingest.mail.limits import Limits

log = logging.getLogger(__name__)

CONTAINERS = frozenset({"zip", "7z", "gzip", "iso", "rar", "vhd", "vhdx", "cab"})
UNSUPPORTED = {"rar": "RAR", "vhd": "VHD disk image", "vhdx": "VHDX disk image", "cab": "CAB"}


@dataclass(slots=True)
class Budget:
    """What is left to spend on one mail: shared by every container it holds."""

    limits: Limits
    parts: int = 0
    bytes: int = 0
    exhausted: list[str] = field(default_factory=list)

    def fits(self, size: int) -> bool:
        """Whether one more part of ``size`` bytes is within the caps (checked before reading)."""
        return (
            self.parts + 1 <= self.limits.max_children
            and self.bytes + size <= self.limits.max_total_bytes
        )

    def cap_note(self) -> Note:
        """The note for the part where the cap was reached (itself a finding)."""
        return Note(
            "extraction_cap",
            f"extraction cap reached ({self.limits.max_children} parts / "
            f"{self.limits.max_total_bytes} bytes): later parts judged by name and type only",
        )

    def take(self, size: int) -> bool:
        """Reserve room for one more part of ``size`` bytes; False when over a cap."""
        if (
            self.parts + 1 > self.limits.max_children
            or self.bytes + size > self.limits.max_total_bytes
        ):
            if not self.exhausted:
                self.exhausted.append(
                    f"extraction cap reached ({self.limits.max_children} parts / "
                    f"{self.limits.max_total_bytes} bytes); later parts judged by name, type "
                    "and content only, not opened"
                )
            return False
        self.parts += 1
        self.bytes += size
        return True


@dataclass(frozen=True, slots=True)
class _Member:
    name: str
    data: bytes
    read: bool = True  # False: past the budget, only the name is known (judged by name)


def expand(blob: Blob, passwords: tuple[str, ...], budget: Budget) -> Blob:
    """The blob with its container members attached as children (recursively, bounded)."""
    kind = blob.type
    if kind in UNSUPPORTED:
        return replace(
            blob,
            notes=(*blob.notes, Note("unsupported", f"{UNSUPPORTED[kind]} container not opened")),
        )
    if kind not in CONTAINERS:
        return blob
    if blob.depth >= budget.limits.max_depth:
        return replace(
            blob,
            notes=(
                *blob.notes,
                Note("truncated", f"nesting deeper than {budget.limits.max_depth}: not opened"),
            ),
        )
    notes: list[Note] = []
    members: list[_Member] = []
    try:
        opener = _OPENERS[kind]
        for item in opener(blob, passwords, budget, notes):
            members.append(item)
            if len(members) >= 4 * budget.limits.max_children:
                break
    except Exception as exc:  # third-party parsers raise anything on hostile bytes
        log.debug("cannot open %s as %s", blob.path, kind, exc_info=True)
        notes.append(Note("broken", f"{kind} could not be read: {type(exc).__name__}: {exc}"[:300]))
    children = []
    for member in members:
        if member.read and budget.take(len(member.data)):
            child = make_blob(member.name, member.data, depth=blob.depth + 1, parent=blob.path)
            children.append(expand(child, passwords, budget))
            continue
        # Past the cap a member is still judged by its name and what was read of it, never
        # opened further: a dropper behind 200 harmless parts must not vanish.
        if not any(n.kind == "extraction_cap" for n in notes):
            notes.append(budget.cap_note())
        children.append(make_blob(member.name, member.data, depth=blob.depth + 1, parent=blob.path))
    return replace(blob, children=(*blob.children, *children), notes=(*blob.notes, *notes))


def _bomb(name: str, packed: int, unpacked: int, limits: Limits) -> str | None:
    if unpacked > limits.max_member_bytes:
        return f"{name}: declares {unpacked} bytes, over the {limits.max_member_bytes}-byte cap"
    if unpacked > 1_000_000 and packed and unpacked / packed > limits.max_ratio:
        return f"{name}: compression ratio {unpacked / packed:.0f}:1 ({packed} -> {unpacked} bytes)"
    return None


def _open_zip(
    blob: Blob, passwords: tuple[str, ...], budget: Budget, notes: list[Note]
) -> Iterator[_Member]:
    import pyzipper  # AES (WinZip) as well as ZipCrypto, which zipfile cannot read

    limits = budget.limits
    with pyzipper.AESZipFile(io.BytesIO(blob.data)) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        declared = sum(i.file_size for i in infos)
        packed = sum(i.compress_size for i in infos)
        if declared > limits.max_total_bytes or (
            declared > 10_000_000 and packed and declared / packed > limits.max_ratio
        ):
            notes.append(
                Note(
                    "zip_bomb",
                    f"archive declares {declared} bytes from {packed} compressed "
                    f"({len(infos)} members): not expanded",
                )
            )
            return
        encrypted = [i for i in infos if i.flag_bits & 0x1]
        password = _find_password(zf, encrypted, passwords, notes) if encrypted else None
        room = budget.limits.max_total_bytes - budget.bytes  # what this archive may still read
        for info in infos[: 4 * limits.max_children]:
            bomb = _bomb(info.filename, info.compress_size, info.file_size, limits)
            if bomb:
                notes.append(Note("zip_bomb", bomb + ": not expanded"))
                continue
            if info.flag_bits & 0x1 and password is None:
                yield _Member(info.filename, b"")  # name still matters (double extension, .lnk ...)
                continue
            if info.file_size > room:  # checked before reading, on the declared size
                yield _Member(info.filename, b"", read=False)
                continue
            pwd = password.encode() if password else None
            data = _read_member(zf, info, pwd, limits, notes)
            if data is None:
                continue
            room -= len(data)
            yield _Member(info.filename, data)


def _read_member(
    zf: Any, info: Any, pwd: bytes | None, limits: Limits, notes: list[Note]
) -> bytes | None:
    """A zip member's bytes; a bad CRC is noted (itself a finding) and the data still judged,
    as common unzip tools still extract it."""
    try:
        with zf.open(info, pwd=pwd) as fh:
            data = fh.read(limits.max_member_bytes + 1)
    except Exception as exc:  # zipfile's and pyzipper's own BadZipFile classes differ
        if "CRC" not in str(exc):
            raise
        with zf.open(info, pwd=pwd) as fh:
            if hasattr(fh, "_expected_crc"):
                fh._expected_crc = None
            data = fh.read(limits.max_member_bytes + 1)
        notes.append(
            Note(
                "broken_member",
                f"{info.filename}: bad CRC (damaged or altered); judged on the data read",
            )
        )
    if len(data) > limits.max_member_bytes:
        notes.append(
            Note("zip_bomb", f"{info.filename}: inflates past its declared size: not expanded")
        )
        return None
    return bytes(data)


def _find_password(
    zf: object, encrypted: list[Any], passwords: tuple[str, ...], notes: list[Note]
) -> str | None:
    probe = min(encrypted, key=lambda i: i.compress_size)
    for pw in passwords:
        try:
            with zf.open(probe, pwd=pw.encode()) as fh:  # type: ignore[attr-defined]
                fh.read(1 << 16)
        except (RuntimeError, ValueError, zlib.error, EOFError, OSError):
            continue
        except Exception:
            continue
        notes.append(Note("password_found", f"encrypted archive opened with password {pw!r}"))
        return pw
    notes.append(
        Note(
            "encrypted_archive",
            f"encrypted archive ({len(encrypted)} members); "
            f"{len(passwords)} candidate passwords failed",
        )
    )
    return None


def _open_7z(
    blob: Blob, passwords: tuple[str, ...], budget: Budget, notes: list[Note]
) -> Iterator[_Member]:
    limits = budget.limits
    for pw in (None, *passwords):
        try:
            products = _read_7z(blob.data, pw, limits, notes)
        except _Refused:
            return
        except Exception:
            continue
        if pw:
            notes.append(Note("password_found", f"encrypted archive opened with password {pw!r}"))
        for name, data in products.items():
            yield _Member(name, data)
        return
    notes.append(
        Note(
            "encrypted_archive",
            f"7z archive could not be opened (encrypted or broken); "
            f"{len(passwords)} candidate passwords failed",
        )
    )


class _Refused(Exception):
    """A container that must not be expanded (bomb)."""


def _read_7z(data: bytes, pw: str | None, limits: Limits, notes: list[Note]) -> dict[str, bytes]:
    import py7zr
    from py7zr.io import BytesIOFactory

    with py7zr.SevenZipFile(io.BytesIO(data), password=pw) as zf:
        infos = [i for i in zf.list() if not i.is_directory]
        declared = sum(i.uncompressed or 0 for i in infos)
        if declared > limits.max_total_bytes or (
            declared > 10_000_000 and declared / max(len(data), 1) > limits.max_ratio
        ):
            notes.append(
                Note("zip_bomb", f"7z declares {declared} bytes from {len(data)}: not expanded")
            )
            raise _Refused
        if pw is None and zf.needs_password():
            raise PermissionError("password required")
        factory = BytesIOFactory(limits.max_member_bytes)
        zf.extractall(factory=factory)
    out = {}
    for name, product in list(factory.products.items())[: limits.max_children]:
        product.seek(0)
        out[name] = product.read()
    return out


def _open_gzip(
    blob: Blob, passwords: tuple[str, ...], budget: Budget, notes: list[Note]
) -> Iterator[_Member]:
    limits = budget.limits
    with gzip.GzipFile(fileobj=io.BytesIO(blob.data)) as fh:
        data = fh.read(limits.max_member_bytes + 1)
    bomb = _bomb(blob.name, len(blob.data), len(data), limits)
    if bomb or len(data) > limits.max_member_bytes:
        notes.append(
            Note("zip_bomb", (bomb or f"{blob.name}: inflates past the cap") + ": not expanded")
        )
        return
    inner = blob.name[:-3] if blob.name.lower().endswith(".gz") else blob.name + ".out"
    yield _Member(inner, data)


def _open_iso(
    blob: Blob, passwords: tuple[str, ...], budget: Budget, notes: list[Note]
) -> Iterator[_Member]:
    """Every file of every directory tree the image has: UDF first (what Windows shows when
    it mounts an image), then Joliet, Rock Ridge and plain ISO 9660. A file only one tree
    lists (a payload in the UDF tree behind a harmless Joliet one) is judged like the rest.
    A file is judged under the names of the first tree that lists it (later trees give the
    same file 8.3 or upper-case names); hard links in that tree are judged by each name;
    its data is read once."""
    import pycdlib

    limits = budget.limits
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(blob.data))
    try:
        trees = [
            facade
            for facade, present in (
                ("udf_path", iso.has_udf()),
                ("joliet_path", iso.has_joliet()),
                ("rr_path", iso.has_rock_ridge()),
                ("iso_path", True),
            )
            if present
        ]
        seen = 0
        room = limits.max_total_bytes - budget.bytes  # what this image may still read
        read: dict[int, bytes] = {}  # data already read, by the file's inode
        tree_of: dict[int, str] = {}  # the tree a file was first listed in
        named: set[tuple[int, str]] = set()
        for facade in trees:
            for root, _dirs, files in iso.walk(**{facade: "/"}):
                for fname in files:
                    seen += 1
                    if seen > 4 * limits.max_children:
                        return
                    path = root.rstrip("/") + "/" + fname
                    name = path.lstrip("/").split(";")[0]
                    record = iso.get_record(**{facade: path})
                    inode = getattr(record, "inode", None)
                    key = id(inode if inode is not None else record)
                    if tree_of.setdefault(key, facade) != facade:
                        continue  # listed by an earlier tree, under the names it shows
                    if (key, name.lower()) in named:
                        continue
                    named.add((key, name.lower()))
                    # The size is checked before reading: hundreds of hard links to one
                    # large extent each cost a full read otherwise.
                    size = len(read[key]) if key in read else record.get_data_length()
                    if min(size, limits.max_member_bytes) > room:
                        yield _Member(name, b"", read=False)
                        continue
                    if key not in read:
                        out = _CappedBuffer(limits.max_member_bytes)
                        iso.get_file_from_iso_fp(out, **{facade: path})
                        read[key] = out.getvalue()
                    room -= len(read[key])
                    yield _Member(name, read[key])
    finally:
        iso.close()


class _CappedBuffer(io.BytesIO):
    """A buffer that keeps the first ``cap`` bytes written to it and drops the rest."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self._cap = cap

    def write(self, data: Any) -> int:
        room = self._cap - self.tell()
        if room > 0:
            super().write(bytes(data)[:room])
        return len(data)


_OPENERS = {"zip": _open_zip, "7z": _open_7z, "gzip": _open_gzip, "iso": _open_iso}
