"""Every reason a mail can be flagged for: title and ATT&CK technique, kept as data."""

from __future__ import annotations

from spearhunt.detect.mail.config import MailConfig
from spearhunt.model.mail import Reason

# id: (title, ATT&CK technique or None)
CATALOGUE: dict[str, tuple[str, str | None]] = {
    "auth.spf_fail": ("SPF failed for the sending host", "T1566"),
    "auth.spf_softfail": ("SPF soft-failed for the sending host", "T1566"),
    "auth.dkim_fail": ("DKIM signature failed", "T1566"),
    "auth.dmarc_fail": ("DMARC failed: the From domain is not authenticated", "T1566"),
    "auth.compauth_fail": ("Composite authentication failed (spoofed sender)", "T1566"),
    "auth.unauthenticated": ("No SPF, DKIM or DMARC pass for the sender", "T1566"),
    "auth.dkim_unaligned": (
        "DKIM signed by another domain than the From domain (no DMARC pass)",
        "T1566",
    ),
    "auth.forged_message_id": (
        "Message-ID claims a mail provider the mail never passed through",
        "T1036",
    ),
    "auth.brand_unauthenticated": (
        "From a brand's own domain, but nothing authenticates the sender",
        "T1684.002",
    ),
    "hdr.reply_to_mismatch": ("Reply-To points to another domain than From", "T1566"),
    "hdr.reply_to_freemail": (
        "Replies go to a free-mail address while From is not free-mail",
        "T1566",
    ),
    "hdr.return_path_mismatch": ("Return-Path domain differs from From", None),
    "hdr.display_name_address": (
        "Display name shows another address than the real sender",
        "T1684.001",
    ),
    "hdr.brand_display_name": (
        "Display name uses a brand the sending domain does not belong to",
        "T1684.001",
    ),
    "hdr.vip_impersonation": (
        "Display name of a protected person from an outside address",
        "T1684.001",
    ),
    "hdr.org_impersonation": (
        "Display name claims the organisation from an outside address",
        "T1684.001",
    ),
    "hdr.freemail_sender": ("Sender uses a free-mail provider", None),
    "hdr.invisible_chars": (
        "Invisible or direction-changing characters in sender or subject",
        "T1027",
    ),
    "hdr.recipient_in_subject": ("Recipient address repeated in subject or display name", "T1566"),
    "hdr.undisclosed_recipients": ("No visible recipient (undisclosed or missing To)", None),
    "hdr.no_from": ("No From header: the sender is not named at all", "T1036"),
    "hdr.no_message_id": ("No Message-ID header", None),
    "hdr.message_id_domain": ("Message-ID domain unrelated to the sender", None),
    "hdr.received_anomaly": ("Received chain anomaly", None),
    "hdr.confusable_text": ("Look-alike letters disguise words in sender name or subject", "T1036"),
    "hdr.random_token": ("Machine-generated token in sender name or subject", None),
    "hdr.freemail_org_name": (
        "Free-mail sender with an organisation-like display name",
        "T1684.001",
    ),
    "hdr.self_sent": ("Sender and recipient are the same address", None),
    "att.link_lure": ("Near-empty body; the attachment carries the link", "T1566.001"),
    "att.risky_type": (
        "File type that runs content when opened (shortcut, SVG, web archive ...)",
        "T1204.002",
    ),
    "hdr.display_name_noise": ("Display name padded or split to dodge filters", "T1036"),
    "dom.free_hosting_sender": (
        "Sender domain is a free hosting or throw-away tenant sub-domain",
        "T1585.002",
    ),
    "hdr.random_sender": ("Sender address looks machine-generated", None),
    "dom.lookalike": ("Look-alike of a protected or brand domain", "T1583.001"),
    "dom.punycode": ("Internationalised (punycode) domain", "T1583.001"),
    "dom.confusable": ("Domain uses characters that imitate another script", "T1583.001"),
    "dom.suspicious_tld": ("Sender domain on a top-level domain favoured for abuse", None),
    "dom.brand_in_domain": ("Domain carries a brand name the brand does not own", "T1583.001"),
    "dom.random_domain": ("Sender domain looks randomly generated", "T1583.001"),
    "link.text_href_mismatch": (
        "Link text shows one address, the link goes elsewhere",
        "T1566.002",
    ),
    "link.ip_literal": ("Link to a bare IP address", "T1566.002"),
    "link.shortener": ("Link through a URL shortener", "T1566.002"),
    "link.file_sharing": ("Link to a file-sharing service", "T1566.002"),
    "link.free_hosting": ("Link to a free web-hosting or page-builder site", "T1566.002"),
    "link.script_uri": ("data: or javascript: link", "T1566.002"),
    "link.at_sign": ("Link hides its host behind an @", "T1566.002"),
    "link.suspicious_tld": ("Link to a top-level domain favoured for abuse", "T1566.002"),
    "link.brand_not_linked": ("Mail speaks for a brand but links elsewhere", "T1566.002"),
    "link.form_off_domain": ("Mail body holds a form that posts to another site", "T1566.002"),
    "link.sender_name_elsewhere": (
        "Link host carries the sender's own name under another domain",
        "T1583.001",
    ),
    "link.status_spoof": (
        "Script rewrites the status bar so a link does not show where it goes",
        "T1036",
    ),
    "link.obfuscated_host": (
        "Link host written to hide it (percent-encoded or numeric address)",
        "T1027",
    ),
    "link.domain_in_path": (
        "Link hides a trusted domain in the path of another host",
        "T1566.002",
    ),
    "body.image_lure": (
        "The message is a picture with a link laid over it (image map or linked image)",
        "T1566.002",
    ),
    "link.credential_form": ("Mail body holds a form asking for a password", "T1566.002"),
    "hdr.reference_number": (
        "Order, claim or account number in the subject (lure framing)",
        "T1566",
    ),
    "hdr.malformed_from": ("From header holds no single valid address", "T1036"),
    "hdr.emoji": ("Emoji in the sender name or subject (bulk lure styling)", None),
    "body.hidden_text": (
        "Text hidden from the reader (filter-evasion salad or split words)",
        "T1027",
    ),
    "body.gibberish": ("Body is random-token salad (filter poisoning)", "T1027"),
    "hdr.helo_bare": (
        "Sending host greeted with a bare address or machine name, straight to the recipient's server",
        "T1566",
    ),
    "hdr.dynamic_origin": (
        "Mail for the From domain handed over by a home or dynamic access line",
        "T1584.005",
    ),
    "hdr.helo_forged": ("Sending host claims the From domain's name but is not on it", "T1036"),
    "hdr.mailer_mismatch": (
        "X-Mailer names a mail program whose traces the mail does not carry",
        "T1036",
    ),
    "hdr.fake_mailer": ("X-Mailer is a bare word, not a mail program with a version", "T1036"),
    "body.tiny_lure": ("Almost no text: the mail is just a link, image or attachment", "T1566"),
    "ben.mailing_list": ("Sent through a mailing list whose headers agree with the sender", None),
    "ben.thread": ("Reply in an existing conversation, quoting it", None),
    "lang.credential": ("Credential-harvesting language", "T1566"),
    "lang.urgency": ("Urgency or threat language", "T1566"),
    "lang.money": ("Money, crypto, invoice or prize lure", "T1566"),
    "lang.callback": ("Call-back (telephone) lure", "T1566.004"),
    "lang.action": ("Asks to click, open or download", "T1204"),
    "lang.offer": ("Spam-offer lure: eligibility, dating, health, loans, subsidies", "T1566"),
    "lang.combo": ("Several lure families together", "T1566"),
    "mix.independent_tells": (
        "Weak tells from three or more independent families together",
        "T1566",
    ),
    "att.executable": ("Executable attached", "T1204.002"),
    "att.script": ("Script or script-host file attached", "T1204.002"),
    "att.lnk": ("Windows shortcut (LNK) attached", "T1204.002"),
    "att.lnk_command": ("Shortcut runs a command interpreter", "T1059"),
    "att.disk_image": ("Disk image attached (Mark-of-the-Web bypass)", "T1553.005"),
    "att.double_extension": ("Double extension hides the real file type", "T1036.007"),
    "att.rlo": ("Right-to-left override in a file name", "T1036.002"),
    "att.hidden_name_chars": ("Invisible characters in a file name (filter evasion)", "T1036"),
    "att.html": ("HTML file attached", "T1566.001"),
    "att.html_smuggling": ("HTML smuggling: the page builds and drops a file", "T1027.006"),
    "att.html_credential_form": ("Attached page asks for a password", "T1566.001"),
    "att.html_redirect": ("Attached page redirects the browser", "T1566.001"),
    "att.pdf_active": ("PDF with JavaScript or launch actions", "T1204.002"),
    "att.pdf_embedded": ("PDF with embedded files", "T1027"),
    "att.pdf_links": ("PDF with links", "T1566.001"),
    "att.pdf_link_lure": ("Short or encrypted PDF whose content is a link to follow", "T1566.001"),
    "att.vba": ("Office document with VBA macros", "T1204.002"),
    "att.vba_unreadable": (
        "Office document whose macro project is there but cannot be read",
        "T1027",
    ),
    "att.enable_content": (
        "Body tells the reader to enable content or editing beside an Office attachment",
        "T1204.002",
    ),
    "att.vba_autoexec": ("Macro runs automatically on open", "T1204.002"),
    "att.vba_suspicious": ("Macro writes or executes (mraptor)", "T1059.005"),
    "att.xlm": ("Excel 4 (XLM) macros", "T1059"),
    "att.ole_object": ("Embedded OLE object", "T1204.002"),
    "att.ole_payload": ("Embedded OLE package carries a program or shortcut", "T1204.002"),
    "att.external_template": ("Remote template or object loaded when opened", "T1221"),
    "att.external_rel": ("External relationship (link) in an Office document", None),
    "att.rtf_object": ("RTF with embedded OLE objects", "T1204.002"),
    "att.equation_editor": ("Equation Editor object (CVE-2017-11882 family)", "T1203"),
    "att.dde": ("DDE field runs a command", "T1559.002"),
    "att.office_encrypted": ("Password-protected Office document", "T1027"),
    "att.encrypted_archive": ("Password-protected archive", "T1027"),
    "att.password_in_body": ("The body gives the archive password", "T1027"),
    "att.archive_bomb": ("Decompression bomb (not expanded)", "T1499"),
    "att.unsupported_container": ("Container that could not be opened", "T1027"),
    "att.extraction_cap": ("Too many parts to open (extraction cap reached)", "T1027"),
    "att.broken_member": ("Archive member damaged or altered (bad CRC)", "T1027"),
    "att.ics": ("Calendar invite with links", "T1566.002"),
    "att.mobileconfig": ("Apple configuration profile attached", "T1566.001"),
    "att.macro_enabled_ext": ("Macro-enabled Office file type", "T1204.002"),
    "att.yara": ("YARA rule matched", None),
    "att.decoy": (
        "Attached document is a prop: empty or not the format its name promises",
        "T1036.008",
    ),
}

_SEVERITY = ((70, "critical"), (45, "high"), (25, "medium"), (10, "low"))


def severity(score: int) -> str:
    """Severity word for a score (benign evidence, with a negative score, is "info")."""
    for floor, word in _SEVERITY:
        if score >= floor:
            return word
    return "info"


def reason(
    config: MailConfig,
    reason_id: str,
    evidence: list[str] | tuple[str, ...],
    *,
    where: str = "message",
    score: int | None = None,
) -> Reason:
    """A Reason with the catalogue title and ATT&CK id and the configured score."""
    title, attack = CATALOGUE[reason_id]
    points = config.score(reason_id) if score is None else score
    clean = tuple(dict.fromkeys(e[:300] for e in evidence))[:10]
    return Reason(
        id=reason_id,
        title=title,
        severity=severity(points),
        score=points,
        evidence=clean,
        attack=attack,
        where=where,
    )
