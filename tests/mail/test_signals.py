"""Signals added for the quality bar: each with a mail that shows it and one that does not."""

from __future__ import annotations

from spearhunt.detect.mail.catalogue import reason
from spearhunt.detect.mail.context import unwrap
from spearhunt.detect.mail.files import decoy_reason, extensions
from spearhunt.detect.mail.headers import names_itself
from spearhunt.detect.mail.htmlscan import scan_html, visible_text
from spearhunt.detect.mail.scoring import weak_combo
from spearhunt.ingest.mail.blob import make_blob
from spearhunt.model.mail import Reason
from tests.mail.helpers import CONFIG, fx, ids, judge

LONG = "Hello team, the minutes of Tuesday's planning meeting are below. " * 6


def test_dkim_signed_by_another_domain_is_unaligned() -> None:
    sig = "v=1; a=rsa-sha256; d=bulk-sender.example; s=s1; b=abc"
    assert "auth.dkim_unaligned" in ids(judge(fx.mail(headers={"DKIM-Signature": sig})))


def test_dkim_signed_by_the_from_domain_is_aligned() -> None:
    sig = "v=1; a=rsa-sha256; d=mail.example.net; s=s1; b=abc"
    assert "auth.dkim_unaligned" not in ids(judge(fx.mail(headers={"DKIM-Signature": sig})))


def test_gmail_message_id_without_google_hop_is_forged() -> None:
    raw = fx.mail(sender="Shop <news@shop-example.com>").replace(
        b"<fixture-1@example.net>", b"<5sF3H.R9PV9tJuL@mail.gmail.com>"
    )
    assert "auth.forged_message_id" in ids(judge(raw))


def test_gmail_message_id_sent_through_google_is_fine() -> None:
    mid = b"<CAAbjxLtKHedRzy9E_C00etWwDMVPbvzD+gqbYvazHOFggo5vag@mail.gmail.com>"
    raw = fx.mail(
        sender="Ann <ann@shop-example.com>",
        headers={
            "Received": "from mail-ej1-f42.google.com (mail-ej1-f42.google.com [209.85.218.42])"
        },
    )
    assert "auth.forged_message_id" not in ids(judge(raw.replace(b"<fixture-1@example.net>", mid)))


def test_hidden_text_splitting_words_is_flagged() -> None:
    junk = '<span style="font-size:0px">X34QDJLJ89</span>'
    html = f"<p>Your A{junk}mazon Prime Mem{junk}bership ex{junk}pired. Up{junk}date now.</p>"
    v = judge(fx.mail(html=html))
    assert "body.hidden_text" in ids(v)


def test_single_hidden_preview_line_is_not_flagged() -> None:
    html = (
        '<div style="display:none;max-height:0">Your October newsletter is here</div><p>'
        + LONG
        + "</p>"
    )
    assert "body.hidden_text" not in ids(judge(fx.mail(body=LONG, html=html)))


def test_hidden_text_is_kept_out_of_the_visible_text() -> None:
    facts = scan_html('<p>Pay<span style="display:none">salad words</span>ment</p><p>due</p>')
    assert visible_text(facts) == "Payment due"
    assert facts.hidden == ["salad words"]


def test_link_only_body_is_a_tiny_lure() -> None:
    v = judge(
        fx.mail(
            body="See here: https://win-prize.example.org/claim",
            sender="Promo <a@promo-example.com>",
        )
    )
    assert "body.tiny_lure" in ids(v)


def test_short_reply_or_own_link_is_not_a_tiny_lure() -> None:
    own = judge(fx.mail(body="Docs: https://www.example.net/docs"))
    reply = judge(fx.mail(body="Agreed: https://other.example.org/x", subject="Re: plan"))
    assert "body.tiny_lure" not in ids(own) | ids(reply)


def test_emoji_in_subject() -> None:
    assert "hdr.emoji" in ids(judge(fx.mail(subject="\U0001f389 You are a winner")))
    assert "hdr.emoji" not in ids(judge(fx.mail(subject="You are a winner")))


def test_junk_token_after_subject_padding() -> None:
    assert "hdr.random_token" in ids(
        judge(fx.mail(subject="Laatste plekken in uw gemeente...ACZDOCCQRF"))
    )
    assert "hdr.random_token" not in ids(judge(fx.mail(subject="Minutes of the ACME meeting")))


LIST_HEADERS = {
    "List-Id": "Team discussion <team.lists.example.net>",
    "Return-Path": "<team-bounces@lists.example.net>",
}


