"""Judge one mail: unwrap a reported mail, run every check, score, and build the MailVerdict."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from spearhunt.detect.mail import auth, benign, files, headers, infra, language, links, structure
from spearhunt.detect.mail.attachments import report
from spearhunt.detect.mail.catalogue import reason
from spearhunt.detect.mail.config import MailConfig
from spearhunt.detect.mail.context import Link, MailContext, build_context
from spearhunt.detect.mail.iocs import collect
from spearhunt.detect.mail.scoring import total, verdict, weak_combo
from spearhunt.detect.mail.yara import YaraRules
from spearhunt.ingest.mail import Blob, RawMail
from spearhunt.ingest.mail.blob import make_blob
from spearhunt.ingest.mail.passwords import body_passwords
from spearhunt.model.mail import AttachmentReport, MailVerdict, Reason

Check = Callable[[MailContext], list[Reason]]
MESSAGE_CHECKS: tuple[Check, ...] = (
    auth.check_auth,
    auth.check_alignment,
    auth.check_brand_auth,
    headers.check_addresses,
    headers.check_sender_domain,
    infra.check_infrastructure,
    links.check_links,
    language.check_language,
    structure.check_structure,
    benign.check_benign,
)


@dataclass(frozen=True, slots=True)
class MailAnalyzer:
    """Checks and scoring for a run: one config, optional YARA rules."""

    config: MailConfig
    yara: YaraRules | None = None
    max_depth: int = 5

    def analyze(self, raw: RawMail, file: str | None = None) -> MailVerdict:
        """The verdict for ``raw`` (for the inner mail when it is a forwarded-as-attachment report)."""
        judged, reporter = unwrap_report(raw)
        ctx = build_context(judged, self.config)
        reasons: list[Reason] = []
        carried = [
            url
            for blob in judged.attachments[:50]
            for part in _walk(blob)
            for url in files.attachment_links(part)
        ]
        if carried:
            known = {link.url for link in ctx.links}
            ctx.links.extend(Link(url) for url in dict.fromkeys(carried) if url not in known)
            if len(" ".join(ctx.body.split())) < 400:
                reasons.append(
                    reason(
                        self.config,
                        "att.link_lure",
                        [
                            f"body has {len(ctx.body.strip())} characters",
                            f"attachment links: {', '.join(carried[:3])}",
                        ],
                    )
                )
        for check in MESSAGE_CHECKS:
            reasons.extend(check(ctx))
        reasons.extend(self._body_html(judged))
        passwords = tuple(
            dict.fromkeys(
                (*body_passwords(judged.text, judged.html), *self.config.archive_passwords)
            )
        )
        attachments = tuple(
            report(b, self.config, passwords, self.yara, self.max_depth) for b in judged.attachments
        )
        attachments += tuple(self._attached_mail(inner) for inner in judged.embedded[:20])
        for att in attachments:
            for part in att.walk():
                reasons.extend(part.findings)
        reasons.extend(enable_content(ctx, attachments))
        combo = weak_combo(reasons, self.config)
        if combo is not None:
            reasons.append(combo)
        score = total(reasons)
        return MailVerdict(
            file=file or raw.source,
            message_id=judged.header("Message-ID").strip() or None,
            subject=judged.header("Subject"),
            sender=judged.header("From"),
            to=tuple(a.address or a.display for a in ctx.to),
            cc=tuple(a.address or a.display for a in ctx.cc),
            date=judged.header("Date") or None,
            verdict=verdict(score, self.config),
            score=score,
            reasons=tuple(sorted(reasons, key=lambda r: -r.score)),
            iocs=collect(ctx, attachments),
            attachments=attachments,
            reported_by=reporter,
            warnings=tuple(dict.fromkeys((*raw.warnings, *judged.warnings))),
        )

    def _body_html(self, raw: RawMail) -> list[Reason]:
        if not raw.html or "<script" not in raw.html.lower():
            return []
        blob = make_blob("message body", raw.html.encode("utf-8", "replace"))
        found, _ = files.check_file(blob, self.config, "message body")
        return [r for r in found if r.id == "att.html_smuggling"]

    def _attached_mail(self, inner: RawMail) -> AttachmentReport:
        """A mail attached to the judged one: summarised as an attachment with its own findings."""
        sub = self.analyze(inner)
        data = f"{sub.sender}\n{sub.subject}".encode()
        blob = make_blob(f"{sub.subject[:60] or 'attached mail'}.eml", data)
        md5, sha1, sha256 = blob.hashes()
        findings = tuple(r for r in sub.reasons if r.id.startswith("att."))
        return AttachmentReport(
            name=blob.name,
            sha256=sha256,
            md5=md5,
            sha1=sha1,
            size=inner.size,
            type="eml",
            depth=1,
            parent=None,
            findings=findings,
            children=sub.attachments,
        )


_ENABLE = re.compile(
    r"(?i)enabl\w* (?:the )?(?:content|editing|macros?)|(?:content|editing|macros?) (?:must be|needs to be) enabled|"
    r"(?:inhalt|bearbeitung|makros?) aktivieren|aktivieren sie (?:die bearbeitung|den inhalt|(?:die )?makros|inhalte?)|"
    r"activ\w+ (?:le contenu|la modification|les macros)|включит\w* (?:содержимое|редактирование|макрос\w*)|"
    r"启用(?:内容|编辑|宏)|abilit\w+ (?:il )?(?:contenuto|modifica|macro)|habilit\w+ (?:el |o )?(?:contenido|edición|conteúdo|edição|macros?)"
)
_OFFICE_TYPES = frozenset({"ole", "ooxml", "rtf", "odf"})
_OFFICE_EXT = (
    ".doc",
    ".docx",
    ".docm",
    ".dot",
    ".dotm",
    ".xls",
    ".xlsx",
    ".xlsm",
    ".xlsb",
    ".ppt",
    ".pptx",
    ".pptm",
    ".rtf",
)


def enable_content(ctx: MailContext, attachments: tuple[AttachmentReport, ...]) -> list[Reason]:
    """ "Enable content / enable editing" in the mail beside an Office document: the step that lets
    a macro or a remote template run, asked of the reader."""
    office = [
        part.name
        for att in attachments
        for part in att.walk()
        if part.type in _OFFICE_TYPES or part.name.lower().endswith(_OFFICE_EXT)
    ]
    if not office:
        return []
    match = _ENABLE.search(f"{ctx.subject}\n{ctx.body[:50_000]}")
    if not match:
        return []
    return [
        reason(
            ctx.config,
            "att.enable_content",
            [f"body says {match.group(0)!r}", f"beside {office[0][:80]}"],
            where=office[0][:120],
        )
    ]


def _walk(blob: Blob) -> list[Blob]:
    out = [blob]
    for child in blob.children:
        out.extend(_walk(child))
    return out


def unwrap_report(raw: RawMail, depth: int = 0) -> tuple[RawMail, str | None]:
    """The mail to judge: a mail carrying exactly one attached mail is a report of that mail."""
    if len(raw.embedded) != 1 or depth >= 5:
        return raw, None
    others = [
        b
        for b in raw.attachments
        if b.type not in ("eml", "image") and not b.name.lower().endswith((".eml", ".msg"))
    ]
    if others:
        return raw, None
    inner, _ = unwrap_report(raw.embedded[0], depth + 1)
    return inner, raw.header("From") or "unknown reporter"
