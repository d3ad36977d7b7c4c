"""Signals and fixes of issue #13 (mail triage that holds on mail it was not tuned on) and the mail
text items of #17: each signal with a mail that shows it and one that does not, each
false-positive family with a mail that was misjudged before its fix."""

from __future__ import annotations

import io
import zipfile

from spearhunt.detect.mail.context import Link, collect_links, normalize_url, parse_sender
from spearhunt.detect.mail.htmlscan import scan_html, visible_text
from tests.mail.helpers import file_report, finding_ids, fx, ids, judge

LONG = "Hello team, the minutes of Tuesday's planning meeting are below. " * 6
NO_AUTH = "mx.example.org; spf=none smtp.mailfrom=bank.example; dkim=none"
PASS = "mx.example.org; spf=pass smtp.mailfrom=examplebank.com; dkim=pass header.d=examplebank.com; dmarc=pass"


def raw_mail(headers: list[tuple[str, str]], body: str, html: bool = False) -> bytes:
    """A mail written byte for byte (malformed headers that EmailMessage would refuse)."""
    ctype = "text/html" if html else "text/plain"
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return (
        f"{head}MIME-Version: 1.0\r\nContent-Type: {ctype}; charset=utf-8\r\n\r\n{body}"
    ).encode()


def bank_mail(
    html: str, sender: str = "Example Bank <service@examplebank.com>", **kw: str
) -> bytes:
    return fx.mail(sender=sender, body=LONG, html=html, headers=dict(kw))


# --- every link from every place it can hide, normalized once --------------------------------


def test_links_hide_in_areas_forms_buttons_refresh_and_click_handlers() -> None:
    facts = scan_html(
        '<meta http-equiv="refresh" content="0; url=http://refresh.example/x">'
        '<map><area href="http://area.example/a" alt="Sign in"></map>'
        '<form action="http://form.example/post"><button formaction="http://button.example/b">Go'
        "</button></form>"
        "<div onclick=\"location.href='http://click.example/c'\">Continue</div>"
    )
    hosts = {link.host: link.kind for link in collect_links("", facts)}
    assert hosts == {
        "refresh.example": "refresh",
        "area.example": "area",
        "form.example": "form",
        "button.example": "button",
        "click.example": "onclick",
    }


def test_plain_anchors_and_text_give_only_their_own_links() -> None:
    facts = scan_html('<p><a href="https://docs.example/guide">guide</a></p>')
    links = collect_links("see https://wiki.example/page", facts)
    assert [(link.host, link.kind) for link in links] == [
        ("docs.example", "anchor"),
        ("wiki.example", "text"),
    ]


def test_urls_are_normalized_as_a_browser_follows_them() -> None:
    assert normalize_url("http://%65%76%69%6c.example/x") == "http://evil.example/x"
    assert normalize_url("http://0x7f.1/") == "http://127.0.0.1/"
    assert normalize_url("http://3232235777/login") == "http://192.168.1.1/login"
    assert normalize_url("http:\\\\evil.example\\a") == "http://evil.example/a"
    assert normalize_url("https://ex\tample.com/") == "https://example.com/"
    assert normalize_url("www.example.com/a") == "http://www.example.com/a"
    assert normalize_url("https://example.com/a%20b?q=%41") == "https://example.com/a%20b?q=%41"


def test_html5_parser_sees_what_a_browser_sees() -> None:
    # an anchor left open is closed by the browser at the end of its block; the title is not shown
    facts = scan_html("<title>salad words</title><p><a href='http://x.example/'>Pay now<p>after")
    assert facts.anchors[0][0] == "http://x.example/"
    assert "salad" not in visible_text(facts)
    assert visible_text(facts) == "Pay now after"


def test_percent_encoded_link_host_is_a_disguise() -> None:
    html = (
        '<p>Review your statement: <map><area href="http://%31%39%35%2E%31%34%36%2E%39%39%2E%31:'
        '%38%37/%73%74/"></map><img src="cid:part1" usemap="#m"></p>'
    )
    found = ids(judge(bank_mail(html)))
    assert {"link.obfuscated_host", "link.ip_literal", "body.image_lure"} <= found


