"""The mail table output defangs indicators (URLs, addresses, IPs, host names) and nothing else:
rule ids, YARA rule names and attachment names stay as they are."""

from __future__ import annotations

import re

import pytest

from spearhunt.cli.main import run
from spearhunt.report.mail import defang_text
from tests.conftest import shared_data


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("see http://evil.example.com/a.php", "see hxxp://evil[.]example[.]com/a[.]php"),
        ("from bob@evil.example", "from bob[@]evil[.]example"),
        ("beacon to 198.51.100.7", "beacon to 198[.]51[.]100[.]7"),
        ("link to login.micros0ft-online.com", "link to login[.]micros0ft-online[.]com"),
        # not indicators: as they are
        ("sender: hdr.freemail_sender, hdr.freemail_org_name", None),
        ("YARA Suspicious_Macro.Office matched", None),
        ("invoice.docm opened C:\\Users\\a\\evil.exe", None),
        ("technique T1566.001", None),
    ],
)
def test_only_indicators_are_defanged(text, shown):
    assert defang_text(text) == (shown or text)


def test_a_file_name_that_is_also_a_host_name_stays_a_file_name():
    assert defang_text("archive.zip", hosts=False) == "archive.zip"
    assert defang_text("archive.zip") == "archive[.]zip"  # in free text it may be the host


@pytest.mark.shared_data
def test_real_phish_text_keeps_rule_ids_and_names_and_defangs_links(capsys):
    phish = shared_data("mail", "phish")
    assert run(["mail", str(phish), "-f", "table"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"\bhdr\.\w+", text), "rule ids are shown as they are"
    assert "hdr[.]" not in text and "auth[.]" not in text and "body[.]" not in text
    attachments = re.findall(r"^\s+\*\s+(\S.*?) \(\w+, \d+ B\)", text, re.M)
    # a name shaped like an address or a URL is defanged as one; other names never are
    assert attachments
    assert not any("[.]" in a for a in attachments if "[@]" not in a and "://" not in a)
    assert "hxxp" in text and not re.search(r"\bhttps?://", text)  # links: never clickable
