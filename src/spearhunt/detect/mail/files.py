"""Checks on an attached file by name and content: executables, scripts, shortcuts, disk images,
disguised names, HTML smuggling, PDF actions, archives that would not open."""

from __future__ import annotations

import re

from spearhunt.detect.mail.catalogue import reason
from spearhunt.detect.mail.config import MailConfig
from spearhunt.detect.mail.htmlscan import scan_html
from spearhunt.detect.mail.pdf import pdf_facts
from spearhunt.detect.mail.text import hidden_chars, strip_hidden
from spearhunt.ingest.mail import Blob
from spearhunt.model.mail import Reason

EXECUTABLE_EXT = frozenset(
    [
        "exe",
        "dll",
        "scr",
        "com",
        "pif",
        "cpl",
        "msi",
        "msp",
        "msix",
        "appx",
        "appxbundle",
        "sys",
        "drv",
        "ocx",
        "jar",
        "apk",
        "dmg",
        "pkg",
        "app",
        "bin",
        "elf",
        "run",
        "xll",
        "gadget",
    ]
)
SCRIPT_EXT = frozenset(
    [
        "js",
        "jse",
        "vbs",
        "vbe",
        "wsf",
        "wsh",
        "wsc",
        "hta",
        "ps1",
        "psm1",
        "psd1",
        "bat",
        "cmd",
        "sct",
        "reg",
        "inf",
        "scf",
        "library-ms",
        "settingcontent-ms",
        "chm",
        "one",
        "onepkg",
        "py",
        "pyw",
        "sh",
        "applescript",
        "scpt",
        "xbap",
        "msc",
    ]
)
RISKY_EXT = frozenset(["url", "iqy", "slk", "mht", "mhtml", "svg", "website", "desktop"])
DISK_EXT = frozenset(["iso", "img", "vhd", "vhdx", "udf"])
MACRO_EXT = frozenset(
    ["docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppsm", "sldm", "xlsb"]
)
HTML_EXT = frozenset(["htm", "html", "shtml", "xhtml"])
DOC_EXT = frozenset(
    [
        "pdf",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "rtf",
        "txt",
        "csv",
        "odt",
        "ods",
        "jpg",
        "jpeg",
        "png",
        "gif",
        "bmp",
        "tif",
        "tiff",
        "zip",
        "rar",
        "7z",
        "mp3",
        "mp4",
        "wav",
        "avi",
        "mov",
        "eml",
        "msg",
    ]
)
EXEC_TYPES = frozenset({"pe", "elf", "macho"})
DISK_TYPES = frozenset({"iso", "vhd", "vhdx"})
LNK_COMMANDS = re.compile(
    r"(?i)\b(powershell|pwsh|cmd(?:\.exe)?|mshta|wscript|cscript|rundll32|regsvr32|certutil|"
    r"bitsadmin|msiexec|curl|forfiles|conhost|schtasks)\b"
)
_SMUGGLE_SINK = re.compile(
    r"msSaveOrOpenBlob|msSaveBlob|createObjectURL|\.download\s*=|download\s*=\s*[\"']|"
    r"navigator\.msSave|saveAs\s*\(",
    re.I,
)
_SMUGGLE_SOURCE = re.compile(
    r"\batob\s*\(|new\s+Blob\s*\(|Uint8Array|base64,|fromCharCode|unescape\s*\(", re.I
)
_OBFUSCATION = re.compile(
    r"eval\s*\(\s*(?:atob|unescape|decodeURIComponent|String\.fromCharCode)|"
    r"document\.write\s*\(\s*(?:atob|unescape|decodeURIComponent)",
    re.I,
)
_REDIRECT = re.compile(
    r"(?:window|document|top|self)\.location(?:\.href)?\s*=(?!=)|location\.(?:replace|assign)\s*\(",
    re.I,
)
# What a document's name or declared MIME type promises, and the sniffed types that keep the promise.
# Legacy .doc/.xls are left out: exports written as HTML or CSV under those names are common and benign.
_PROMISED_BY_EXT = {
    "pdf": "pdf",
    "docx": "ooxml",
    "xlsx": "ooxml",
    "pptx": "ooxml",
    "rtf": "rtf",
    "jpg": "image",
    "jpeg": "image",
    "png": "image",
    "gif": "image",
    "ics": "calendar",
}
_PROMISED_BY_MIME = (
    ("application/pdf", "pdf"),
    ("application/vnd.openxmlformats", "ooxml"),
    ("image/", "image"),
    ("text/calendar", "calendar"),
    ("application/ics", "calendar"),
)
_KEPT = {
    "pdf": {"pdf"},
    "ooxml": {"ooxml", "zip"},
    "rtf": {"rtf"},
    "image": {"image"},
    "calendar": {"text"},
}
PDF_LURE_PAGES = 2  # a one- or two-page PDF whose point is one link is a lure, not a document
PDF_LURE_LINKS = 3


