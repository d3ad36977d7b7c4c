"""The controls as pure functions over plain values: a positive and a negative case each."""

from __future__ import annotations

import dataclasses
import ipaddress
from datetime import date, datetime

import pytest

from spearhunt.ingest.posture.inventory import read_inventory
from spearhunt.ingest.posture.vulns import read_cve_records, read_kev
from spearhunt.model.posture import (
    Allow,
    CaseMail,
    Flow,
    HostEvent,
    HostSources,
    KevEntry,
    RemoteLogon,
    SignIn,
    Software,
    TraceRow,
    VersionRange,
    ZonePolicy,
)
from spearhunt.model.story import Beacon, HostReach, PatientZero, Story
from spearhunt.posture import coverage, mfa, patching, phishing, segmentation
from spearhunt.posture.coverage import RuleReach
from spearhunt.posture.identity import is_admin_name, same_person
from tests.conftest import FIXTURES, shared_data

T0 = datetime(2024, 5, 2, 8, 0)


def _story(hosts: tuple[HostReach, ...] = (), users: tuple[str, ...] = ("a.stone",)) -> Story:
    return Story(
        id="S-1",
        score=100.0,
        score_parts=(),
        patient_zero=PatientZero("ws-1", "a.stone", message_id="<lure>"),
        hosts=(HostReach("ws-1", None, None, T0), *hosts),
        exfiltration=(),
        stages=(),
        techniques=("T1566.001",),
        evidence=(),
        users=users,
    )


def test_identity_folds_upn_sam_and_admin_accounts() -> None:
    assert same_person("Avery.Stone@contoso.example", "CORP\\a.stone")
    assert same_person("adm.a.stone", "a.stone@contoso.example")
    assert not same_person("avery.stone@contoso.example", "b.stone")
    assert is_admin_name("adm.a.stone") and not is_admin_name("a.stone")


LURE = CaseMail(
    "<lure>",
    "RFQ HX-40",
    "j.doe@partner.example",
    ("avery.stone@contoso.example",),
    "malicious",
    T0,
)


def test_phishing_opened_and_never_reported_is_a_finding() -> None:
    traces = [
        TraceRow(T0, "j.doe@partner.example", "avery.stone@contoso.example", "RFQ HX-40"),
        TraceRow(T0, "j.doe@partner.example", "blake.reyes@contoso.example", "RFQ HX-40"),
        TraceRow(
            T0.replace(minute=30),
            "blake.reyes@contoso.example",
            "phishing@contoso.example",
            "FW: RFQ HX-40",
        ),
    ]
    opened = [
        HostEvent(T0.replace(minute=5), "ws-1", "Sysmon", 11, "rfq.docx", user="corp\\a.stone")
    ]
    c = phishing.assess([LURE], traces, opened, [_story()])
    assert c.status == "fail"
    kinds = {f.kind: f for f in c.findings}
    assert kinds["opened_not_reported"].account == "avery.stone@contoso.example"
    assert kinds["opened_not_reported"].stories == ("S-1",)
    assert dict(c.figures)["report_rate"] == "0.50"
    assert dict(c.figures)["median_minutes_to_report"] == "30"


def test_phishing_reported_before_anyone_opened_passes() -> None:
    traces = [
        TraceRow(T0, "j.doe@partner.example", "avery.stone@contoso.example", "RFQ HX-40"),
        TraceRow(
            T0.replace(minute=3),
            "avery.stone@contoso.example",
            "report-phishing@contoso.example",
            "[EXT] Fw: RFQ HX-40",
        ),
    ]
    c = phishing.assess([LURE], traces, [], [])
    assert c.status == "pass" and not any(f.kind.startswith("opened") for f in c.findings)


def test_phishing_without_campaign_mail_is_unknown() -> None:
    clean = CaseMail("<x>", "Lunch", "a@contoso.example", ("b@contoso.example",), "clean")
    c = phishing.assess([clean], [], [], [])
    assert c.status == "unknown" and "spearhunt mail" in c.summary


def _signin(
    account: str,
    factors: str,
    ip: str = "203.0.113.10",
    client: str = "Browser",
    legacy: bool = False,
) -> SignIn:
    return SignIn(T0, account, ip, True, factors, "Exchange", client, legacy, "entra")


