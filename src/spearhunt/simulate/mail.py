"""Inbound mail as .eml files: the spear-phish among newsletters, invoices, internal mail,
partner mail and some spam. Deterministic: fixed MIME boundaries, dates from the sim clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP, EmailPolicy, default
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from spearhunt.simulate import documents
from spearhunt.simulate.campaign import PARTNERS
from spearhunt.simulate.clock import HOUR, US
from spearhunt.simulate.context import Sim
from spearhunt.simulate.plan import Campaign
from spearhunt.simulate.world import MAIL_DOMAIN, ORG_NAME, User

MX = f"mx1.{MAIL_DOMAIN}"
NEWSLETTERS = (
    ("Aerospace Weekly", "news@aero-weekly.example"),
    ("Defense Tech Digest", "digest@defense-tech-digest.example"),
    ("IT Service Desk", f"servicedesk@{MAIL_DOMAIN}"),
)
SUPPLIERS = (
    ("Supplier One Billing", "billing@supplier-one.example"),
    ("Precision Castings Accounts", "accounts@precision-castings.example"),
    ("Contoso Travel", "invoices@contoso-travel.example"),
)
SPAM = (
    ("Prize Center", "winner@lucky-prize-center.example", "You have been selected!"),
    ("Pharmacy Deals", "offers@cheap-pharma-deals.example", "80% off this week only"),
    ("Crypto Desk", "desk@fast-crypto-returns.example", "Double your investment"),
)
TOPICS = (
    "design review minutes",
    "updated test schedule",
    "supplier audit findings",
    "travel approval",
    "drawing package rev C",
    "lab booking",
    "quarterly targets",
    "export control training reminder",
    "CAD licence renewal",
    "budget variance",
)


class _Headers(HeaderRegistry):
    """The email package's header registry, remembering what it made.

    Building a header parses its value, and the stock registry also builds a new class for
    every lookup (twice per header set). A simulation's mails repeat most of their headers
    (senders, recipients, subjects, content types), and header objects are immutable, so
    each class and each (name, value) is made once per writer.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}
        self._made: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def __call__(self, name: str, value: str) -> BaseHeader:
        header = self._made.get((name, value))
        if header is None:
            header = self._made[name, value] = super().__call__(name, value)
        return header


