"""Well-known shared cloud/CDN hosts are context, not indicators, in the report and the STIX
bundle (#15): a consumer that blocks s3.<region>.amazonaws.com breaks S3 for everyone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from spearhunt.model.story import CorrelationResult, ExfilFlow, PatientZero, Story
from spearhunt.report import html, stix
from spearhunt.report.document import load
from spearhunt.report.shared_infra import is_shared
from spearhunt.store import results
from spearhunt.store.case import CaseStore, open_case

T0 = dt.datetime(2026, 3, 2, 9)


def _case(tmp_path: Path, rule_title: str | None = None) -> Path:
    store = tmp_path / "case.duckdb"
    run = CaseStore(store, "test")
    if rule_title:  # a rule of the case that names the host
        run.con.execute(
            "INSERT INTO rules VALUES (?, ?, 'high', [], 'r.yml', '', true)", ["r1", rule_title]
        )
    run.finish(0, 0)
    run.close()
    flows = tuple(
        ExfilFlow("ws1", dest, 50_000_000, T0, T0, ip="198.51.100.9", domain=dest)
        for dest in ("s3.eu-west-1.amazonaws.com", "upload.cloud-sync-backup.example.net")
    )
    story = Story(
        "S-1", 50.0, (), PatientZero("ws1", first_seen=T0), (), flows, (), (), (), title="exfil"
    )
    with open_case(store, write=True) as case:
        results.save(case, CorrelationResult(stories=(story,)), T0, "test")
        case.checkpoint()
    return store


@pytest.mark.parametrize(
    ("host", "shared"),
    [
        ("s3.eu-west-1.amazonaws.com", True),
        ("s3.amazonaws.com", True),
        ("api.telegram.org", True),
        ("evil-bucket.s3.amazonaws.com", False),  # a tenant's own host: an indicator
        ("d1x2y3.cloudfront.net", False),
        ("upload.cloud-sync-backup.example.net", False),
    ],
)
def test_shared_endpoints_and_tenant_hosts(host, shared):
    assert is_shared(host) is shared


def test_shared_cloud_host_is_context_not_an_indicator(tmp_path: Path):
    doc = load(_case(tmp_path))
    domains = [i.value for i in doc.indicators if i.kind == "domain"]
    assert domains == ["upload.cloud-sync-backup.example.net"]
    assert [i.value for i in doc.shared_infrastructure] == ["s3.eu-west-1.amazonaws.com"]
    bundle = stix.bundle(doc)
    patterns = " ".join(o.get("pattern", "") for o in bundle["objects"])
    assert "cloud-sync-backup" in patterns and "amazonaws" not in patterns
    assert "s3.eu-west-1.amazonaws.com" in html.render(doc)  # still shown, as context


def test_a_rule_that_names_the_host_makes_it_an_indicator(tmp_path: Path):
    doc = load(_case(tmp_path, rule_title="Upload to s3.eu-west-1.amazonaws.com"))
    assert "s3.eu-west-1.amazonaws.com" in [i.value for i in doc.indicators]
    assert doc.shared_infrastructure == ()