def test_mfa_single_factor_from_a_story_address_is_critical() -> None:
    beacon = Beacon("ws-1", "c2.example", "192.0.2.66", 0.9, 10, 60.0, T0, T0)
    story = dataclasses.replace(_story(), beacons=(beacon,))
    rows = [
        _signin("avery.stone@contoso.example", "multi"),
        _signin("avery.stone@contoso.example", "single", ip="192.0.2.66"),
    ]
    c = mfa.assess(rows, [], frozenset(), [story])
    assert c.status == "fail"
    f = next(f for f in c.findings if f.kind == "story_signin")
    assert f.severity == "critical" and f.stories == ("S-1",)


def test_mfa_everyone_with_mfa_passes_and_legacy_does_not() -> None:
    good = [_signin("a@contoso.example", "multi"), _signin("b@contoso.example", "multi")]
    assert mfa.assess(good, [], frozenset(), []).status == "pass"
    bad = [*good, _signin("c@contoso.example", "single", client="IMAP4", legacy=True)]
    c = mfa.assess(bad, [], frozenset(), [])
    assert c.status == "partial" and {f.kind for f in c.findings} == {
        "single_factor",
        "legacy_protocol",
    }
    assert mfa.assess(None, [], frozenset(), []).status == "unknown"


def test_mfa_admin_rdp_without_own_mfa_sign_in_is_a_finding() -> None:
    rows = [_signin("avery.stone@contoso.example", "multi")]  # the person's everyday account
    logons = [RemoteLogon(T0, "fs-1", "adm.a.stone", "rdp", "10.0.0.5")]
    story = _story((HostReach("fs-1", "ws-1", "T1021.001", T0, account="adm.a.stone"),))
    c = mfa.assess(rows, logons, frozenset({"adm.a.stone"}), [story])
    f = next(f for f in c.findings if f.kind == "remote_logon_no_mfa")
    assert f.account == "adm.a.stone" and f.stories == ("S-1",)
    ok = [*rows, _signin("adm.a.stone@contoso.example", "multi")]
    assert not any(
        f.kind == "remote_logon_no_mfa"
        for f in mfa.assess(ok, logons, frozenset(), [story]).findings
    )


POLICY = ZonePolicy(
    (
        ("ws", (ipaddress.ip_network("10.0.20.0/24"),)),
        ("srv", (ipaddress.ip_network("10.0.1.0/24"),)),
    ),
    (Allow("ws", "srv", frozenset({445})),),
    source="zones.yml",
)


def test_segmentation_flow_no_allow_line_permits_is_found_and_tied_to_the_story() -> None:
    flows = [
        Flow("10.0.20.5", "10.0.1.9", 3389, "tcp", 3, T0, "ws-1", "fs-1", "zeek"),
        Flow("10.0.20.5", "10.0.1.9", 445, "tcp", 50, T0, "ws-1", "fs-1", "zeek"),
        Flow("10.0.1.9", "10.0.20.5", 53, "udp", 1, T0, "fs-1", "ws-1", "zeek"),
    ]
    story = _story((HostReach("fs-1", "ws-1", "T1021.001", T0, account="adm.a.stone"),))
    c = segmentation.assess(flows, POLICY, [story])
    kinds = {f.kind: f for f in c.findings}
    blocked = [f.title for f in c.findings if f.kind == "flow_not_allowed"]
    assert blocked[0].startswith("ws -> srv on port 3389 (RDP)")  # the story's flow first
    assert any(t.startswith("srv -> ws on port 53") for t in blocked)
    assert kinds["story_move_blocked"].stories == ("S-1",)
    assert c.status == "fail"
    assert segmentation.assess(flows[1:2], POLICY, []).status == "pass"
    assert segmentation.assess([], POLICY, []).status == "unknown"


def test_segmentation_default_policy_flags_admin_protocols_between_workstations() -> None:
    flows = [Flow("10.0.20.5", "10.0.20.6", 445, "tcp", 2, T0, "ws-001", "ws-002", "sysmon")]
    c = segmentation.assess(flows, None, [])
    assert c.status == "fail" and "default policy" in c.summary
    web = [Flow("10.0.20.5", "10.0.1.9", 443, "tcp", 2, T0, "ws-001", "srv-01", "sysmon")]
    assert segmentation.assess(web, None, []).status == "pass"