def test_percent_escapes_in_a_path_are_no_disguise() -> None:
    html = f'<p>{LONG}<a href="https://docs.example.com/a%20file.pdf">the file</a></p>'
    assert "link.obfuscated_host" not in ids(judge(bank_mail(html)))


def test_picture_with_a_link_over_it_and_no_text_is_an_image_lure() -> None:
    html = '<a href="http://login.other.example/"><img src="cid:banner" alt=""></a>'
    assert "body.image_lure" in ids(judge(bank_mail(html)))


def test_picture_beside_real_text_is_not_an_image_lure() -> None:
    html = f'<p>{LONG}</p><a href="http://shop.other.example/"><img src="cid:banner"></a>'
    assert "body.image_lure" not in ids(judge(bank_mail(html)))


# --- link signals that need no brand list -----------------------------------------------------


def test_anchor_showing_the_forged_senders_domain_but_going_elsewhere_is_deceptive() -> None:
    html = (
        f'<p>{LONG}<a href="http://203.0.113.9/update/">https://www.examplebank.com/update</a></p>'
    )
    v = judge(bank_mail(html, **{"Authentication-Results": NO_AUTH}))
    assert "link.text_href_mismatch" in ids(v)


def test_anchor_showing_an_authenticated_senders_domain_over_its_tracker_is_fine() -> None:
    html = f'<p>{LONG}<a href="https://click.esp-mailer.example/t/1">www.examplebank.com</a></p>'
    v = judge(bank_mail(html, **{"Authentication-Results": PASS}))
    assert "link.text_href_mismatch" not in ids(v)


def test_senders_own_name_under_another_root_is_dressing_up() -> None:
    html = f'<p>{LONG}<a href="http://examplebank-secure.net/">log in</a></p>'
    assert "link.sender_name_elsewhere" in ids(judge(bank_mail(html)))
    html = f'<p>{LONG}<a href="http://www.examplebank.com.verify-now.net/">log in</a></p>'
    assert "link.sender_name_elsewhere" in ids(judge(bank_mail(html)))


def test_same_name_under_another_suffix_or_a_partner_subdomain_is_not() -> None:
    html = (
        f'<p>{LONG}<a href="https://examplebank.de/">de</a>'
        '<a href="https://examplebank.pricegrabber.example/">deals</a></p>'
    )
    assert "link.sender_name_elsewhere" not in ids(judge(bank_mail(html)))


def test_trusted_domain_in_the_path_of_another_host() -> None:
    html = (
        f'<p>{LONG}<a href="http://host.example.org/www.examplebank.com/login.php">log in</a></p>'
    )
    assert "link.domain_in_path" in ids(judge(bank_mail(html)))


def test_redirector_carrying_a_url_in_its_path_is_not_a_hidden_domain() -> None:
    html = f'<p>{LONG}<a href="http://rd.example.org/news/*http://www.examplebank.com">news</a></p>'
    assert "link.domain_in_path" not in ids(judge(bank_mail(html)))


def test_form_asking_for_card_details_is_a_credential_form() -> None:
    html = (
        f'<p>{LONG}</p><form action="http://collect.example.net/p.php">'
        '<input name="cardnumber"><input name="cvv2"><input type="submit"></form>'
    )
    found = ids(judge(bank_mail(html)))
    assert "link.credential_form" in found


def test_form_with_several_fields_posting_elsewhere_is_flagged() -> None:
    html = (
        f'<p>{LONG}</p><form action="http://collect.example.net/p.php">'
        '<input name="fullname"><input name="address"><input name="phone"></form>'
    )
    assert "link.form_off_domain" in ids(judge(bank_mail(html)))


def test_newsletter_search_box_is_not_a_lure_form() -> None:
    html = (
        f'<p>{LONG}</p><form action="http://www.search.example/redirect">'
        '<input name="q"><input type="submit" value="Search"></form>'
    )
    found = ids(judge(bank_mail(html)))
    assert not {"link.form_off_domain", "link.credential_form"} & found


