"""A minimal OLE compound file (MS-CFB v3) writer and the VBA project (MS-OVBA) it carries.

Just enough for ``vbaProject.bin`` in a .docm: every stream is small, so all of them live in
the mini stream. The VBA source is stored with literal-only MS-OVBA compression, which any
conforming decompressor (olevba's included) reads back unchanged.
"""

from __future__ import annotations

import struct

_END = 0xFFFFFFFE
_FREE = 0xFFFFFFFF
_FATSECT = 0xFFFFFFFD
_NOSTREAM = 0xFFFFFFFF
_SECTOR = 512
_MINI = 64


def ovba_compress(data: bytes) -> bytes:
    """MS-OVBA 2.4.1 compressed container using only literal tokens."""
    out = bytearray(b"\x01")
    step = 3640  # literals + one flag byte per 8 must stay within a 4096-byte chunk
    for start in range(0, max(len(data), 1), step):
        chunk = data[start : start + step]
        body = bytearray()
        for i in range(0, len(chunk), 8):
            body.append(0)  # flag byte: the next (up to) 8 tokens are literals
            body += chunk[i : i + 8]
        header = ((len(body) + 2 - 3) & 0x0FFF) | (0b011 << 12) | 0x8000
        out += struct.pack("<H", header) + body
    return bytes(out)


def _rec(rid: int, payload: bytes) -> bytes:
    return struct.pack("<HI", rid, len(payload)) + payload


def _dir_stream(module: str, project: str = "Project") -> bytes:
    name = module.encode("latin-1")
    uname = module.encode("utf-16-le")
    out = bytearray()
    out += _rec(0x0001, struct.pack("<I", 3))  # PROJECTSYSKIND: 64-bit Windows
    out += _rec(0x0002, struct.pack("<I", 0x409))  # PROJECTLCID
    out += _rec(0x0014, struct.pack("<I", 0x409))  # PROJECTLCIDINVOKE
    out += _rec(0x0003, struct.pack("<H", 1252))  # PROJECTCODEPAGE
    out += _rec(0x0004, project.encode("latin-1"))  # PROJECTNAME
    out += _rec(0x0005, b"") + struct.pack("<HI", 0x0040, 0)  # PROJECTDOCSTRING
    out += _rec(0x0006, b"") + struct.pack("<HI", 0x003D, 0)  # PROJECTHELPFILEPATH
    out += _rec(0x0007, struct.pack("<I", 0))  # PROJECTHELPCONTEXT
    out += _rec(0x0008, struct.pack("<I", 0))  # PROJECTLIBFLAGS
    out += struct.pack("<HIIH", 0x0009, 4, 0x5A8F6B1C, 0x0010)  # PROJECTVERSION
    out += _rec(0x000C, b"") + struct.pack("<HI", 0x003C, 0)  # PROJECTCONSTANTS
    out += _rec(0x000F, struct.pack("<H", 1))  # PROJECTMODULES: one module
    out += _rec(0x0013, struct.pack("<H", 0xFFFF))  # PROJECTCOOKIE
    out += _rec(0x0019, name) + _rec(0x0047, uname)  # MODULENAME, MODULENAMEUNICODE
    out += _rec(0x001A, name) + struct.pack("<HI", 0x0032, len(uname)) + uname
    out += _rec(0x001C, b"") + struct.pack("<HI", 0x0048, 0)  # MODULEDOCSTRING
    out += _rec(0x0031, struct.pack("<I", 0))  # MODULEOFFSET: source starts the stream
    out += _rec(0x001E, struct.pack("<I", 0))  # MODULEHELPCONTEXT
    out += _rec(0x002C, struct.pack("<H", 0xFFFF))  # MODULECOOKIE
    out += struct.pack("<HI", 0x0022, 0)  # MODULETYPE: document module
    out += struct.pack("<HI", 0x002B, 0)  # module terminator
    out += struct.pack("<HI", 0x0010, 0)  # dir terminator
    return bytes(out)


def vba_project(source: str, module: str = "ThisDocument") -> bytes:
    """``vbaProject.bin`` holding one document module with ``source``."""
    project = (
        'ID="{5A8F6B1C-0000-4000-8000-5350454152480}"\r\n'
        f"Document={module}/&H00000000\r\n"
        'Name="Project"\r\nHelpContextID="0"\r\nVersionCompatible32="393222000"\r\n'
        "\r\n[Host Extender Info]\r\n"
        "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000\r\n"
    ).encode("latin-1")
    return compound_file(
        {
            "PROJECT": project,
            "VBA/_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x00\x00",
            "VBA/dir": ovba_compress(_dir_stream(module)),
            f"VBA/{module}": ovba_compress(source.encode("latin-1")),
        }
    )


class _Entry:
    def __init__(self, name: str, kind: int, data: bytes = b"") -> None:
        self.name = name
        self.kind = kind  # 1 storage, 2 stream, 5 root
        self.data = data
        self.children: list[_Entry] = []
        self.sid = 0
        self.left = self.right = self.child = _NOSTREAM
        self.start = _END
        self.size = 0