def test_consistent_mailing_list_lowers_the_score() -> None:
    v = judge(fx.mail(sender="Bob <bob@other.example.org>", headers=LIST_HEADERS))
    assert "ben.mailing_list" in ids(v)
    assert next(r for r in v.reasons if r.id == "ben.mailing_list").score < 0


def test_placeholder_list_id_is_not_a_mailing_list() -> None:
    v = judge(
        fx.mail(sender="Bob <bob@other.example.org>", headers={"List-Id": "<Lh7NiC2Ul.xt.local>"})
    )
    assert "ben.mailing_list" not in ids(v)


def test_quoted_reply_is_a_thread() -> None:
    hdrs = {"In-Reply-To": "<a1@example.net>", "References": "<a0@example.net> <a1@example.net>"}
    v = judge(fx.mail(body="Fine by me.\n\nOn Monday Ann wrote:\n> shall we meet?\n", headers=hdrs))
    assert "ben.thread" in ids(v)
    assert "ben.thread" not in ids(
        judge(fx.mail(body="Fine by me.\n", subject="Re: meet", headers={"In-Reply-To": "<x@y.z>"}))
    )


def test_benign_evidence_never_hides_a_payload() -> None:
    hdrs = {**LIST_HEADERS, "In-Reply-To": "<a1@example.net>", "References": "<a1@example.net>"}
    v = judge(
        fx.mail(
            body="see\n> quoted\n",
            attachments={"invoice.pdf.exe": b"MZ" + b"\0" * 200},
            headers=hdrs,
        )
    )
    assert v.verdict == "malicious"


def _pdf(pages: int, objects: bytes, compress: bool) -> bytes:
    import zlib

    body = zlib.compress(objects) if compress else objects
    kids = b"".join(b"<< /Type /Page >>\n" for _ in range(pages))
    return (
        b"%PDF-1.7\n1 0 obj\n<< /Type /ObjStm /Filter /FlateDecode >>\nstream\n"
        + body
        + b"\nendstream\nendobj\n"
        + kids
        + b"%%EOF\n"
    )


def test_one_page_pdf_with_a_link_in_a_compressed_stream_is_a_lure() -> None:
    from tests.mail.helpers import file_report, finding_ids

    data = _pdf(1, b"<< /S /URI /URI (https://acesso.example-host.net/login) >>", compress=True)
    found = finding_ids(file_report("statement.pdf", data))
    assert {"att.pdf_links", "att.pdf_link_lure"} <= found


def test_long_pdf_or_pdf_without_links_is_not_a_lure() -> None:
    from tests.mail.helpers import file_report, finding_ids

    long_doc = _pdf(12, b"<< /S /URI /URI (https://www.example.org/) >>", compress=True)
    no_link = _pdf(1, b"<< /Length 10 >>", compress=True)
    assert "att.pdf_link_lure" not in finding_ids(file_report("manual.pdf", long_doc))
    assert not {"att.pdf_links", "att.pdf_link_lure"} & finding_ids(
        file_report("memo.pdf", no_link)
    )


def test_generated_mailbox_names_on_company_domains() -> None:
    from spearhunt.detect.mail.structure import random_local

    assert (
        random_local("moses_mor_38838")
        and random_local("flmdpkcd")
        and random_local("117756535765781")
    )
    assert "hdr.random_sender" in ids(judge(fx.mail(sender="Kit Auto <flmdpkcd@shop-example.com>")))


def test_people_roles_and_bounce_ids_are_not_generated_names() -> None:
    from spearhunt.detect.mail.structure import random_local

    assert not any(
        random_local(x)
        for x in ("john.smith", "DoNotUse", "Online#3.20777.51-8J4zgE1Uu7_vxsRR.1", "info")
    )
    assert "hdr.random_sender" not in ids(judge(fx.mail(sender="Kit <support@shop-example.com>")))


def test_from_with_two_mailboxes_or_a_broken_domain_is_malformed() -> None:
    two = judge(
        fx.mail(sender='"Win big!", <service@shop-example.de>, Office, <x@other-example.com>')
    )
    broken = judge(fx.mail(sender="Taxa <taxas@%atendimento.com>"))
    assert "hdr.malformed_from" in ids(two) & ids(broken)
    assert "hdr.malformed_from" not in ids(judge(fx.mail()))


def test_reference_number_in_subject() -> None:
    assert "hdr.reference_number" in ids(
        judge(fx.mail(subject="Your Order Confirmation #NP09312186721"))
    )
    assert "hdr.reference_number" not in ids(
        judge(fx.mail(subject="[PATCH v3 19/37] bluetooth: fix 2024 leak"))
    )