# --- brand claims against links and authentication --------------------------------------------


def test_unauthenticated_mail_from_a_brands_own_domain_counts() -> None:
    v = judge(
        fx.mail(sender="PayPal <service@paypal.com>", headers={"Authentication-Results": NO_AUTH})
    )
    assert "auth.brand_unauthenticated" in ids(v)


def test_authenticated_brand_mail_and_freemail_senders_do_not() -> None:
    passed = "mx.example.org; spf=pass smtp.mailfrom=paypal.com; dkim=pass header.d=paypal.com; dmarc=pass"
    v = judge(
        fx.mail(sender="PayPal <service@paypal.com>", headers={"Authentication-Results": passed})
    )
    assert "auth.brand_unauthenticated" not in ids(v)
    assert "auth.brand_unauthenticated" not in ids(judge(fx.mail(sender="Ann <ann@gmail.com>")))


def test_forged_brand_sender_that_never_links_to_the_brand() -> None:
    html = f'<p>{LONG}<a href="http://198.51.100.4/webscr/">Log in to PayPal</a></p>'
    v = judge(fx.mail(sender="PayPal <service@paypal.com>", body=LONG, html=html))
    assert "link.brand_not_linked" in ids(v)


def test_authenticated_brand_sender_is_not_asked_to_link_to_itself() -> None:
    passed = "mx.example.org; spf=pass smtp.mailfrom=paypal.com; dkim=pass header.d=paypal.com; dmarc=pass"
    html = f'<p>{LONG}<a href="https://click.esp.example/x">Your receipt</a></p>'
    v = judge(
        fx.mail(
            sender="PayPal <service@paypal.com>",
            body=LONG,
            html=html,
            headers={"Authentication-Results": passed},
        )
    )
    assert "link.brand_not_linked" not in ids(v)


# --- sender infrastructure ----------------------------------------------------------------------


def _received(line: str, **headers: str) -> bytes:
    return fx.mail(
        sender="Example Bank <service@examplebank.com>", headers={"Received": line, **headers}
    )


def test_bare_ip_helo_at_the_handoff() -> None:
    line = "from 81.18.87.130 (unknown [81.18.87.190]) by mx.example.org (Postfix) with SMTP id 1"
    assert "hdr.helo_bare" in ids(judge(_received(line)))


def test_named_mail_server_helo_is_fine_and_internal_hops_are_skipped() -> None:
    line = "from mail.examplebank.com (mail.examplebank.com [198.51.100.20]) by mx.example.org"
    assert "hdr.helo_bare" not in ids(judge(_received(line)))
    inner = "from 10.1.2.3 (unknown [10.1.2.3]) by relay.example.org"
    assert "hdr.helo_bare" not in ids(judge(_received(inner)))


def test_helo_borrowing_the_from_domain_from_an_unresolved_host() -> None:
    line = "from examplebank.com (unknown [147.46.216.209]) by mx.example.org (Postfix)"
    assert "hdr.helo_forged" in ids(judge(_received(line)))
    hosted = "from examplebank.com (web1.hoster.example [147.46.216.209]) by mx.example.org"
    assert "hdr.helo_forged" not in ids(judge(_received(hosted)))


def test_outlook_claimed_on_a_message_outlook_did_not_write() -> None:
    raw = raw_mail(
        [
            ("From", "Example Bank <service@examplebank.com>"),
            ("To", "bob@example.org"),
            ("Subject", "Notice"),
            ("Message-ID", "<xiizabjneuLm6RWp@earthlight.example>"),
            ("X-Mailer", "Microsoft Outlook Express 6.00.2800.1106"),
        ],
        LONG,
    )
    assert "hdr.mailer_mismatch" in ids(judge(raw))


