"""The lure files are well-formed, inert, and only point at reserved example domains."""

from __future__ import annotations

import io
import re
import struct
import zipfile

import pytest
from oletools.olevba import VBA_Parser

from spearhunt.simulate import documents
from spearhunt.simulate.ole import ovba_compress
from tests.simulate.conftest import Sim

URL = re.compile(rb"(?:https?|ftp)://[^\s\"'<>)]+", re.IGNORECASE)


def _iso_files(image: bytes) -> dict[str, bytes]:
    """Files in the root directory of a level-1 ISO 9660 image."""
    pvd = image[16 * 2048 : 17 * 2048]
    assert pvd[1:6] == b"CD001"
    root = pvd[156:190]
    extent, size = struct.unpack("<I", root[2:6])[0], struct.unpack("<I", root[10:14])[0]
    data = image[extent * 2048 : extent * 2048 + size]
    files, off = {}, 0
    while off < len(data) and data[off]:
        length = data[off]
        rec = data[off : off + length]
        name = rec[33 : 33 + rec[32]]
        if name not in (b"\x00", b"\x01"):
            start, fsize = struct.unpack("<I", rec[2:6])[0], struct.unpack("<I", rec[10:14])[0]
            files[name.decode().split(";")[0]] = image[start * 2048 : start * 2048 + fsize]
        off += length
    return files


def _lnk_strings(data: bytes) -> tuple[str, str]:
    """(local base path, arguments) of a shortcut written by ``documents.lnk``."""
    assert data[:4] == b"\x4c\x00\x00\x00"
    info_size = struct.unpack("<I", data[76:80])[0]
    info = data[76 : 76 + info_size]
    base_off = struct.unpack("<I", info[16:20])[0]
    base = info[base_off : info.index(b"\x00", base_off)].decode("latin-1")
    pos = 76 + info_size
    n = struct.unpack("<H", data[pos : pos + 2])[0]
    return base, data[pos + 2 : pos + 2 + 2 * n].decode("utf-16-le")


def _reserved(url: bytes) -> bool:
    return documents.is_reserved_url(url.decode("latin-1"))


def _no_pe(blob: bytes) -> None:
    assert b"This program cannot be run in DOS mode" not in blob
    assert not blob.startswith(b"MZ")


def test_remote_template_docx_points_at_a_reserved_domain() -> None:
    data = documents.remote_template_docx(["x"], "https://templates.example.com/a/b.dotm")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        rels = zf.read("word/_rels/settings.xml.rels").decode()
        assert 'TargetMode="External"' in rels and "attachedTemplate" in rels
        assert "https://templates.example.com/a/b.dotm" in rels
        assert not any(n.endswith("vbaProject.bin") for n in zf.namelist())
    with pytest.raises(ValueError, match="reserved"):
        documents.remote_template_docx(["x"], "https://evil.com/t.dotm")


def test_macro_document_is_detected_by_olevba_and_only_shows_a_message() -> None:
    parser = VBA_Parser("lure.docm", data=documents.macro_docm(["x"]))
    assert parser.detect_vba_macros()
    code = "".join(src for _, _, _, src in parser.extract_macros())
    assert "Sub AutoOpen()" in code and "MsgBox" in code
    kinds = {kind for kind, _, _ in parser.analyze_macros()}
    assert "AutoExec" in kinds
    assert "Suspicious" not in kinds and "IOC" not in kinds
    parser.close()


def test_ovba_compression_round_trips_through_olevba() -> None:
    from oletools.olevba import decompress_stream

    text = bytes(range(256)) * 30
    assert decompress_stream(bytearray(ovba_compress(text))) == text


def test_every_lure_is_inert_and_links_only_to_reserved_domains(any_sim: Sim) -> None:
    import email
    from email.policy import default

    pz = any_sim.truth["story"]["patient_zero"]
    msg = email.message_from_bytes(
        (any_sim.out / "mail" / pz["mail_file"]).read_bytes(), policy=default
    )
    att = next(msg.iter_attachments()).get_content()
    access = any_sim.truth["variant"]["access"]
    blobs = [att]
    if access == "iso":
        files = _iso_files(att)
        lnk = next(v for k, v in files.items() if k.endswith(".LNK"))
        target, args = _lnk_strings(lnk)
        assert target.lower().endswith("\\powershell.exe")
        assert args.startswith('-NoProfile -Command "Write-Output ')
        assert not re.search(r"(?i)iex|invoke-|downloadstring|-enc|http", args)
        blobs += list(files.values())
    else:
        with zipfile.ZipFile(io.BytesIO(att)) as zf:
            blobs += [zf.read(n) for n in zf.namelist()]
    for blob in blobs:
        _no_pe(blob)
        for url in URL.findall(blob):
            # OOXML namespace URIs are identifiers, not links.
            if url.startswith((b"http://schemas.", b"http://www.w3.org")):
                continue
            assert _reserved(url), url
    body = msg.get_body(("plain",)).get_content()
    assert all(_reserved(u) for u in URL.findall(body.encode()))
