"""Office documents through oletools: macros, XLM, OLE objects, RTF objects, DDE, external
relationships and encryption. Nothing is opened in Office; macro source is read as text only."""

from __future__ import annotations

import io
import logging
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from spearhunt.ingest.mail import Blob

log = logging.getLogger(__name__)
# oletools chatters on every odd-but-harmless record; our own reasons say what matters
for _name in ("olevba", "oleobj", "rtfobj", "msodde", "ooxml", "xls_parser", "crypto", "mraptor"):
    logging.getLogger(_name).setLevel(logging.ERROR)

OFFICE_TYPES = frozenset({"ole", "ooxml", "rtf", "xml", "odf"})
EQUATION_CLSIDS = ("0002ce02-0000-0000-c000-000000000046", "0002ce03-0000-0000-c000-000000000046")
RISKY_RELS = frozenset(
    {
        "attachedTemplate",
        "oleObject",
        "frame",
        "subDocument",
        "externalLinkPath",
        "externalReference",
        "package",
        "officeDocument",
        "slideUpdateUrl",
        "aFChunk",
    }
)
DEFAULT_OFFICE_PASSWORDS = (
    "VelvetSweatshop",
    "/01Hannes Ruescher/01",
    "123",
    "1234",
    "12345",
    "123456",
    "4321",
)
_REL = re.compile(rb"<Relationship\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb'(\w+)\s*=\s*"([^"]*)"')


@dataclass(slots=True)
class OfficeFacts:
    """What oletools (and a few structure checks) say about one document."""

    has_vba: bool = False
    vba_unreadable: bool = False  # a VBA project part is there, but no macro could be read from it
    has_xlm: bool = False
    autoexec: list[str] = field(default_factory=list)
    suspicious: list[str] = field(default_factory=list)
    mraptor: str = ""  # flags A/W/X when suspicious
    ole_objects: list[str] = field(default_factory=list)
    payloads: list[tuple[str, bytes]] = field(default_factory=list)  # OLE Package contents
    external: list[tuple[str, str]] = field(default_factory=list)  # (relationship type, target)
    rtf_objects: list[str] = field(default_factory=list)
    equation: list[str] = field(default_factory=list)
    dde: list[str] = field(default_factory=list)
    encrypted: bool = False
    password: str | None = None  # the one that opened it
    macro_source: str = ""
    errors: list[str] = field(default_factory=list)


def is_office(blob: Blob) -> bool:
    """Whether oletools should look at this part at all (gate: no VBA scan of plain text)."""
    kind = blob.type
    if kind in ("ole", "ooxml", "rtf", "odf"):
        return True
    name = blob.name.lower()
    if kind == "xml":
        head = blob.data[:4096]
        return (
            b"urn:schemas-microsoft-com:office" in head or b"schemas.microsoft.com/office" in head
        )
    if kind == "text":
        return name.endswith((".csv", ".slk", ".iqy")) or blob.data[:4] == b"ID;P"
    return False


def analyse(blob: Blob, passwords: tuple[str, ...] = ()) -> OfficeFacts:
    """All office checks on one part; decrypted first when a password opens it."""
    facts = OfficeFacts()
    data = blob.data
    if blob.type == "ole":
        decrypted = _decrypt(data, (*DEFAULT_OFFICE_PASSWORDS, *passwords), facts)
        if decrypted is None:
            return facts
        data = decrypted
    for step in (_vba, _ole_objects, _external, _rtf, _dde):
        try:
            step(blob.name, data, facts)
        except Exception as exc:
            log.debug("%s failed on %s", step.__name__, blob.name, exc_info=True)
            facts.errors.append(f"{step.__name__.strip('_')}: {type(exc).__name__}: {exc}"[:200])
    facts.vba_unreadable = not facts.has_vba and has_vba_project(data)
    return facts


# The VBA project's own part: "vbaProject.bin" in an OOXML zip's directory, the "_VBA_PROJECT"
# stream name (UTF-16) in an OLE directory. Both names are stored uncompressed.
_VBA_PROJECT = (b"vbaProject.bin", "_VBA_PROJECT".encode("utf-16-le"))


def has_vba_project(data: bytes) -> bool:
    """Whether the container holds a VBA project part, whatever state its content is in."""
    return any(name in data for name in _VBA_PROJECT)


def _decrypt(data: bytes, passwords: tuple[str, ...], facts: OfficeFacts) -> bytes | None:
    import msoffcrypto

    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        if not office.is_encrypted():
            return data
    except Exception:
        return data
    facts.encrypted = True
    for pw in passwords:
        try:
            office = msoffcrypto.OfficeFile(io.BytesIO(data))
            office.load_key(password=pw)
            out = io.BytesIO()
            office.decrypt(out)
        except Exception:
            continue
        facts.password = pw
        return out.getvalue()
    return None


def _vba(name: str, data: bytes, facts: OfficeFacts) -> None:
    from oletools import mraptor
    from oletools.olevba import TYPE_TEXT, VBA_Parser

    parser = VBA_Parser(name, data=data, relaxed=True)
    try:
        if parser.type == TYPE_TEXT:
            return
        if parser.detect_vba_macros():
            code = "\n".join(str(c) for (_f, _s, _n, c) in parser.extract_macros())
            facts.has_vba = bool(code.strip()) or facts.has_vba
            facts.macro_source = code[:200_000]
            for kind, keyword, _desc in parser.analyze_macros() or []:
                if kind == "AutoExec":
                    facts.autoexec.append(keyword)
                elif kind == "Suspicious":
                    facts.suspicious.append(keyword)
            raptor = mraptor.MacroRaptor(code)
            raptor.scan()
            if raptor.suspicious:
                facts.mraptor = raptor.get_flags()
        try:
            if parser.detect_xlm_macros():
                facts.has_xlm = True
                text = "\n".join(parser.xlm_macros or [])
                for word in ("auto_open", "auto_close", "workbook_open"):
                    if word in text.lower():
                        facts.autoexec.append(word)
        except Exception:
            log.debug("xlm detection failed on %s", name, exc_info=True)
    finally:
        parser.close()
    _xlm_openxml(data, facts)


def _xlm_openxml(data: bytes, facts: OfficeFacts) -> None:
    """olevba 0.60 does not see XLM macro sheets in OpenXML: look for the parts ourselves."""
    if data[:2] != b"PK":
        return
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()[:5000]
        if not any("macrosheets/" in n.lower() for n in names):
            return
        facts.has_xlm = True
        for candidate in ("xl/workbook.xml", "xl/workbook.bin"):
            if candidate in names:
                raw = zf.read(candidate)[:5_000_000]
                for needle in ("Auto_Open", "Auto_Close"):
                    if needle.encode() in raw or needle.encode("utf-16-le") in raw:
                        facts.autoexec.append(needle)


def _ole_objects(name: str, data: bytes, facts: OfficeFacts) -> None:
    from oletools.oleobj import OleNativeStream, find_ole

    for ole in find_ole(name, data):
        if ole is None:
            continue
        for parts in ole.listdir():
            path = "/".join(parts)
            if (parts[0] == "ObjectPool" and len(parts) == 2) or "embeddings" in path.lower():
                facts.ole_objects.append(path)
            if parts[-1].lower() != "\x01ole10native":
                continue
            with ole.openstream(parts) as stream:
                pkg = OleNativeStream(stream)
                if pkg.is_link:
                    facts.ole_objects.append(f"{path} (link to {pkg.src_path})")
                    continue
                payload = stream.read(min(pkg.actual_size or 0, 25 * 1024 * 1024))
            fname = pkg.filename or pkg.src_path or "package.bin"
            facts.ole_objects.append(f"{path}: {fname}")
            facts.payloads.append((str(fname).replace("\\", "/").rsplit("/", 1)[-1], payload))
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for n in zf.namelist()[:5000]:
                low = n.lower()
                if "embeddings/" in low and low.endswith((".bin", ".ole")):
                    facts.ole_objects.append(n)
    facts.ole_objects = list(dict.fromkeys(facts.ole_objects))


def _external(name: str, data: bytes, facts: OfficeFacts) -> None:
    if data[:2] != b"PK":
        return
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist()[:5000]:
            if not info.filename.endswith(".rels") or info.file_size > 5_000_000:
                continue
            for rel in _REL.findall(zf.read(info)):
                attrs = {k.decode(): v.decode("utf-8", "replace") for k, v in _ATTR.findall(rel)}
                if attrs.get("TargetMode", "").lower() == "external":
                    kind = attrs.get("Type", "").rsplit("/", 1)[-1]
                    facts.external.append((kind, attrs.get("Target", "")))


def _rtf(name: str, data: bytes, facts: OfficeFacts) -> None:
    if data[:4] != b"{\\rt":
        return
    from oletools import rtfobj

    parser = rtfobj.RtfObjParser(data)
    parser.parse()
    for obj in parser.objects[:200]:
        label = (obj.class_name or b"").decode("latin-1", "replace") if obj.is_ole else "raw object"
        clsid = (getattr(obj, "clsid", None) or "").lower()
        facts.rtf_objects.append(f"{label} {obj.clsid_desc or ''}".strip() if obj.is_ole else label)
        if label.lower().startswith("equation") or clsid in EQUATION_CLSIDS:
            facts.equation.append(f"{label} {clsid}".strip())
        if obj.is_package:
            facts.payloads.append((obj.filename or "package.bin", obj.olepkgdata or b""))
    if not facts.equation and re.search(
        rb"\\objclass\s+Equation", data[:10_000_000], re.IGNORECASE
    ):
        facts.equation.append("\\objclass Equation")


def _dde(name: str, data: bytes, facts: OfficeFacts) -> None:
    from oletools import msodde

    # msodde reads only from a path; the copy lives in a private temp dir and is never executed
    with tempfile.TemporaryDirectory(prefix="spearhunt-") as tmp:
        path = Path(tmp) / "doc.bin"
        path.write_bytes(data)
        path.chmod(0o600)
        text = msodde.process_file(str(path), field_filter_mode=msodde.FIELD_FILTER_DDE) or ""
    for line in text.splitlines():
        if line.strip() and "hyperlink" not in line.lower():
            facts.dde.append(line.strip()[:300])