def test_outlook_with_its_own_message_id_and_boundary_is_fine() -> None:
    raw = raw_mail(
        [
            ("From", "Ann <ann@examplebank.com>"),
            ("To", "bob@example.org"),
            ("Subject", "Notice"),
            ("Message-ID", "<000301c4d5ae$9231cea0$4553594d@host>"),
            ("X-Mailer", "Microsoft Outlook Express 6.00.2800.1106"),
        ],
        LONG,
    )
    assert "hdr.mailer_mismatch" not in ids(judge(raw))


def test_fake_outlook_boundary_and_padded_mailer_are_mismatches() -> None:
    fake = fx.mail(
        headers={"X-Mailer": "Microsoft Outlook Express 5.00.2615.200 balaustre antiseptize"}
    )
    assert "hdr.mailer_mismatch" in ids(judge(fake))
    boundary = fx.mail(html="<p>hi</p>").replace(
        b"===============", b"----=_NextPart_000_00AT_08U5695ZT_09S.469I04B0", 2
    )
    real = fx.mail(headers={"X-Mailer": "Mutt/1.4i"})
    assert "hdr.mailer_mismatch" not in ids(judge(real))
    assert boundary  # built; the top boundary is checked below on a hand-written header
    raw = raw_mail(
        [
            ("From", "Ann <ann@example.net>"),
            ("To", "bob@example.org"),
            ("Subject", "x"),
            ("Message-ID", "<1@example.net>"),
        ],
        LONG,
    ).replace(
        b"text/plain; charset=utf-8",
        b'multipart/alternative; boundary="----=_NextPart_000_00AT_08U5695ZT_09S.469I04B0"',
    )
    assert "hdr.mailer_mismatch" in ids(judge(raw))


# --- lure language in the targets' languages ----------------------------------------------------


def test_lures_in_german_french_russian_and_chinese() -> None:
    for text in (
        "Bitte bestätigen Sie Ihre Kontodaten innerhalb von 24 Stunden, andernfalls wird Ihr Konto gesperrt.",
        "Votre compte sera suspendu : mettez à jour vos informations sous 48 heures.",
        "Подтвердите вашу учетную запись, иначе она будет заблокирована. Срочно.",
        "请验证您的帐户，否则您的帐户将被冻结。",
    ):
        found = ids(judge(fx.mail(body=text)))
        assert "lang.credential" in found, text


def test_ordinary_german_and_french_mail_is_no_lure() -> None:
    for text in (
        "Hallo zusammen, anbei das Protokoll der Sitzung vom Dienstag. Viele Grüße, Anna",
        "Bonjour à tous, voici le compte rendu de la réunion de mardi. Bien cordialement, Anne",
    ):
        found = ids(judge(fx.mail(body=text)))
        assert not {r for r in found if r.startswith("lang.")}, text


def test_strong_language_plus_one_technical_tell_reaches_suspicious() -> None:
    lure = "Your account has been suspended. Verify your account within 24 hours."
    alone = judge(fx.mail(body=lure + " Thank you."))
    assert alone.verdict == "clean"
    with_link = judge(fx.mail(body=lure + " http://203.0.113.7/verify/"))
    assert with_link.verdict in ("suspicious", "malicious")


# --- targeted path: enable-content and unreadable macros ----------------------------------------