def test_version_ranges() -> None:
    r = VersionRange("CVE-1", "Microsoft", "Office", "16.0.0", less_than="16.0.4549.1000")
    assert patching.in_range("16.0.4266.1001", r) is True
    assert patching.in_range("16.0.5422.1000", r) is False
    assert patching.in_range("15.0.1", r) is False
    assert patching.in_range("latest", r) is None
    url = VersionRange(
        "CVE-1", "Microsoft", "Office", "16.0.1", less_than="https://aka.ms/OfficeSecurityReleases"
    )
    assert patching.in_range("16.0.4266.1001", url) is None  # what real Microsoft records say


def test_running_equation_editor_is_evidence_an_inventory_misses() -> None:
    kev = [KevEntry("CVE-2017-11882", "Microsoft", "Office", due=date(2022, 5, 3))]
    ran = [
        HostEvent(
            T0,
            "ws-1",
            "Sysmon",
            1,
            "C:\\Program Files\\Common Files\\Microsoft Shared\\EQUATION\\EQNEDT32.EXE",
            "2017.8.14.0",
        )
    ]
    c = patching.assess([], kev, [], ran, [_story()], date(2024, 5, 2))
    f = c.findings[0]
    assert f.kind == "exploitable_component_running" and f.host == "ws-1" and f.stories == ("S-1",)
    assert "2017.8.14.0" in f.title and c.status == "fail"
    assert not patching.assess([], kev, [], [], [], date(2024, 5, 2)).findings


@pytest.mark.shared_data
def test_kev_matching_on_the_real_catalog() -> None:
    """The real KEV snapshot with an osquery inventory: the old Office build is affected by
    CVE-2017-11882 (per the CVE record's range), the newer one is not; other Office KEV
    entries without a range are reported as not verified, never as vulnerable."""
    warn: list[object] = []
    kev = read_kev(shared_data("kev", "known_exploited_vulnerabilities.json"), warn.append)
    ranges = list(read_cve_records([FIXTURES / "posture" / "CVE-2017-11882.json"], warn.append))
    software = list(
        read_inventory(
            [FIXTURES / "posture" / "osqueryd.results.log", FIXTURES / "posture" / "ws-101.json"],
            lambda w: None,
        )
    )
    c = patching.assess(software, kev, ranges, [], [], date(2024, 5, 2))
    vulnerable = [f for f in c.findings if f.kind == "kev_overdue"]
    assert [
        (f.host, "CVE-2017-11882" in f.title, "16.0.4266.1001" in f.title) for f in vulnerable
    ] == [("ws-101", True, True)]
    assert "days past the KEV due date" in vulnerable[0].title
    unverified = [f for f in c.findings if f.kind == "kev_unverified"]
    assert {f.host for f in unverified} == {"ws-101", "srv-02"}  # Office and Windows entries
    assert all("CVE-2017-11882" not in f.evidence for f in unverified if "5422" in f.title)
    assert c.status == "fail" and not warn


def test_coverage_host_without_sysmon_and_blind_story_steps() -> None:
    sysmon = "Microsoft-Windows-Sysmon/Operational"
    hours = tuple(T0.replace(hour=h) for h in range(8, 18))
    hosts = [
        HostSources("ws-1", ((sysmon, 1, 100), (sysmon, 3, 40), ("Security", 4624, 5)), hours),
        HostSources("ws-2", ((sysmon, 1, 90), ("Security", 4624, 5)), hours),
        HostSources("fs-1", (("Security", 4624, 50),), hours),
    ]
    rules = [
        RuleReach("r1", "proc", ("T1059",), ((frozenset({sysmon.lower()}), frozenset({1})),)),
        RuleReach("r2", "logon", ("T1078",), ((frozenset({"security"}), frozenset({4624})),)),
    ]
    story = _story((HostReach("fs-1", "ws-1", "T1021.001", T0),))
    c, layer = coverage.assess(hosts, [], rules, [story])
    kinds = {f.kind: f for f in c.findings}
    assert kinds["missing_sysmon"].host == "fs-1" and kinds["missing_sysmon"].severity == "critical"
    assert "T1059" in kinds["story_blind_spot"].title
    assert {t: n for t, n, _ in layer} == {"T1059": 1, "T1078": 1}
    full = [hosts[0], hosts[1]]
    assert coverage.assess(full, [], rules, [])[0].status == "pass"