def extensions(name: str) -> list[str]:
    """Extensions of a file name, last first, lower-case (RLO and padding removed)."""
    clean = name.replace("\u202e", "").replace("\u202d", "").strip().rstrip(".").lower()
    parts = [p.strip() for p in clean.rsplit("/", 1)[-1].split(".")[1:]]
    return list(reversed([p for p in parts if p and len(p) <= 20 and " " not in p]))


def check_file(
    blob: Blob, config: MailConfig, where: str, body_passwords: tuple[str, ...] = ()
) -> tuple[list[Reason], dict[str, str]]:
    """Findings and plain facts for one part."""
    out: list[Reason] = []
    props: dict[str, str] = {}
    exts = extensions(blob.name)
    ext = exts[0] if exts else ""
    kind = blob.type

    def add(rid: str, *evidence: str) -> None:
        out.append(reason(config, rid, list(evidence), where=where))

    if "\u202e" in blob.name or "\u202d" in blob.name:
        add(
            "att.rlo",
            f"name {blob.name!r} reads {blob.name.replace(chr(0x202E), '')!r} once reversed",
        )
    elif hidden_chars(blob.name):
        add(
            "att.hidden_name_chars",
            f"name {blob.name!r} holds {hidden_chars(blob.name)} invisible character(s)",
            f"reads as {strip_hidden(blob.name)!r}",
        )
    if (
        len(exts) >= 2
        and exts[1] in DOC_EXT
        and (ext in EXECUTABLE_EXT | SCRIPT_EXT | RISKY_EXT | DISK_EXT | HTML_EXT | {"lnk"})
    ):
        add("att.double_extension", f"{blob.name!r}: .{exts[1]} then .{ext}")
    elif re.search(r"\.\w{2,4}\s{3,}\.\w+$", blob.name):
        add("att.double_extension", f"{blob.name!r}: padded second extension")
    if kind in EXEC_TYPES or ext in EXECUTABLE_EXT:
        add("att.executable", f"{blob.name} ({kind}, .{ext})")
    elif kind == "lnk" or ext == "lnk":
        add("att.lnk", blob.name)
        command = lnk_command(blob.data)
        if command:
            props["lnk_target"] = command[:300]
            if LNK_COMMANDS.search(command):
                add("att.lnk_command", command[:300])
    elif ext in SCRIPT_EXT:
        add("att.script", f"{blob.name} (.{ext})")
    elif ext in RISKY_EXT:
        add("att.risky_type", f"{blob.name} (.{ext})")
    if kind in DISK_TYPES or ext in DISK_EXT:
        add("att.disk_image", f"{blob.name} ({kind})")
    if ext in MACRO_EXT:
        add("att.macro_enabled_ext", blob.name)
    if kind == "html" or ext in HTML_EXT:
        out.extend(_html(blob, config, where))
    if kind == "pdf":
        out.extend(_pdf(blob, config, where, props))
    if (ext == "ics" or blob.declared_type == "text/calendar") and re.search(
        rb"https?://", blob.data[:1_000_000]
    ):
        add("att.ics", f"{blob.name} holds links")
    if ext == "mobileconfig" or (
        b"PayloadType" in blob.data[:200_000] and b"plist" in blob.data[:200_000]
    ):
        add("att.mobileconfig", blob.name)
    decoy = decoy_reason(blob, ext)
    if decoy:
        add("att.decoy", decoy)
    out.extend(_notes(blob, config, where, body_passwords))
    return out, props


