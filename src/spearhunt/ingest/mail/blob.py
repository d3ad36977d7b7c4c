"""An extracted part (attachment, archive member, embedded object) and its sniffed type."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

# Magic numbers first: the declared name and MIME type of a hostile part prove nothing.
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"PK\x03\x04", 0, "zip"),
    (b"PK\x05\x06", 0, "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "ole"),
    (b"{\\rt", 0, "rtf"),
    (b"%PDF", 0, "pdf"),
    (b"MZ", 0, "pe"),
    (b"\x7fELF", 0, "elf"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", 0, "lnk"),
    (b"7z\xbc\xaf\x27\x1c", 0, "7z"),
    (b"Rar!\x1a\x07", 0, "rar"),
    (b"\x1f\x8b", 0, "gzip"),
    (b"MSCF", 0, "cab"),
    (b"CD001", 0x8001, "iso"),
    (b"CD001", 0x8801, "iso"),
    (b"CD001", 0x9001, "iso"),
    (b"conectix", 0, "vhd"),
    (b"vhdxfile", 0, "vhdx"),
    (b"\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d\xae\xb1\x53\x78\xd0\x29\x96\xd3", 0, "onenote"),
    (b"ITSF", 0, "chm"),
    (b"\xca\xfe\xba\xbe", 0, "macho"),
    (b"\xcf\xfa\xed\xfe", 0, "macho"),
    (b"\x89PNG", 0, "image"),
    (b"\xff\xd8\xff", 0, "image"),
    (b"GIF8", 0, "image"),
)


def sniff(data: bytes, name: str = "") -> str:
    """Coarse content type from magic bytes, then from text shape."""
    for magic, offset, kind in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            if kind == "zip":
                return _zip_flavour(data)
            return kind
    head = data[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<script", b"<body", b"<meta")):
        return "html"
    if b"<html" in head or b"<script" in head or b"<form" in head:
        return "html"
    if head.startswith(b"<?xml") or head.startswith(b"<"):
        return "xml"
    if head[:4] == b"%!ps":
        return "ps"
    if _looks_like_mail(head):
        return "eml"
    if _is_text(data[:4096]):
        return "text"
    return "binary"


def _zip_flavour(data: bytes) -> str:
    window = data[:65536]
    if (
        b"[Content_Types].xml" in window
        or b"word/" in window
        or b"xl/" in window
        or b"ppt/" in window
    ):
        return "ooxml"
    if b"mimetypeapplication/vnd.oasis" in window:
        return "odf"
    return "zip"


def _looks_like_mail(head: bytes) -> bool:
    if head.lstrip()[:1] == b">":
        return False  # quoted text (">From ..." of a pasted mail), not a mail file
    keys = (b"received:", b"from:", b"message-id:", b"subject:", b"return-path:", b"mime-version:")
    return sum(1 for k in keys if k in head[:2048]) >= 2


def _is_text(sample: bytes) -> bool:
    if not sample:
        return True
    if b"\x00" in sample:
        return False
    printable = sum(1 for b in sample if b >= 32 or b in (9, 10, 13))
    return printable / len(sample) > 0.9


@dataclass(frozen=True, slots=True)
class Note:
    """Something the reader learned about a part while opening it (bomb, encryption, cap hit)."""

    kind: str  # zip_bomb, encrypted_archive, password_found, truncated, unsupported, broken
    detail: str


@dataclass(frozen=True, slots=True)
class Blob:
    """One extracted part and its extracted children."""

    name: str
    data: bytes
    declared_type: str = ""
    depth: int = 0
    parent: str | None = None
    children: tuple[Blob, ...] = ()
    notes: tuple[Note, ...] = ()
    kind: str = field(default="")

    @property
    def type(self) -> str:
        """Sniffed type (computed on creation when not given)."""
        return self.kind or sniff(self.data, self.name)

    @property
    def path(self) -> str:
        """Where the part sits: parent path / name."""
        return f"{self.parent}/{self.name}" if self.parent else self.name

    def hashes(self) -> tuple[str, str, str]:
        """(md5, sha1, sha256) of the content."""
        return (
            hashlib.md5(self.data).hexdigest(),
            hashlib.sha1(self.data).hexdigest(),
            hashlib.sha256(self.data).hexdigest(),
        )


def make_blob(
    name: str, data: bytes, *, declared_type: str = "", depth: int = 0, parent: str | None = None
) -> Blob:
    """A blob with its type sniffed once."""
    return Blob(
        name=name,
        data=data,
        declared_type=declared_type,
        depth=depth,
        parent=parent,
        kind=sniff(data, name),
    )