def _key(entry: _Entry) -> tuple[int, str]:
    return (len(entry.name), entry.name.upper())


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A CFB v3 file with the given ``storage/stream`` paths (all streams under 4096 bytes)."""
    root = _Entry("Root Entry", 5)
    storages: dict[str, _Entry] = {"": root}
    for path in sorted(streams):
        parts = path.split("/")
        parent = root
        for depth in range(len(parts) - 1):
            key = "/".join(parts[: depth + 1])
            if key not in storages:
                storages[key] = _Entry(parts[depth], 1)
                parent.children.append(storages[key])
            parent = storages[key]
        if len(streams[path]) >= 4096:
            raise ValueError(f"stream {path} too large for this minimal writer")
        parent.children.append(_Entry(parts[-1], 2, streams[path]))

    entries: list[_Entry] = []

    def number(entry: _Entry) -> None:
        entry.sid = len(entries)
        entries.append(entry)
        for child in entry.children:
            number(child)

    number(root)
    for entry in entries:
        kids = sorted(entry.children, key=_key)
        if kids:
            # A balanced binary search tree of siblings (all black: valid enough for readers).
            def build(items: list[_Entry]) -> int:
                if not items:
                    return _NOSTREAM
                mid = len(items) // 2
                node = items[mid]
                node.left = build(items[:mid])
                node.right = build(items[mid + 1 :])
                return node.sid

            entry.child = build(kids)

    # Mini stream: every stream, 64-byte aligned.
    mini = bytearray()
    minifat: list[int] = []
    for entry in entries:
        if entry.kind != 2:
            continue
        entry.size = len(entry.data)
        if not entry.data:
            continue
        first = len(minifat)
        count = -(-len(entry.data) // _MINI)
        minifat.extend(range(first + 1, first + count))
        minifat.append(_END)
        entry.start = first
        mini += entry.data.ljust(count * _MINI, b"\x00")

    dir_bytes = bytearray()
    for entry in entries:
        name = entry.name.encode("utf-16-le") + b"\x00\x00"
        dir_bytes += struct.pack(
            "<64sHBBIII16sIQQIQ",
            name,
            len(name),
            entry.kind,
            1,
            entry.left,
            entry.right,
            entry.child,
            b"\x00" * 16,
            0,
            0,
            0,
            entry.start,
            entry.size,
        )
    dir_bytes = dir_bytes.ljust(-(-len(dir_bytes) // _SECTOR) * _SECTOR, b"\x00")
    # Fill unused directory slots as empty entries.
    used = len(entries) * 128
    empty = struct.pack(
        "<64sHBBIII16sIQQIQ",
        b"",
        0,
        0,
        0,
        _NOSTREAM,
        _NOSTREAM,
        _NOSTREAM,
        b"\x00" * 16,
        0,
        0,
        0,
        0,
        0,
    )
    for off in range(used, len(dir_bytes), 128):
        dir_bytes[off : off + 128] = empty

    minifat_bytes = b"".join(struct.pack("<I", v) for v in minifat)
    minifat_bytes = minifat_bytes.ljust(-(-len(minifat_bytes) // _SECTOR) * _SECTOR, b"\xff")
    mini_bytes = bytes(mini).ljust(-(-len(mini) // _SECTOR) * _SECTOR, b"\x00")

    n_dir = len(dir_bytes) // _SECTOR
    n_minifat = len(minifat_bytes) // _SECTOR
    n_mini = len(mini_bytes) // _SECTOR
    fat_sectors = 1  # 128 entries: plenty for this writer
    first_dir = fat_sectors
    first_minifat = first_dir + n_dir
    first_mini = first_minifat + n_minifat
    total = first_mini + n_mini
    if total > 128:
        raise ValueError("compound file too large for this minimal writer")
    root.start = first_mini if n_mini else _END
    root.size = len(mini)
    # Rewrite the root entry now that its stream position is known.
    name = root.name.encode("utf-16-le") + b"\x00\x00"
    dir_bytes[0:128] = struct.pack(
        "<64sHBBIII16sIQQIQ",
        name,
        len(name),
        5,
        1,
        _NOSTREAM,
        _NOSTREAM,
        root.child,
        b"\x00" * 16,
        0,
        0,
        0,
        root.start,
        root.size,
    )

    fat = [_FREE] * 128
    fat[0] = _FATSECT

    def chain(first: int, count: int) -> None:
        for i in range(count):
            fat[first + i] = first + i + 1 if i < count - 1 else _END

    chain(first_dir, n_dir)
    chain(first_minifat, n_minifat)
    chain(first_mini, n_mini)
    fat_bytes = b"".join(struct.pack("<I", v) for v in fat)

    difat = [0] + [_FREE] * 108
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("d0cf11e0a1b11ae1"),
        b"\x00" * 16,
        0x003E,
        0x0003,
        0xFFFE,
        9,
        6,
        b"\x00" * 6,
        0,
        fat_sectors,
        first_dir,
        0,
        4096,
        first_minifat if n_minifat else _END,
        n_minifat,
        _END,
        0,
    ) + b"".join(struct.pack("<I", v) for v in difat)
    return header + fat_bytes + bytes(dir_bytes) + minifat_bytes + mini_bytes
