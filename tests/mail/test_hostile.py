"""Hostile input: every reader entry point answers with a verdict or a per-file failure, in time."""

from __future__ import annotations

import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spearhunt.ingest.mail import DEFAULT_LIMITS, Limits, read_bytes
from spearhunt.model.mail import MailFailure
from tests.mail.helpers import ANALYZER, file_report, finding_ids, fx, ids, judge


def _all(data: bytes, limits: Limits = DEFAULT_LIMITS) -> list:
    return [
        item if isinstance(item, MailFailure) else ANALYZER.analyze(item)
        for item in read_bytes(data, "fuzz.eml", limits)
    ]


def test_zip_bomb_is_reported_not_expanded() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.bin", b"\0" * 60_000_000)
    rep = file_report("bomb.zip", buf.getvalue())
    assert "att.archive_bomb" in finding_ids(rep) and rep.children == ()


def test_small_zip_is_not_a_bomb() -> None:
    rep = file_report("ok.zip", fx.zip_of({"a.txt": b"hello"}))
    assert "att.archive_bomb" not in finding_ids(rep) and len(rep.children) == 1


def test_recursive_archive_stops_at_depth() -> None:
    data = b"core"
    for i in range(12):
        data = fx.zip_of({f"layer{i}.zip": data})
    rep = file_report("nest.zip", data)
    assert max(p.depth for p in rep.walk()) <= DEFAULT_LIMITS.max_depth


def test_ten_thousand_parts_are_capped_with_a_warning() -> None:
    parts = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(10_000))
    data = f"From: a@example.net\r\nSubject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n{parts}--b--\r\n"
    v = judge(data.encode())
    assert any("MIME parts" in w for w in v.warnings)


def test_huge_header_is_truncated() -> None:
    data = b"From: a@example.net\r\nSubject: " + b"A" * 2_000_000 + b"\r\n\r\nbody\r\n"
    v = judge(data)
    assert len(v.subject) <= DEFAULT_LIMITS.max_header_chars


def test_wrong_charset_is_decoded_leniently() -> None:
    data = b"From: a@example.net\r\nSubject: =?x-no-such-charset?B?aGVsbG8=?=\r\nContent-Type: text/plain; charset=bogus\r\n\r\n\xff\xfe caf\xe9\r\n"
    v = judge(data)
    assert v.subject and v.verdict in ("clean", "suspicious", "malicious")


def test_garbage_is_a_per_file_failure() -> None:
    out = _all(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    assert len(out) == 1 and isinstance(out[0], MailFailure)


def test_malformed_mime_still_gives_a_verdict() -> None:
    data = b'From: a@example.net\r\nContent-Type: multipart/mixed; boundary="x\r\n\r\n--x\r\nbroken'
    out = _all(data)
    assert len(out) == 1 and not isinstance(out[0], MailFailure)
    assert "hdr.no_message_id" in ids(out[0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_fuzz_bytes_never_crash(data: bytes) -> None:
    for item in _all(data):
        assert isinstance(item, MailFailure) or item.verdict in ("clean", "suspicious", "malicious")


_HEADER = st.sampled_from(
    [
        "From",
        "To",
        "Subject",
        "Reply-To",
        "Content-Type",
        "Authentication-Results",
        "Received",
        "Content-Transfer-Encoding",
        "Content-Disposition",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_HEADER, st.text(max_size=200)), max_size=12), st.text(max_size=500))
def test_fuzz_structured_mail_never_crashes(headers: list[tuple[str, str]], body: str) -> None:
    lines = "".join(f"{k}: {v.replace(chr(13), ' ').replace(chr(10), ' ')}\r\n" for k, v in headers)
    data = (lines + "\r\n" + body).encode("utf-8", "surrogatepass")
    for item in _all(data, Limits(max_parts=50)):
        assert isinstance(item, MailFailure) or item.score >= 0