def test_coverage_log_clearing_fails_the_control() -> None:
    hosts = [HostSources("ws-1", (("Security", 4624, 5),))]
    cleared = [HostEvent(T0, "ws-1", "Security", 1102, "", user="adm.a.stone")]
    c, _ = coverage.assess(hosts, cleared, [], [])
    assert c.status == "fail" and c.findings[0].kind == "log_cleared"


def test_software_matching_needs_vendor_and_every_product_word() -> None:
    office = Software(
        "ws-1", "Microsoft Office Professional Plus 2016", "16.0.1", "Microsoft Corporation"
    )
    assert patching.product_matches("Microsoft", "Office", office)
    assert not patching.product_matches("Microsoft", "Windows", office)
    assert not patching.product_matches("Apache", "Office", office)


def test_mfa_story_account_from_a_new_address_without_mfa_is_a_finding() -> None:
    rows = [
        _signin("avery.stone@contoso.example", "multi", ip="203.0.113.10"),
        _signin("avery.stone@contoso.example", "single", ip="198.51.100.99"),
    ]
    c = mfa.assess(rows, [], frozenset(), [_story()])
    f = next(f for f in c.findings if f.kind == "story_account_signin")
    assert "198.51.100.99" in f.title and f.stories == ("S-1",)
    same_place = [_signin("b@contoso.example", "multi"), _signin("b@contoso.example", "single")]
    story_b = dataclasses.replace(_story(), users=("b",))
    assert not any(
        f.kind == "story_account_signin"
        for f in mfa.assess(same_place, [], frozenset(), [story_b]).findings
    )


def test_mfa_everyday_account_is_not_privileged_because_its_owner_has_an_admin_account() -> None:
    rows = [_signin("avery.stone@contoso.example", "single")]
    c = mfa.assess(rows, [], frozenset({"adm.a.stone"}), [])
    assert [f.kind for f in c.findings] == ["single_factor"]
    c = mfa.assess(rows, [], frozenset({"avery.stone"}), [])  # a 4672 logon of that very account
    assert [f.kind for f in c.findings] == ["privileged_no_mfa"]


def test_default_policy_takes_host_roles_from_the_assets_file() -> None:
    flows = [Flow("10.0.20.5", "10.0.20.6", 445, "tcp", 2, T0, "alpha", "beta", "sysmon")]
    assert segmentation.assess(flows, None, []).status == "pass"  # names say nothing
    roles = {"alpha": "engineering workstation", "beta": "Workstation"}
    c = segmentation.assess(flows, None, [], roles)
    assert c.status == "fail" and "host roles and names" in c.summary
    assert c.findings[0].title.startswith("workstations -> workstations on port 445 (SMB)")


def test_a_move_is_judged_only_by_its_own_segmentation_finding() -> None:
    from spearhunt.model.posture import ControlResult, Finding
    from spearhunt.posture.steps import story_steps

    move = HostReach("dc-1", "ws-2", "T1021.002", T0, account="adm.b.rowe")
    story = _story((move,))
    unrelated = Finding(
        "critical",
        "srv -> internet on port 80: 19 connections that no allow line permits",
        evidence=("fs-1 -> 203.0.113.9",),
        stories=("S-1",),
        kind="flow_not_allowed",
    )
    seg = ControlResult("segmentation", "fail", 20, "", findings=(unrelated,))
    rows = [v for v in story_steps([story], [seg], []) if v.control == "segmentation"]
    assert rows == []  # before: "would have stopped (if enforced: srv -> internet on port 80 ...)"
    own = Finding(
        "critical",
        "the move ws-2 -> dc-1 over SMB crossed from ws to srv, which no allow line permits",
        host="dc-1",
        stories=("S-1",),
        kind="story_move_blocked",
    )
    seg = ControlResult("segmentation", "fail", 20, "", findings=(unrelated, own))
    rows = [v for v in story_steps([story], [seg], []) if v.control == "segmentation"]
    assert [(r.verdict, r.why) for r in rows] == [
        ("would have stopped", f"if enforced: {own.title}")
    ]
