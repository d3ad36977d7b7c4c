"""Readers of the posture inputs on real-shaped samples (tests/fixtures/posture, README there)
and on hostile ones: every bad record is a warning with its place, never a traceback."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from spearhunt.errors import IngestError
from spearhunt.ingest.posture import common
from spearhunt.ingest.posture.inventory import read_inventory
from spearhunt.ingest.posture.signins import read_signins
from spearhunt.ingest.posture.trace import read_traces
from spearhunt.ingest.posture.vulns import read_cve_records, read_kev
from spearhunt.ingest.posture.zones import read_zones
from spearhunt.model import IngestWarning
from tests.conftest import FIXTURES

HERE = FIXTURES / "posture"


def _read(fn, *paths: Path, **kw):  # type: ignore[no-untyped-def]
    warnings: list[IngestWarning] = []
    rows = list(fn([*paths], warnings.append, **kw))
    return rows, warnings


def test_graph_signins_keep_factors_legacy_and_failures() -> None:
    rows, warnings = _read(read_signins, HERE / "entra-graph-signins.json")
    by = {(r.account, r.ip): r for r in rows}
    assert len(rows) == 4
    assert by[("avery.stone@contoso.example", "203.0.113.10")].factors == "multi"
    imap = by[("blake.reyes@contoso.example", "198.51.100.23")]  # UPN lowercased
    assert imap.legacy and imap.factors == "single" and imap.success
    failed = by[("avery.stone@contoso.example", "192.0.2.66")]
    assert not failed.success
    assert failed.time == datetime(2024, 5, 2, 9, 20)
    # no UPN, a status that is not an object, a value that is not an object: three warnings
    assert len(warnings) == 3
    assert all(w.record is not None for w in warnings)


def test_portal_csv_signins() -> None:
    rows, warnings = _read(read_signins, HERE / "entra-portal-signins.csv")
    assert [(r.account, r.success, r.factors, r.legacy) for r in rows] == [
        ("avery.stone@contoso.example", True, "multi", False),
        ("blake.reyes@contoso.example", True, "single", True),  # Exchange ActiveSync
        ("casey.morgan@contoso.example", False, "single", False),
    ]
    assert [w.line for w in warnings] == [5]  # the row without a Username


def test_okta_session_has_mfa_only_when_its_session_verified_a_factor() -> None:
    rows, warnings = _read(read_signins, HERE / "okta-system-log.json")
    assert [(r.account, r.factors, r.success, r.provider) for r in rows] == [
        ("avery.stone@contoso.example", "multi", True, "okta"),
        ("blake.reyes@contoso.example", "single", True, "okta"),
        ("casey.morgan@contoso.example", "single", False, "okta"),
    ]
    assert len(warnings) == 1 and "actor.alternateId" in warnings[0].message


def test_osquery_results_log_and_osqueryi_json_and_csv_inventories() -> None:
    rows, warnings = _read(read_inventory, HERE / "osqueryd.results.log")
    assert {(r.host, r.name, r.version) for r in rows} == {
        ("ws-101", "Microsoft Office Professional Plus 2016 - en-us", "16.0.4266.1001"),
        ("ws-101", "7-Zip 23.01 (x64)", "23.01"),
        ("srv-02", "Microsoft Windows Server 2019 Standard", "10.0.17763"),
    }
    assert next(r for r in rows if r.host == "srv-02").vendor == "Microsoft"
    # no hostIdentifier, no version, a cut JSON line
    assert sorted(w.line or 0 for w in warnings) == [5, 6, 7]
    rows, warnings = _read(read_inventory, HERE / "ws-101.json")
    assert {r.host for r in rows} == {"ws-101"} and len(rows) == 2 and len(warnings) == 2
    rows, warnings = _read(read_inventory, HERE / "inventory.csv")
    assert [(r.host, r.version) for r in rows] == [
        ("ws-201", "16.0.4266.1001"),
        ("ws-202", "16.0.5431.1000"),
        ("srv-03", "23.01"),
    ]
    assert [w.line for w in warnings] == [5, 6]


def test_exchange_traces_both_layouts_and_the_type_line() -> None:
    rows, warnings = _read(read_traces, HERE / "exchange-trace.csv")
    assert [(r.recipient, r.status) for r in rows][:4] == [
        ("avery.stone@contoso.example", "Delivered"),
        ("blake.reyes@contoso.example", "Delivered"),
        ("casey.morgan@contoso.example", "FilteredAsSpam"),
        ("phishing@contoso.example", "Delivered"),
    ]
    assert rows[0].time == datetime(2024, 5, 2, 7, 55, 1)
    assert rows[0].message_id == "<lure-1@partner-mail.example>" and rows[0].size == 48211
    assert len(warnings) == 1 and warnings[0].line == 7  # "not a date"
    rows, warnings = _read(read_traces, HERE / "exchange-historical.csv")
    assert [r.recipient for r in rows] == [
        "avery.stone@contoso.example",
        "dana.kim@contoso.example",
    ]
    assert rows[0].subject == "RFQ HX-40: subcontract terms" and not warnings


def test_postfix_and_sendmail_maillogs() -> None:
    rows, warnings = _read(read_traces, HERE / "postfix.maillog")
    assert [(r.sender, r.recipient, r.status, r.subject) for r in rows] == [
        (
            "j.doe@partner-mail.example",
            "avery.stone@contoso.example",
            "sent",
            "RFQ HX-40: subcontract terms",
        ),
        (
            "j.doe@partner-mail.example",
            "blake.reyes@contoso.example",
            "sent",
            "RFQ HX-40: subcontract terms",
        ),
    ]
    assert rows[0].message_id == "lure-1@partner-mail.example" and rows[0].size == 48211
    assert not warnings
    rows, warnings = _read(read_traces, HERE / "sendmail.maillog", year=2024)
    assert [(r.recipient, r.status, r.time) for r in rows] == [
        ("casey.morgan@contoso.example", "Sent", datetime(2024, 5, 2, 7, 55, 2))
    ]


def test_kev_and_cve_records() -> None:
    warnings: list[IngestWarning] = []
    ranges = list(read_cve_records([HERE / "CVE-2017-11882.json"], warnings.append))
    assert [(r.cve, r.version, r.less_than) for r in ranges][:2] == [
        ("CVE-2017-11882", "16.0.0", "16.0.4549.1000"),
        ("CVE-2017-11882", "15.0.0", "15.0.4981.1000"),
    ]
    assert not warnings


def test_zones_file() -> None:
    policy = read_zones(HERE / "zones.yml")
    assert policy.zone_of("10.10.10.7") == "workstations"
    assert policy.zone_of("10.10.1.20") == "servers"
    assert policy.zone_of("8.8.8.8") == "internet"  # the 0.0.0.0/0 catch-all
    assert policy.allows("workstations", "servers", 445) is not None
    assert policy.allows("workstations", "servers", 3389) is None
    assert policy.allows("workstations", "internet", 8080) is not None  # a port range
    assert policy.allows("servers", "servers", 3389) is not None  # inside one zone


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("zones: [a, b]", "zones:"),
        ("zones: {a: [10.0.0.0/33]}", "not an address range"),
        ("zones: {a: [10.0.0.0/8]}\nallow: [{from: a, to: b}]", "no zone named 'b'"),
        ("zones: {a: [10.0.0.0/8]}\nallow: [{from: a, to: a, ports: [http]}]", "not a number"),
        ("zones: {a: [10.0.0.0/8]}\nallow: [{from: a, to: a, ports: [70000]}]", "out of range"),
        ("zones: {a: [10.0.0.0/8]\n", "invalid YAML"),
        ("!!python/object/apply:os.system [echo]", "invalid YAML"),
    ],
)
def test_bad_zones_files_name_the_mistake(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "zones.yml"
    path.write_text(text)
    with pytest.raises(IngestError, match=message):
        read_zones(path)


def test_hostile_inputs_are_warnings_not_tracebacks(tmp_path: Path) -> None:
    odd = {
        "wrong-types.json": '{"value": [{"userPrincipalName": ["x"], "status": {"errorCode": [0]}}, '
        '{"userPrincipalName": "a@b.example", "status": {"errorCode": true}, "createdDateTime": 5e300}]}',
        "not-json.json": "{" * 100_000,
        "binary.csv": "\x00\x01\x02garbage",
        "utf16.csv": "",
    }
    for name, text in odd.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "utf16.csv").write_bytes(
        "Username,Status,Date (UTC)\r\nx@y.example,Success,2024-05-02T08:00:00Z\r\n".encode(
            "utf-16"
        )
    )
    rows, warnings = _read(read_signins, tmp_path)
    assert [r.account for r in rows] == ["x@y.example"]  # the UTF-16 export (Windows PowerShell)
    assert {Path(w.source).name for w in warnings} >= {
        "wrong-types.json",
        "not-json.json",
        "binary.csv",
    }
    rows, warnings = _read(read_inventory, tmp_path)
    assert rows == [] and warnings
    rows, warnings = _read(read_traces, tmp_path)
    assert warnings
    with pytest.raises(IngestError, match="not a KEV catalog"):
        read_kev(tmp_path / "wrong-types.json", lambda w: None)


def test_huge_files_are_refused_with_a_clear_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "MAX_FILE", 1000)
    big = tmp_path / "big.csv"
    big.write_text("host,vendor,product,version\n" + "ws-1,V,P,1.0\n" * 200)
    rows, warnings = _read(read_inventory, big)
    assert rows == [] and "larger than" in warnings[0].message
    long_cell = tmp_path / "cell.csv"
    monkeypatch.setattr(common, "MAX_FILE", 10_000_000)
    long_cell.write_text(
        "host,vendor,product,version\nws-1,V," + "P" * 100_000 + ",1.0\nws-2,V,P,2.0\n"
    )
    rows, warnings = _read(read_inventory, long_cell)
    assert [r.host for r in rows] == ["ws-2"] and warnings[0].line == 2


@pytest.mark.shared_data
def test_real_kev_catalog() -> None:
    from tests.conftest import shared_data

    warnings: list[IngestWarning] = []
    kev = read_kev(shared_data("kev", "known_exploited_vulnerabilities.json"), warnings.append)
    assert len(kev) == 1404 and not warnings
    eq = next(k for k in kev if k.cve == "CVE-2017-11882")
    assert (eq.vendor, eq.product, eq.due) == ("Microsoft", "Office", date(2022, 5, 3))
    assert sum(k.ransomware for k in kev) > 100


def test_kev_excerpt_in_cisa_format() -> None:
    warnings: list[IngestWarning] = []
    kev = read_kev(HERE / "kev-excerpt.json", warnings.append)
    assert {k.cve for k in kev} == {"CVE-2017-11882", "CVE-2023-23397"} and not warnings
    assert all(k.due and k.date_added and k.due > k.date_added for k in kev)