def test_masked_brand_in_display_name_is_seen() -> None:
    assert "hdr.brand_display_name" in ids(
        judge(fx.mail(sender="F.e.d.E.x <moses@parcel-example.shop>"))
    )
    assert "hdr.brand_display_name" in ids(
        judge(fx.mail(sender='"lRS.GOV" <claims@tax-example.com>'))
    )
    assert "hdr.brand_display_name" not in ids(judge(fx.mail(sender="Fred Ex <fred@example.net>")))


def test_brand_name_inside_a_foreign_domain() -> None:
    from spearhunt.detect.mail import domains
    from tests.mail.helpers import CONFIG

    assert domains.brand_in_host("info-flyingblue.com", CONFIG.brands) == "flying blue"
    assert domains.brand_in_host("paypal.com.verify-account.example", CONFIG.brands) == "paypal"
    assert "dom.brand_in_domain" in ids(judge(fx.mail(sender="KLM <news@info-flyingblue.com>")))


def test_brand_owned_domains_and_vendor_subdomains_are_not_brand_abuse() -> None:
    from spearhunt.detect.mail import domains
    from tests.mail.helpers import CONFIG

    assert domains.brand_in_host("mail.paypal.com", CONFIG.brands) is None
    assert domains.brand_in_host("outlook.4team.biz", CONFIG.brands) is None
    assert "dom.brand_in_domain" not in ids(judge(fx.mail(sender="PayPal <service@paypal.com>")))


def test_spam_offer_language_in_several_languages() -> None:
    for body in (
        "Controleer of u in aanmerking komt voor subsidie op zonnepanelen.",
        "Trouvez votre crédit idéal, jusqu'à 70 % pris en charge.",
        "See if you qualify today.",
    ):
        assert "lang.offer" in ids(judge(fx.mail(body=body))), body
    assert "lang.offer" not in ids(judge(fx.mail(body=LONG)))


def test_empty_or_misnamed_document_is_a_decoy() -> None:
    empty = make_blob("Invoice 2291.pdf", b"", declared_type="application/pdf")
    text_pdf = make_blob("FR#8745FS.pdf", b"--boundary\r\nContent-Disposition: attachment\r\n" * 5)
    crossed = make_blob(
        "invite.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", declared_type="application/pdf"
    )
    for blob in (empty, text_pdf, crossed):
        assert decoy_reason(blob, extensions(blob.name)[0]), blob.name
    assert "att.decoy" in ids(
        judge(fx.mail(attachments={"statement.docx": b"not a zip at all, just words"}))
    )


def test_real_documents_and_legacy_exports_are_not_decoys() -> None:
    pdf = make_blob(
        "report.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", declared_type="application/pdf"
    )
    csv_as_xls = make_blob(
        "export.xls", b"name;amount\nann;12\n", declared_type="application/vnd.ms-excel"
    )
    member = make_blob("inner.pdf", b"", parent="bundle.zip")
    for blob in (pdf, csv_as_xls, member):
        assert not decoy_reason(blob, extensions(blob.name)[0]), blob.name
    assert "att.decoy" not in ids(
        judge(fx.mail(attachments={"plan.pdf": b"%PDF-1.4\n%\xe2\xe3\n"}))
    )


def test_bare_word_x_mailer_is_fake() -> None:
    assert "hdr.fake_mailer" in ids(judge(fx.mail(headers={"X-Mailer": "bgBEW"})))
    for real in ("Microsoft Outlook 16.0", "Mutt/1.4i", "Apple Mail (2.3445.104.11)"):
        assert "hdr.fake_mailer" not in ids(judge(fx.mail(headers={"X-Mailer": real}))), real


SALAD = (
    "Jt3s16b 1z27qXCxqwuwvqqt 88DNv4WBMTpalr zSVPf2M2icS 62ZQXlc3 coe1tF7n93tGQc89BI KwAzmpdYi6xhA "
    "VnnStYV286C xx9O12pm vbM1Ie8NJYlNCNf mvNPQANKjxzWMkV de7X5xyri e4eH5X SDdr0Vc4QlZ4p6D5 "
) * 2


def test_random_token_salad_body_is_gibberish() -> None:
    assert "body.gibberish" in ids(judge(fx.mail(body="Win a gift card today!\n" + SALAD)))


