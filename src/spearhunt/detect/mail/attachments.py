"""One AttachmentReport per extracted part (recursively), from the file, office and YARA checks."""

from __future__ import annotations

from spearhunt.detect.mail import office
from spearhunt.detect.mail.catalogue import reason
from spearhunt.detect.mail.config import MailConfig
from spearhunt.detect.mail.files import check_file
from spearhunt.detect.mail.yara import YaraRules
from spearhunt.ingest.mail import Blob
from spearhunt.ingest.mail.blob import make_blob
from spearhunt.model.mail import AttachmentReport, Reason

PAYLOAD_EXT = (
    "exe",
    "dll",
    "scr",
    "com",
    "pif",
    "lnk",
    "js",
    "jse",
    "vbs",
    "vbe",
    "wsf",
    "hta",
    "ps1",
    "bat",
    "cmd",
    "jar",
    "msi",
    "cpl",
)


def report(
    blob: Blob,
    config: MailConfig,
    passwords: tuple[str, ...],
    yara: YaraRules | None = None,
    max_depth: int = 5,
) -> AttachmentReport:
    """The report for ``blob`` and everything found inside it."""
    where = blob.path
    findings, props = check_file(blob, config, where, passwords)
    children = [report(child, config, passwords, yara, max_depth) for child in blob.children]
    if office.is_office(blob) and blob.data:
        facts = office.analyse(blob, passwords)
        findings.extend(_office_reasons(facts, config, where))
        props.update(_office_props(facts))
        if blob.depth < max_depth:
            for name, payload in facts.payloads[:20]:
                child = make_blob(name, payload, depth=blob.depth + 1, parent=where)
                children.append(report(child, config, passwords, yara, max_depth))
    if yara is not None and blob.data:
        hits = yara.match(blob.data)
        if hits:
            findings.append(reason(config, "att.yara", hits, where=where))
    md5, sha1, sha256 = blob.hashes()
    return AttachmentReport(
        name=blob.name,
        sha256=sha256,
        md5=md5,
        sha1=sha1,
        size=len(blob.data),
        type=blob.type,
        depth=blob.depth,
        parent=blob.parent,
        findings=tuple(findings),
        properties=tuple(sorted(props.items())),
        children=tuple(children),
    )


def _office_reasons(f: office.OfficeFacts, config: MailConfig, where: str) -> list[Reason]:
    out: list[Reason] = []

    def add(rid: str, evidence: list[str]) -> None:
        out.append(reason(config, rid, evidence, where=where))

    if f.encrypted:
        add(
            "att.office_encrypted",
            [f"opened with {f.password!r}" if f.password else "password not found"],
        )
    if f.vba_unreadable:
        # stomped or damaged on purpose: the code cannot be read, so it cannot be cleared either
        add("att.vba_unreadable", ["VBA project part present", "no macro source could be read"])
    if f.has_vba:
        add("att.vba", [f"macro source ({len(f.macro_source)} chars)"])
        if f.autoexec:
            add("att.vba_autoexec", sorted(set(f.autoexec)))
        if f.mraptor and ("W" in f.mraptor or "X" in f.mraptor):
            add(
                "att.vba_suspicious", [f"mraptor flags {f.mraptor}", *sorted(set(f.suspicious))[:8]]
            )
    if f.has_xlm:
        add("att.xlm", ["macro sheet present", *sorted(set(f.autoexec))])
    if f.ole_objects:
        add("att.ole_object", f.ole_objects[:10])
    risky_payloads = [
        n for n, _ in f.payloads if n.lower().rsplit(".", 1)[-1] in PAYLOAD_EXT or _[:2] == b"MZ"
    ]
    if risky_payloads:
        add("att.ole_payload", risky_payloads[:10])
    risky = [
        f"{kind} -> {target}"
        for kind, target in f.external
        if kind in office.RISKY_RELS or target.lower().startswith("mhtml:")
    ]
    if risky:
        add("att.external_template", risky)
    elif f.external:
        add("att.external_rel", [f"{kind} -> {target}" for kind, target in f.external][:10])
    if f.rtf_objects:
        add("att.rtf_object", f.rtf_objects[:10])
    if f.equation:
        add("att.equation_editor", f.equation[:5])
    if f.dde:
        add("att.dde", f.dde[:5])
    return out


def _office_props(f: office.OfficeFacts) -> dict[str, str]:
    return {
        "has_vba": str(int(f.has_vba)),
        "has_xlm": str(int(f.has_xlm)),
        "autoexec": str(int(bool(f.autoexec))),
        "ole_embedded": str(int(bool(f.ole_objects))),
        "external_rel": str(int(bool(f.external))),
        "dde": str(int(bool(f.dde))),
        "encrypted": str(int(f.encrypted)),
        "rtf_objects": str(len(f.rtf_objects)),
        **({"open_password": f.password} if f.password else {}),
        **({"macro_source": f.macro_source[:20_000]} if f.macro_source else {}),
        **({"errors": "; ".join(f.errors)[:500]} if f.errors else {}),
    }