class _Folding(EmailPolicy):
    """SMTP's policy for writing, folding each distinct header once (see ``_Headers``)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        object.__setattr__(self, "_folded", {})

    def fold_binary(self, name: str, value: str) -> bytes:
        key = (name, type(value), value)
        folded: bytes | None = self._folded.get(key)  # type: ignore[attr-defined]
        if folded is None:
            folded = self._folded[key] = super().fold_binary(name, value)  # type: ignore[attr-defined]
        return folded


@dataclass(frozen=True, slots=True)
class MailCounts:
    """How many mails were written, and how many of them are malicious."""

    total: int
    malicious: int
    files: dict[str, str]  # message id -> file name


def _pdf(text: str) -> bytes:
    body = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R>>endobj\n"
        + f"4 0 obj<</Length {len(body)}>>stream\n".encode()
        + body
        + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def _docx(lines: list[str]) -> bytes:
    # A plain document: reuse the remote-template builder's parts without a template.
    return documents._zip(
        [
            (
                "[Content_Types].xml",
                documents._CONTENT_TYPES.format(extra="", main=documents.DOCX_MAIN),
            ),
            ("_rels/.rels", documents._ROOT_RELS),
            ("word/document.xml", documents._DOCUMENT.format(paras=documents._paragraphs(lines))),
            ("word/_rels/document.xml.rels", documents._DOC_RELS.format(extra="")),
            ("word/settings.xml", documents._SETTINGS.format(template="")),
        ]
    )


class MailWriter:
    """Builds and writes the mails of one simulation."""

    def __init__(self, sim: Sim, campaign: Campaign) -> None:
        self.sim = sim
        self.c = campaign
        self.rng = random.Random(f"{sim.cfg.seed}:mail")
        self.mails: list[tuple[int, EmailMessage, bool]] = []
        # The policies of EmailMessage() and of SMTP, remembering the headers they make.
        self.policy = default.clone(header_factory=_Headers())
        self.smtp = _Folding(linesep=SMTP.linesep, header_factory=self.policy.header_factory)

    def _base(
        self,
        ts: int,
        sender_name: str,
        sender: str,
        to: User,
        subject: str,
        *,
        external: bool,
        spf: str = "pass",
        dkim: str = "pass",
        dmarc: str = "pass",
        relay_ip: str = "",
    ) -> EmailMessage:
        rng = self.rng
        msg = EmailMessage(policy=self.policy)
        when = self.sim.clock.datetime(ts)
        sdomain = sender.rsplit("@", 1)[1]
        relay_ip = relay_ip or self.sim.mail_ext.ip(f"mail.{sdomain}")
        if external:
            msg["Return-Path"] = f"<{sender}>"
            msg["Received"] = (
                f"from mail.{sdomain} (mail.{sdomain} [{relay_ip}]) by {MX} "
                f"with ESMTPS id {rng.getrandbits(40):010X}; "
                f"{format_datetime(self.sim.clock.datetime(ts - 2 * US))}"
            )
            msg["Authentication-Results"] = (
                f"{MX}; spf={spf} smtp.mailfrom={sdomain}; "
                f"dkim={dkim} header.d={sdomain}; "
                f"dmarc={dmarc} header.from={sdomain}"
            )
        msg["Received"] = (
            f"from {MX} (10.10.1.40) by exch-01.corp.example (10.10.1.41) with "
            f"Microsoft SMTP Server id 15.2.1544.4; "
            f"{format_datetime(self.sim.clock.datetime(ts - 1 * US))}"
        )
        msg["From"] = f"{sender_name} <{sender}>"
        msg["To"] = f"{to.display} <{to.email}>"
        msg["Subject"] = subject
        msg["Date"] = format_datetime(when)
        msg["Message-ID"] = f"<{rng.getrandbits(64):016x}.{rng.getrandbits(20):05x}@{sdomain}>"
        msg["MIME-Version"] = "1.0"
        return msg

    def _finish(self, ts: int, msg: EmailMessage, malicious: bool) -> None:
        if msg.is_multipart():
            msg.set_boundary(f"----=_Part_{self.rng.getrandbits(48):012x}")
            for part in msg.iter_parts():
                if part.is_multipart():
                    part.set_boundary(f"----=_Alt_{self.rng.getrandbits(48):012x}")
        self.mails.append((ts, msg, malicious))

    def phish(self) -> None:
        """The spear-phishing mail, exactly as planned by the campaign."""
        lure, victim = self.c.lure, self.c.victim
        msg = self._base(
            lure.sent,
            lure.sender_name,
            lure.sender,
            victim,
            lure.subject,
            external=True,
            relay_ip=self.sim.mail_ext.ip("mail-relay.example.net"),
        )
        del msg["Message-ID"]
        msg["Message-ID"] = lure.message_id
        msg["Reply-To"] = lure.reply_to
        msg.set_content(
            f"Dear {victim.given},\n\nFollowing our conversation at the supplier day, please find "
            f"attached the document for {lure.subject.split(':')[0]}. We need your review and "
            "signature by Friday so that the teaming agreement can be filed.\n\n"
            "If Word asks you to enable content, please do so to view the protected sections.\n\n"
            f"Kind regards,\n{lure.sender_name}\nContracts Office\n"
        )
        maintype, subtype = lure.content_type.split("/", 1)
        msg.add_attachment(lure.data, maintype=maintype, subtype=subtype, filename=lure.filename)
        self._finish(lure.sent, msg, True)

    def benign(self) -> None:
        """Ordinary inbound mail for everyone across the days."""
        sim, rng = self.sim, self.rng
        users = sim.world.users
        n = int(len(users) * sim.cfg.days * sim.cfg.mail_per_user_day)
        for _ in range(n):
            day = int(rng.random() * sim.cfg.days)
            ts = sim.clock.day_start(day) + int((6.5 + rng.random() * 12) * HOUR)
            to = users[int(rng.random() * len(users))]
            roll = rng.random()
            if roll < 0.4:
                self._internal(ts, to)
            elif roll < 0.6:
                self._newsletter(ts, to)
            elif roll < 0.75:
                self._invoice(ts, to)
            elif roll < 0.9:
                self._partner(ts, to)
            else:
                self._spam(ts, to)

    def _internal(self, ts: int, to: User) -> None:
        users = self.sim.world.users
        frm = users[int(self.rng.random() * len(users))]
        topic = self.rng.choice(TOPICS)
        msg = self._base(ts, frm.display, frm.email, to, topic.capitalize(), external=False)
        msg.set_content(
            f"Hi {to.given},\n\nsee the {topic} below / attached.\n\nThanks,\n{frm.given}\n"
        )
        if self.rng.random() < 0.3:
            msg.add_attachment(
                _docx([topic.capitalize(), f"Prepared by {frm.display}"]),
                maintype="application",
                subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                filename=f"{topic.replace(' ', '_')}.docx",
            )
        self._finish(ts, msg, False)

    def _newsletter(self, ts: int, to: User) -> None:
        name, addr = self.rng.choice(NEWSLETTERS)
        msg = self._base(
            ts,
            name,
            addr,
            to,
            f"{name}: this week's highlights",
            external=not addr.endswith(MAIL_DOMAIN),
        )
        msg["List-Unsubscribe"] = (
            f"<https://{addr.split('@')[1]}/unsubscribe?u={self.rng.getrandbits(32):08x}>"
        )
        text = f"{name}\n\nTop stories this week for {ORG_NAME} readers.\n"
        msg.set_content(text)
        msg.add_alternative(
            f"<html><body><h1>{name}</h1><p>Top stories this week.</p>"
            f'<a href="https://{addr.split("@")[1]}/read">Read online</a>'
            "</body></html>",
            subtype="html",
        )
        self._finish(ts, msg, False)

    def _invoice(self, ts: int, to: User) -> None:
        name, addr = self.rng.choice(SUPPLIERS)
        number = self.rng.randrange(10000, 99999)
        msg = self._base(ts, name, addr, to, f"Invoice INV-{number}", external=True)
        msg.set_content(f"Dear customer,\n\nplease find invoice INV-{number} attached.\n\n{name}\n")
        msg.add_attachment(
            _pdf(f"Invoice INV-{number}"),
            maintype="application",
            subtype="pdf",
            filename=f"INV-{number}.pdf",
        )
        self._finish(ts, msg, False)

    def _partner(self, ts: int, to: User) -> None:
        partner, domain = self.rng.choice(PARTNERS)
        first = self.rng.choice(("james", "sofia", "liam", "mia", "noah"))
        msg = self._base(
            ts,
            f"{first.title()} ({partner})",
            f"{first}@{domain}",
            to,
            f"RE: {self.rng.choice(TOPICS)}",
            external=True,
        )
        msg.set_content(
            f"Hello {to.given},\n\nthanks, noted. Updated version attached.\n\n"
            f"{first.title()}\n{partner}\n"
        )
        if self.rng.random() < 0.5:
            msg.add_attachment(
                _docx([f"{partner} document", "Revision B"]),
                maintype="application",
                subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                filename="Statement_of_Work_revB.docx",
            )
        self._finish(ts, msg, False)

    def _spam(self, ts: int, to: User) -> None:
        name, addr, subject = self.rng.choice(SPAM)
        msg = self._base(
            ts, name, addr, to, subject, external=True, spf="softfail", dkim="none", dmarc="fail"
        )
        msg.set_content(
            f"Click here: http://{addr.split('@')[1]}/claim?id={self.rng.getrandbits(32):08x}\n"
        )
        self._finish(ts, msg, False)

    def write(self, folder: Path) -> MailCounts:
        """Write every mail, named by arrival order."""
        files: dict[str, str] = {}
        self.mails.sort(key=lambda item: item[0])
        malicious = 0
        for i, (ts, msg, bad) in enumerate(self.mails):
            name = f"{self.sim.clock.iso(ts)[:10].replace('-', '')}_{i + 1:05d}.eml"
            (folder / name).write_bytes(msg.as_bytes(policy=self.smtp))
            files[str(msg["Message-ID"])] = name
            malicious += bad
        return MailCounts(len(self.mails), malicious, files)


def write_mail(sim: Sim, campaign: Campaign, folder: Path) -> MailCounts:
    """Write the phish and the ordinary mail into ``folder``."""
    writer = MailWriter(sim, campaign)
    writer.phish()
    writer.benign()
    return writer.write(folder)
