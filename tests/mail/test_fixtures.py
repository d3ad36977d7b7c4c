"""Our inert weapon-shaped fixtures: each detection fires on the fixture and not on its benign twin."""

from __future__ import annotations

from tests.mail.helpers import file_report, finding_ids, fx, ids, judge


def test_remote_template_docx_is_template_injection() -> None:
    rep = file_report("plan.docx", fx.docx_remote_template(True))
    assert "att.external_template" in finding_ids(rep)
    f = next(r for r in rep.findings if r.id == "att.external_template")
    assert f.attack == "T1221" and "templates.example.com" in f.evidence[0]


def test_local_template_docx_is_not_template_injection() -> None:
    assert finding_ids(file_report("plan.docx", fx.docx_remote_template(False))) == set()


def test_rtf_with_equation_object_is_flagged() -> None:
    found = finding_ids(file_report("terms.rtf", fx.rtf_equation(True)))
    assert {"att.rtf_object", "att.equation_editor"} <= found


def test_rtf_without_object_is_clean() -> None:
    assert finding_ids(file_report("terms.rtf", fx.rtf_equation(False))) == set()


def test_lnk_to_powershell_reports_target() -> None:
    rep = file_report("doc.lnk", fx.lnk())
    assert {"att.lnk", "att.lnk_command"} <= finding_ids(rep)
    assert "powershell.exe" in dict(rep.properties)["lnk_target"]


def test_lnk_to_notepad_is_a_shortcut_but_not_a_command() -> None:
    found = finding_ids(file_report("doc.lnk", fx.lnk(r"C:\Windows\notepad.exe", "readme.txt")))
    assert "att.lnk" in found and "att.lnk_command" not in found


def test_iso_holding_lnk_is_opened_and_both_flagged() -> None:
    rep = file_report("quote.iso", fx.iso_with("report.pdf.lnk", fx.lnk()))
    assert rep.type == "iso" and [c.name for c in rep.children] == ["report.pdf.lnk"]
    assert {"att.disk_image", "att.lnk", "att.lnk_command", "att.double_extension"} <= finding_ids(
        rep
    )


def test_html_smuggling_page_is_flagged() -> None:
    found = finding_ids(file_report("doc.html", fx.html_smuggling(True)))
    assert "att.html_smuggling" in found


def test_plain_html_page_is_not_smuggling() -> None:
    found = finding_ids(file_report("doc.html", fx.html_smuggling(False)))
    assert "att.html" in found and "att.html_smuggling" not in found


def test_encrypted_zip_opened_with_password_from_body() -> None:
    v = judge(
        fx.mail(
            "Invoice attached. The password is: Secret123",
            {"invoice.zip": fx.encrypted_zip("Secret123")},
        )
    )
    assert {"att.encrypted_archive", "att.password_in_body", "att.script"} <= ids(v)
    zipped = v.attachments[0]
    assert [c.name for c in zipped.children] == ["invoice.js"] and zipped.children[0].size > 0


def test_encrypted_zip_without_password_is_reported_unopened() -> None:
    v = judge(fx.mail("Invoice attached.", {"invoice.zip": fx.encrypted_zip("Secret123")}))
    assert "att.encrypted_archive" in ids(v) and "att.password_in_body" not in ids(v)
    assert v.attachments[0].children[0].size == 0  # name kept, content not readable


def test_double_extension_and_rlo_names() -> None:
    v = judge(
        fx.mail(attachments={"invoice.pdf.exe": b"MZ" + b"\0" * 64, "photo\u202egpj.scr": b"x"})
    )
    assert {"att.double_extension", "att.rlo", "att.executable"} <= ids(v)


def test_ordinary_attachment_names_are_not_disguised() -> None:
    v = judge(fx.mail(attachments={"report.final.pdf": b"%PDF-1.4\n%%EOF", "notes.txt": b"hello"}))
    assert not {"att.double_extension", "att.rlo", "att.executable"} & ids(v)