def _docm(vba: bytes | None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("word/document.xml", "<w:document/>")
        if vba is not None:
            z.writestr("word/vbaProject.bin", vba)
    return buf.getvalue()


def test_macro_project_that_cannot_be_read_is_a_finding() -> None:
    rep = file_report("offer.docm", _docm(b"\x00garbled project, no OLE header" * 20))
    assert "att.vba_unreadable" in finding_ids(rep)


def test_document_without_a_macro_project_is_not_unreadable() -> None:
    assert "att.vba_unreadable" not in finding_ids(file_report("offer.docx", _docm(None)))


def test_enable_content_beside_an_office_attachment() -> None:
    body = "The document is protected. Please click Enable Content to view it."
    v = judge(fx.mail(body=body, attachments={"offer.docx": fx.docx_remote_template(False)}))
    assert "att.enable_content" in ids(v)


def test_enable_content_without_an_office_file_or_office_file_without_it() -> None:
    body = "The document is protected. Please click Enable Content to view it."
    assert "att.enable_content" not in ids(judge(fx.mail(body=body)))
    plain = fx.mail(body=LONG, attachments={"offer.docx": fx.docx_remote_template(False)})
    assert "att.enable_content" not in ids(judge(plain))


# --- false-positive families -------------------------------------------------------------------


def _list_mail(auth: str) -> bytes:
    return fx.mail(
        sender="Tellrell White via USRP-users <usrp-users@lists.example-sdr.org>",
        to="usrp-users@lists.example-sdr.org",
        body=LONG,
        headers={
            "Reply-To": "Tellrell White <t_white@yahoo.com>",
            "List-Id": "USRP-related discussion <usrp-users.lists.example-sdr.org>",
            "Authentication-Results": auth,
        },
    )


def test_list_that_rewrites_from_with_the_poster_in_reply_to_is_not_a_reply_to_lure() -> None:
    v = judge(_list_mail("mm2.example; dkim=fail header.d=yahoo.com"))
    assert not {"hdr.reply_to_freemail", "hdr.reply_to_mismatch", "hdr.self_sent"} & ids(v)
    assert v.verdict == "clean"


def test_one_dkim_failure_is_counted_once() -> None:
    v = judge(
        fx.mail(headers={"Authentication-Results": "mx.example.org; dkim=fail header.d=x.example"})
    )
    found = ids(v)
    assert "auth.dkim_fail" in found
    assert "auth.unauthenticated" not in found


def test_private_address_quoted_in_plain_text_is_not_a_phishing_link() -> None:
    v = judge(fx.mail(body="the log says http://10.20.30.40:8080/status failed " + LONG))
    assert "link.ip_literal" not in ids(v)


def test_version_number_a_client_auto_linked_is_not_a_phishing_link() -> None:
    html = f'<p>{LONG} upgrade to <a href="http://4.1.0.5">http://4.1.0.5</a></p>'
    v = judge(fx.mail(body=LONG + " upgrade to http://4.1.0.5", html=html))
    assert "link.ip_literal" not in ids(v)


def test_deliberate_anchor_to_a_public_ip_still_counts() -> None:
    assert Link("http://4.1.0.5", "Click here", kind="anchor").deliberate
    html = f'<p>{LONG}<a href="http://203.0.113.5/login">Click here</a></p>'
    assert "link.ip_literal" in ids(judge(fx.mail(body=LONG, html=html)))


def test_text_attachment_starting_with_quoted_from_is_not_a_reported_mail() -> None:
    quoted = b">From bob@example.org Mon Jan 1 2024\nFrom: x@y.example\nSubject: broken\n\nhello\n"
    v = judge(fx.mail(subject="Quarterly notes", body=LONG, attachments={"notes.txt": quoted}))
    assert v.subject == "Quarterly notes"
    assert v.reported_by is None


# --- mail text items of #17 ----------------------------------------------------------------------


def test_missing_from_has_its_own_reason() -> None:
    raw = raw_mail(
        [("To", "bob@example.org"), ("Subject", "x"), ("Message-ID", "<1@x.example>")], LONG
    )
    v = judge(raw)
    titles = {r.id: r.title for r in v.reasons}
    assert "hdr.no_from" in titles
    assert "recipient" not in titles["hdr.no_from"].lower()
    assert not any(
        r.id == "hdr.undisclosed_recipients" and "no From" in " ".join(r.evidence)
        for r in v.reasons
    )


def test_malformed_from_keeps_its_address() -> None:
    sender = parse_sender("Microsoft account team ,_<no-reply@account-ms.example>")
    assert sender is not None
    assert sender.address == "no-reply@account-ms.example"
    assert sender.display == "Microsoft account team"
    raw = raw_mail(
        [
            ("From", "Microsoft account team ,_<no-reply@account-ms.example>"),
            ("To", "bob@example.org"),
            ("Subject", "x"),
            ("Message-ID", "<1@x.example>"),
        ],
        LONG,
    )
    v = judge(raw)
    assert "hdr.malformed_from" in ids(v)
    assert "no-reply@account-ms.example" in {i.value for i in v.iocs}


# --- later additions: status-bar rewriting, white-on-white text, Message-ID origin -------------


def test_script_that_rewrites_the_status_bar_is_flagged() -> None:
    html = (
        f"<p>{LONG}</p><a href='http://x.example.net/' "
        "onmouseover=\"window.status='https://www.examplebank.com/'; return true\">sign in</a>"
    )
    assert "link.status_spoof" in ids(judge(bank_mail(html)))


def test_ordinary_script_and_handlers_do_not_rewrite_the_status_bar() -> None:
    html = f"<p>{LONG}</p><a href='https://x.example.net/' onmouseover=\"this.className='hi'\">more</a>"
    assert "link.status_spoof" not in ids(judge(bank_mail(html)))


def test_near_white_text_on_a_white_page_is_hidden() -> None:
    facts = scan_html('<p>Pay now</p><p><font color="#FFFFF8">salad words here</font></p>')
    assert visible_text(facts) == "Pay now"
    assert facts.hidden == ["salad words here"]


def test_near_white_text_on_a_painted_background_is_visible() -> None:
    facts = scan_html('<body bgcolor="#003366"><p><font color="#FFFFFF">Welcome</font></p></body>')
    assert visible_text(facts) == "Welcome"


def _relayed(message_id: str) -> bytes:
    return raw_mail(
        [
            (
                "Received",
                "from relay.example.org (relay.example.org [10.23.1.4]) by mx.example.org",
            ),
            (
                "Received",
                "from client.example.net (client.example.net [66.93.12.142]) by relay.example.org",
            ),
            ("From", "Ann <ann@example.net>"),
            ("To", "bob@example.org"),
            ("Subject", "Minutes"),
            ("Message-ID", message_id),
        ],
        LONG,
    )


def test_message_id_written_by_the_recipients_server_means_the_sender_wrote_none() -> None:
    v = judge(_relayed("<20041218061652.79C6BC0A1@relay.example.org>"))
    assert "hdr.no_message_id" in ids(v)


def test_message_id_of_the_senders_own_software_is_fine() -> None:
    assert "hdr.no_message_id" not in ids(judge(_relayed("<abc.123@client.example.net>")))


def test_msn_message_id_that_never_passed_through_microsoft_is_forged() -> None:
    raw = fx.mail(sender="SunTrust <service@suntrust.com>").replace(
        b"<fixture-1@example.net>", b"<MDYCNDRPEKNJRIIJDFRRXDAR@msn.com>"
    )
    assert "auth.forged_message_id" in ids(judge(raw))


def test_brand_mail_handed_over_by_a_home_dsl_line() -> None:
    line = (
        "from wamu.com (ar9.hnllhi1-4.26.243.152.hnllhi1.dsl-verizon.example.net [4.26.243.152])"
        " by mx.example.org"
    )
    assert "hdr.dynamic_origin" in ids(judge(_received(line)))


def test_mail_handed_over_by_a_named_mail_server_is_not_dynamic() -> None:
    line = "from smtp.examplebank.com (smtp2.mailhost.example.net [4.26.243.152]) by mx.example.org"
    assert "hdr.dynamic_origin" not in ids(judge(_received(line)))


def test_spear_phish_with_unreadable_macro_and_enable_content_is_malicious() -> None:
    # the blind spot of the issue: only the file type counted, the mail scored 20 (clean)
    body = "Dear colleague, the tender is attached. Click Enable Content to view the document."
    docm = _docm(b"\x01\x00garbled VBA project" * 40)
    v = judge(fx.mail(body=body, attachments={"tender.docm": docm}))
    assert {"att.vba_unreadable", "att.enable_content"} <= ids(v)
    assert v.verdict == "malicious"