def test_technical_text_with_ids_is_not_gibberish() -> None:
    patch = (
        'Fixes: 3f2a9c1d0b7e ("Bluetooth: hci_sync: fix ConnectionHandle lookup")\n'
        "Signed-off-by: Luiz Augusto von Dentz <luiz@example.org>\n"
        "The function hci_conn_hash_lookup_handle returns NULL when the handle is stale; "
        "callers in hci_event.c and l2cap_core.c now check the result before use. "
    ) * 4
    assert "body.gibberish" not in ids(judge(fx.mail(body=patch)))
    assert "body.gibberish" not in ids(judge(fx.mail(body=LONG)))


def test_invisible_characters_in_an_attachment_name() -> None:
    v = judge(fx.mail(attachments={"reviewdocument_txtid\u034f\u034f.rtf": b"{\\rtf1 hello}"}))
    assert "att.hidden_name_chars" in ids(v)
    assert "att.hidden_name_chars" not in ids(
        judge(fx.mail(attachments={"review document.rtf": b"{\\rtf1 hi}"}))
    )


def test_tracker_and_open_redirect_links_are_judged_at_their_destination() -> None:
    ses = "https://x1.r.eu-west-1.awstrack.me/L0/https:%2F%2Fkit.s3-website.amazonaws.com%2Fa/1/0102-abc=/xyz"
    assert unwrap(ses) == ("https://kit.s3-website.amazonaws.com/a", ses)
    tracker = "https://click.news.example.com/track?id=7&url=https%3A%2F%2Flure.top%2Fgo"
    assert unwrap(tracker)[0] == "https://lure.top/go"
    plain = "https://shop.example.com/search?q=https://example.org&page=2"
    assert unwrap(plain) == (plain, "")


def _reasons(*pairs: tuple[str, int]) -> list[Reason]:
    return [reason(CONFIG, rid, ["test"], score=score) for rid, score in pairs]


def test_weak_tells_of_three_families_earn_the_combination_bonus() -> None:
    combo = weak_combo(
        _reasons(("hdr.freemail_sender", 8), ("hdr.reference_number", 8), ("lang.urgency", 10)),
        CONFIG,
    )
    assert combo is not None and combo.id == "mix.independent_tells"


def test_two_families_or_feeble_tells_earn_no_bonus() -> None:
    assert (
        weak_combo(
            _reasons(("hdr.reply_to_mismatch", 12), ("hdr.freemail_sender", 8), ("lang.money", 10)),
            CONFIG,
        )
        is None
    )
    assert (
        weak_combo(
            _reasons(
                ("hdr.return_path_mismatch", 4),
                ("lang.action", 5),
                ("link.shortener", 8),
                ("lang.money", 10),
            ),
            CONFIG,
        )
        is None
    )
    assert (
        weak_combo(_reasons(("lang.money", 10), ("link.shortener", 8), ("ben.thread", -10)), CONFIG)
        is None
    )


def test_callback_lure_with_an_adverb() -> None:
    body = (
        "Your subscription has been successfully renewed. To cancel the order call +1 843-602-3984."
    )
    assert "lang.callback" in ids(judge(fx.mail(body=body)))
    assert "lang.callback" not in ids(
        judge(fx.mail(body="Your subscription has been successfully renewed."))
    )


def test_publisher_naming_itself_next_to_a_brand_is_not_impersonation() -> None:
    v = judge(
        fx.mail(
            sender="Lockergnome Apple Core <subscriptions@lockergnome.com>",
            body="Mac news of the week: https://www.lockergnome.com/mac",
        )
    )
    assert not {"hdr.brand_display_name", "link.brand_not_linked"} & ids(v)
    assert names_itself("Lockergnome Apple Core", "lockergnome.com", "apple")


def test_brand_named_domain_or_bare_brand_is_still_impersonation() -> None:
    assert not names_itself("Correios", "correios.co.ua", "correios")
    v = judge(
        fx.mail(
            sender="Apple Support <help@shop-example.com>",
            body="Verify: https://appleid.lure.example/x",
        )
    )
    assert "hdr.brand_display_name" in ids(v)


def test_shown_address_whose_domain_gets_every_link_is_a_forwarding_alias() -> None:
    sender = '"news@books.example.com [reader/books]" <ticket_23aj49@alias-relay.example.net>'
    kept = judge(
        fx.mail(
            sender=sender,
            body="New titles: https://www.books.example.com/new https://books.example.com/a",
        )
    )
    assert "hdr.display_name_address" not in ids(kept)
    lure = judge(fx.mail(sender=sender, body="Sign in: https://books-example.lure.example/login"))
    assert "hdr.display_name_address" in ids(lure)
