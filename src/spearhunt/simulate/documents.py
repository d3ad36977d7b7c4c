"""Inert lure files: a .docx with a remote template, a .docm with a harmless macro, an ISO with
an LNK. Byte-for-byte deterministic (fixed zip and ISO dates), no working payload, every URL on
a reserved example domain.
"""

from __future__ import annotations

import io
import struct
import zipfile
from xml.sax.saxutils import escape

from spearhunt.simulate.ole import vba_project

_ZIP_DATE = (2026, 2, 27, 9, 30, 0)

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>{extra}'
    '<Override PartName="/word/document.xml" ContentType="{main}"/>'
    '<Override PartName="/word/settings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
_DOC_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/settings" Target="settings.xml"/>{extra}</Relationships>'
)
_SETTINGS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<w:settings xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '{template}<w:defaultTabStop w:val="720"/></w:settings>'
)
_DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body>{paras}</w:body></w:document>"
)
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"

MACRO_SOURCE = (
    'Attribute VB_Name = "ThisDocument"\r\n'
    "Sub AutoOpen()\r\n"
    '    MsgBox "spearhunt simulation: this document is an inert training lure."\r\n'
    "End Sub\r\n"
)


def _zip(parts: list[tuple[str, str | bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _paragraphs(lines: list[str]) -> str:
    return "".join(f"<w:p><w:r><w:t>{escape(line)}</w:t></w:r></w:p>" for line in lines)


def remote_template_docx(body: list[str], template_url: str) -> bytes:
    """A .docx whose settings point at an external template (T1221), and nothing else."""
    if not _reserved(template_url):
        raise ValueError(f"template URL must be on a reserved example domain: {template_url}")
    rels = _DOC_RELS.format(extra="")
    settings_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'relationships/attachedTemplate" Target="{escape(template_url)}" TargetMode="External"/>'
        "</Relationships>"
    )
    return _zip(
        [
            ("[Content_Types].xml", _CONTENT_TYPES.format(extra="", main=DOCX_MAIN)),
            ("_rels/.rels", _ROOT_RELS),
            ("word/document.xml", _DOCUMENT.format(paras=_paragraphs(body))),
            ("word/_rels/document.xml.rels", rels),
            ("word/settings.xml", _SETTINGS.format(template='<w:attachedTemplate r:id="rId1"/>')),
            ("word/_rels/settings.xml.rels", settings_rels),
        ]
    )


def macro_docm(body: list[str]) -> bytes:
    """A .docm carrying a real (OLE) VBA project whose only macro shows a message box."""
    extra_ct = '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
    rels = _DOC_RELS.format(
        extra=(
            '<Relationship Id="rId2" Type="http://schemas.microsoft.com/office/2006/relationships/'
            'vbaProject" Target="vbaProject.bin"/>'
        )
    )
    return _zip(
        [
            ("[Content_Types].xml", _CONTENT_TYPES.format(extra=extra_ct, main=DOCM_MAIN)),
            ("_rels/.rels", _ROOT_RELS),
            ("word/document.xml", _DOCUMENT.format(paras=_paragraphs(body))),
            ("word/_rels/document.xml.rels", rels),
            ("word/settings.xml", _SETTINGS.format(template="")),
            ("word/vbaProject.bin", vba_project(MACRO_SOURCE)),
        ]
    )


# ---- LNK (MS-SHLLINK) ----------------------------------------------------------------------
_LNK_CLSID = bytes.fromhex("0114020000000000c000000000000046")


def lnk(target: str, arguments: str, icon: str = "") -> bytes:
    """A Windows shortcut with a LinkInfo local path, arguments and an icon location."""
    flags = 0x02 | 0x20 | 0x80 | (0x40 if icon else 0)  # HasLinkInfo, HasArguments, IsUnicode
    header = struct.pack(
        "<I16sIIQQQIiIHHII",
        0x4C,
        _LNK_CLSID,
        flags,
        0x20,
        0x01DCA7B1C0000000,
        0x01DCA7B1C0000000,
        0x01DCA7B1C0000000,
        0,
        0,
        7,
        0,
        0,
        0,
        0,
    )  # ShowMinNoActive: the window stays hidden
    volume = struct.pack("<IIII", 0x10, 3, 0x1234ABCD, 0x10) + b"\x00"
    base = target.encode("latin-1") + b"\x00"
    info_header_size = 0x1C
    vol_off = info_header_size
    base_off = vol_off + len(volume)
    suffix_off = base_off + len(base)
    body = volume + base + b"\x00"
    link_info = (
        struct.pack(
            "<IIIIIII",
            info_header_size + len(body),
            info_header_size,
            0x1,
            vol_off,
            base_off,
            0,
            suffix_off,
        )
        + body
    )

    def sdata(text: str) -> bytes:
        return struct.pack("<H", len(text)) + text.encode("utf-16-le")

    data = header + link_info + sdata(arguments)
    if icon:
        data += sdata(icon)
    return data + b"\x00\x00\x00\x00"


# ---- ISO 9660 ------------------------------------------------------------------------------
_SECTOR = 2048


def _both16(n: int) -> bytes:
    return struct.pack("<H", n) + struct.pack(">H", n)


def _both32(n: int) -> bytes:
    return struct.pack("<I", n) + struct.pack(">I", n)


_REC_DATE = bytes([126, 2, 27, 9, 30, 0, 0])  # 2026-02-27 09:30:00 UTC
_VD_DATE = b"2026022709300000\x00"


def _dir_record(name: bytes, extent: int, size: int, is_dir: bool) -> bytes:
    length = 33 + len(name) + (1 - len(name) % 2)
    rec = struct.pack("<BB", length, 0) + _both32(extent) + _both32(size) + _REC_DATE
    rec += bytes([0x02 if is_dir else 0x00, 0, 0]) + _both16(1) + bytes([len(name)]) + name
    return rec.ljust(length, b"\x00")


def iso9660(files: list[tuple[str, bytes]], volume_id: str = "CONTRACT") -> bytes:
    """A minimal single-directory ISO 9660 image (level 1 names, e.g. ``DOC.LNK``)."""
    root_lba, ptable_l, ptable_m = 20, 18, 19
    data_lba = root_lba + 1
    extents = []
    lba = data_lba
    for _, data in files:
        extents.append(lba)
        lba += max(1, -(-len(data) // _SECTOR))
    total = lba
    root = _dir_record(b"\x00", root_lba, _SECTOR, True) + _dir_record(
        b"\x01", root_lba, _SECTOR, True
    )
    for (name, data), extent in zip(files, extents, strict=True):
        root += _dir_record(f"{name.upper()};1".encode("ascii"), extent, len(data), False)
    root = root.ljust(_SECTOR, b"\x00")
    ptable_entry_l = struct.pack("<BBIH", 1, 0, root_lba, 1) + b"\x00\x00"
    ptable_entry_m = struct.pack(">BBIH", 1, 0, root_lba, 1) + b"\x00\x00"
    pvd = bytearray(_SECTOR)
    pvd[0:8] = b"\x01CD001\x01\x00"
    pvd[8:40] = b" " * 32
    pvd[40:72] = volume_id.upper().encode("ascii").ljust(32)
    pvd[80:88] = _both32(total)
    pvd[120:124] = _both16(1)
    pvd[124:128] = _both16(1)
    pvd[128:132] = _both16(_SECTOR)
    pvd[132:140] = _both32(len(ptable_entry_l))
    pvd[140:144] = struct.pack("<I", ptable_l)
    pvd[148:152] = struct.pack(">I", ptable_m)
    pvd[156:190] = _dir_record(b"\x00", root_lba, _SECTOR, True)
    for start, length in (
        (190, 128),
        (318, 128),
        (446, 128),
        (574, 128),
        (702, 37),
        (739, 37),
        (776, 37),
    ):
        pvd[start : start + length] = b" " * length
    pvd[813:830] = _VD_DATE
    pvd[830:847] = _VD_DATE
    pvd[847:864] = b"0" * 16 + b"\x00"
    pvd[864:881] = b"0" * 16 + b"\x00"
    pvd[881] = 1
    terminator = (b"\xffCD001\x01").ljust(_SECTOR, b"\x00")
    image = bytearray(16 * _SECTOR) + pvd + terminator
    image += ptable_entry_l.ljust(_SECTOR, b"\x00") + ptable_entry_m.ljust(_SECTOR, b"\x00") + root
    for _, data in files:
        image += data + b"\x00" * ((-len(data)) % _SECTOR or (0 if data else _SECTOR))
    return bytes(image)


def _reserved(url: str) -> bool:
    host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    return host.endswith(
        (".example", ".example.com", ".example.net", ".example.org", ".test", ".invalid")
    ) or host in ("example.com", "example.net", "example.org")


def is_reserved_url(url: str) -> bool:
    """True when the URL's host is under a reserved example/test domain (RFC 2606/6761)."""
    return _reserved(url)