def decoy_reason(blob: Blob, ext: str) -> str:
    """Why an attached "document" is a prop ('' when it is what it says): empty, another format than
    its name promises, or a name and a declared MIME type that promise different things."""
    if blob.parent is not None:
        return ""  # archive members and embedded objects carry no declared type to compare
    by_name = _PROMISED_BY_EXT.get(ext, "")
    declared = blob.declared_type.lower()
    by_mime = next((kind for prefix, kind in _PROMISED_BY_MIME if declared.startswith(prefix)), "")
    promised = by_name or by_mime
    if not promised:
        return ""
    if not blob.data.strip():
        return f"{blob.name!r} promises {promised} but is empty"
    if by_name and by_mime and by_name != by_mime:
        return f"{blob.name!r} is named as {by_name} but declared {declared}"
    kind = "pdf" if b"%PDF" in blob.data[:1024] else blob.type
    if by_name and by_name not in ("image", "calendar") and kind not in _KEPT[by_name]:
        return f"{blob.name!r} is named as {by_name} but holds {kind} data"
    return ""


_REL_TARGET = re.compile(
    rb'Target="(https?://[^"]{4,2000})"[^>]*TargetMode="External"|TargetMode="External"[^>]*Target="(https?://[^"]{4,2000})"'
)


def attachment_links(blob: Blob, limit: int = 100) -> list[str]:
    """URLs a reader of this part could follow: PDF link actions, HTML anchors, OOXML hyperlinks."""
    found: list[str] = []
    kind = blob.type
    if kind == "pdf":
        found = list(pdf_facts(blob.data).uris)
    elif kind == "html":
        found = [
            h
            for h, _ in scan_html(blob.data[:3_000_000].decode("utf-8", "replace")).anchors
            if h.lower().startswith(("http://", "https://"))
        ]
    elif kind == "ooxml":
        import io
        import zipfile

        try:
            with zipfile.ZipFile(io.BytesIO(blob.data)) as zf:
                for info in zf.infolist()[:2000]:
                    if info.filename.endswith(".rels") and info.file_size < 2_000_000:
                        for a, b in _REL_TARGET.findall(zf.read(info)):
                            found.append((a or b).decode("utf-8", "replace"))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
            pass
    return list(dict.fromkeys(u.strip() for u in found if u.strip()))[:limit]


def lnk_command(data: bytes) -> str:
    """Target and arguments of a Windows shortcut, read as data (LnkParse3); '' when unreadable."""
    try:
        import LnkParse3

        info = LnkParse3.lnk_file(indata=data).get_json()
    except Exception:
        text = data[:65536].decode("utf-16-le", "ignore") + data[:65536].decode("latin-1", "ignore")
        found = LNK_COMMANDS.search(text)
        return found.group(0) if found else ""
    pieces = []
    for section in ("link_info", "data"):
        for key, value in (info.get(section) or {}).items():
            if isinstance(value, str) and key in (
                "local_base_path",
                "relative_path",
                "command_line_arguments",
                "working_directory",
                "common_path_suffix",
            ):
                pieces.append(value)
    return " ".join(pieces)


