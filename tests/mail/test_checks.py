"""Message-level checks: each with a mail that shows it and one that does not."""

from __future__ import annotations

from spearhunt.detect.mail.context import unwrap
from spearhunt.report.mail import defang
from tests.mail.helpers import fx, ids, judge

AR = "mx.example.org; spf={spf} smtp.mailfrom=example.net; dkim={dkim} header.d=example.net; dmarc={dmarc} header.from=example.net"


def test_auth_failures_are_reasons() -> None:
    v = judge(
        fx.mail(
            headers={"Authentication-Results": AR.format(spf="fail", dkim="fail", dmarc="fail")}
        )
    )
    assert {"auth.spf_fail", "auth.dkim_fail", "auth.dmarc_fail"} <= ids(v)


def test_auth_pass_gives_no_auth_reason() -> None:
    v = judge(
        fx.mail(
            headers={"Authentication-Results": AR.format(spf="pass", dkim="pass", dmarc="pass")}
        )
    )
    assert not {i for i in ids(v) if i.startswith("auth.")}


def test_reply_to_freemail_from_company_sender() -> None:
    v = judge(
        fx.mail(sender="CFO <cfo@corp-example.net>", headers={"Reply-To": "cfo.private@gmail.com"})
    )
    assert "hdr.reply_to_freemail" in ids(v)


def test_reply_to_same_domain_is_fine() -> None:
    v = judge(
        fx.mail(
            sender="CFO <cfo@corp-example.net>", headers={"Reply-To": "office@corp-example.net"}
        )
    )
    assert not {"hdr.reply_to_freemail", "hdr.reply_to_mismatch"} & ids(v)


def test_brand_display_name_from_foreign_domain() -> None:
    v = judge(fx.mail(sender="PayPal Security <alert@secure-notice.example.net>"))
    assert "hdr.brand_display_name" in ids(v)


def test_brand_display_name_from_brand_domain() -> None:
    v = judge(fx.mail(sender="PayPal <service@paypal.com>"))
    assert "hdr.brand_display_name" not in ids(v)


def test_vip_impersonation_uses_config(tmp_path) -> None:
    from spearhunt.detect.mail import MailAnalyzer, load_config
    from spearhunt.ingest.mail import read_bytes

    cfg = tmp_path / "c.yaml"
    cfg.write_text("vips: [Jane Director]\nprotected_domains: [corp.example]\n")
    analyzer = MailAnalyzer(load_config(cfg))
    bad = next(iter(read_bytes(fx.mail(sender="Jane Director <jane.d@gmail.com>"), "x")))
    good = next(iter(read_bytes(fx.mail(sender="Jane Director <jane@corp.example>"), "x")))
    assert "hdr.vip_impersonation" in {r.id for r in analyzer.analyze(bad).reasons}
    assert "hdr.vip_impersonation" not in {r.id for r in analyzer.analyze(good).reasons}


def test_punycode_and_homoglyph_sender_domain() -> None:
    host = "p\u0430ypal.com".encode("idna").decode()  # Cyrillic a
    v = judge(fx.mail(sender=f"Service <alerts@{host}>"))
    assert {"dom.punycode", "dom.confusable"} <= ids(v)
    assert not {"dom.punycode", "dom.confusable"} & ids(
        judge(fx.mail(sender="Service <alerts@paypal.com>"))
    )


def test_invisible_characters_in_subject() -> None:
    v = judge(fx.mail(subject="Acc\u200bount sus\u200bpended \u200b"))
    assert "hdr.invisible_chars" in ids(v)
    assert "hdr.invisible_chars" not in ids(judge(fx.mail(subject="Account review meeting")))


def test_link_text_shows_other_domain_than_href() -> None:
    html = '<p><a href="http://login.evil-example.top/x">https://www.paypal.com/signin</a></p>'
    v = judge(fx.mail(html=html))
    assert {"link.text_href_mismatch", "link.suspicious_tld"} <= ids(v)
    ok = judge(
        fx.mail(
            html='<p><a href="https://www.paypal.com/signin">https://www.paypal.com/signin</a></p>'
        )
    )
    assert "link.text_href_mismatch" not in ids(ok)


def test_ip_literal_and_shortener_links() -> None:
    v = judge(fx.mail(body="open http://198.51.100.7/login and https://bit.ly/abc"))
    assert {"link.ip_literal", "link.shortener"} <= ids(v)
    assert not {"link.ip_literal", "link.shortener"} & ids(
        judge(fx.mail(body="see https://www.python.org/"))
    )


def test_credential_form_in_body() -> None:
    v = judge(fx.mail(html='<form action="https://x.example/p"><input type="password"></form>'))
    assert "link.credential_form" in ids(v)
    assert "link.credential_form" not in ids(judge(fx.mail(html="<p>hi</p>")))


def test_safelinks_are_unwrapped() -> None:
    wrapped = (
        "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fevil.example%2Fa&data=1"
    )
    assert unwrap(wrapped) == ("https://evil.example/a", wrapped)
    assert unwrap("https://evil.example/a") == ("https://evil.example/a", "")


def test_credential_language() -> None:
    v = judge(fx.mail(body="Your account has been suspended. Verify your account within 24 hours."))
    assert {"lang.credential", "lang.urgency"} <= ids(v)
    assert not {"lang.credential", "lang.urgency"} & ids(
        judge(fx.mail(body="Minutes of the meeting attached."))
    )


def test_forwarded_report_judges_inner_mail() -> None:
    from email.message import EmailMessage
    from email.parser import BytesParser

    inner = BytesParser().parsebytes(
        fx.mail(sender="PayPal <x@bad.example.net>", subject="inner lure")
    )
    outer = EmailMessage()
    outer["From"] = "Reporter <rep@corp.example>"
    outer["To"] = "soc@corp.example"
    outer["Subject"] = "FW: suspicious"
    outer.set_content("please check")
    outer.add_attachment(inner)
    v = judge(outer.as_bytes())
    assert v.subject == "inner lure" and v.reported_by and "rep@corp.example" in v.reported_by


def test_defang() -> None:
    assert defang("https://evil.example/a") == "hxxps://evil[.]example/a"
    assert defang("bad@evil.example") == "bad[@]evil[.]example"