def _html(blob: Blob, config: MailConfig, where: str) -> list[Reason]:
    text = blob.data[:3_000_000].decode("utf-8", "replace")
    facts = scan_html(text)
    scripts = "\n".join(facts.scripts)
    out = [reason(config, "att.html", [f"{blob.name}: HTML page attached"], where=where)]
    sinks = sorted({m.group(0) for m in _SMUGGLE_SINK.finditer(scripts)})
    sources = sorted({m.group(0).strip() for m in _SMUGGLE_SOURCE.finditer(scripts)})
    data_download = [h for h, _ in facts.anchors if h.lower().startswith("data:")]
    if (
        (sinks and sources)
        or (data_download and "download" in text.lower())
        or _OBFUSCATION.search(scripts)
    ):
        ev = [
            f"builds data with {', '.join(sources[:4]) or 'data: URI'}",
            f"saves with {', '.join(sinks[:4]) or 'download link'}",
        ]
        if obfuscated := _OBFUSCATION.search(scripts):
            ev.append(f"obfuscated script: {obfuscated.group(0)}")
        out.append(reason(config, "att.html_smuggling", ev, where=where))
    if facts.password_inputs or any(a.lower().startswith("http") for a in facts.form_actions):
        out.append(
            reason(
                config,
                "att.html_credential_form",
                [
                    f"{facts.password_inputs} password field(s)",
                    *(f"form posts to {a}" for a in facts.form_actions[:3]),
                ],
                where=where,
            )
        )
    redirect = None if facts.refresh else _REDIRECT.search(scripts)
    if facts.refresh or redirect:
        target = facts.refresh[0] if facts.refresh else redirect.group(0) if redirect else ""
        out.append(reason(config, "att.html_redirect", [f"redirects: {target[:200]}"], where=where))
    return out


def _pdf(blob: Blob, config: MailConfig, where: str, props: dict[str, str]) -> list[Reason]:
    facts = pdf_facts(blob.data)
    counts = facts.counts
    props.update({f"pdf_{k.lower()}": str(v) for k, v in counts.items() if v})
    out = []
    active = {
        k: v
        for k, v in counts.items()
        if k in ("JavaScript", "JS", "Launch", "SubmitForm", "RichMedia", "XFA") and v
    }
    if active:
        out.append(
            reason(config, "att.pdf_active", [f"{k} x{v}" for k, v in active.items()], where=where)
        )
    if counts["EmbeddedFile"]:
        out.append(
            reason(
                config, "att.pdf_embedded", [f"EmbeddedFile x{counts['EmbeddedFile']}"], where=where
            )
        )
    if counts["URI"]:
        out.append(reason(config, "att.pdf_links", [f"URI x{counts['URI']}"], where=where))
        lure = 1 <= facts.pages <= PDF_LURE_PAGES and counts["URI"] <= PDF_LURE_LINKS
        if lure or counts["Encrypt"]:
            shown = list(facts.uris[:2]) or ["link targets unreadable (encrypted)"]
            out.append(
                reason(
                    config,
                    "att.pdf_link_lure",
                    [
                        f"{facts.pages} page(s), {counts['URI']} link(s)"
                        + (", encrypted" if counts["Encrypt"] else ""),
                        *shown,
                    ],
                    where=where,
                )
            )
    return out


def _notes(
    blob: Blob, config: MailConfig, where: str, body_passwords: tuple[str, ...]
) -> list[Reason]:
    out = []
    for note in blob.notes:
        if note.kind == "zip_bomb":
            out.append(reason(config, "att.archive_bomb", [note.detail], where=where))
        elif note.kind == "encrypted_archive":
            out.append(reason(config, "att.encrypted_archive", [note.detail], where=where))
        elif note.kind == "password_found":
            out.append(reason(config, "att.encrypted_archive", [note.detail], where=where))
            if any(repr(p) in note.detail for p in body_passwords):
                out.append(reason(config, "att.password_in_body", [note.detail], where=where))
        elif note.kind == "unsupported":
            out.append(reason(config, "att.unsupported_container", [note.detail], where=where))
        elif note.kind == "extraction_cap":
            out.append(reason(config, "att.extraction_cap", [note.detail], where=where))
        elif note.kind == "broken_member":
            out.append(reason(config, "att.broken_member", [note.detail], where=where))
    return out
