"""Posture's case reads and controls on real recorded data: OTRF's LSASS campaign (one
Windows host with Sysmon, Security with WFP 5156, System, and a Zeek capture of the same run;
the Meterpreter callback goes to 10.0.5.13:8080) and a Security log clearing from
evtx-attack-samples. See ../shared/data/otrf/README.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from spearhunt.correlate.config import CorrelateOptions, load_allowlist
from spearhunt.ingest.posture.zones import read_zones
from spearhunt.model.posture import CaseView
from spearhunt.pipeline.case import CaseInputs, CaseOptions, build_case
from spearhunt.posture import coverage, segmentation
from spearhunt.store.posture import read_case
from tests.conftest import shared_data

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> CaseView:
    otrf = shared_data("otrf", "datasets", "compound", "LSASS_campaign_01")
    cleared = shared_data(
        "evtx-attack-samples", "Defense Evasion", "DE_1102_security_log_cleared.evtx"
    )
    store = tmp_path_factory.mktemp("real") / "case.duckdb"
    build_case(
        CaseInputs.sniff([str(otrf), str(cleared)]),
        store,
        CaseOptions(CorrelateOptions(allowlist=load_allowlist(None))),
    )
    return read_case(store)


def test_flows_come_from_all_three_sensors(view: CaseView) -> None:
    assert {f.seen_by for f in view.flows} == {"zeek", "sysmon", "wfp"}
    callback = [f for f in view.flows if f.dst_ip == "10.0.5.13" and f.port == 8080]
    assert {f.seen_by for f in callback} == {"zeek", "sysmon", "wfp"}
    assert all(f.src_ip == "192.168.1.41" for f in callback)
    # one connection set, counted once across sensors
    merged = segmentation.merge_sensors(callback)
    assert len(merged) == 1 and merged[0].count == max(f.count for f in callback)


def test_segmentation_finds_the_callback_no_allow_line_permits(
    view: CaseView, tmp_path: Path
) -> None:
    zones = tmp_path / "zones.yml"
    zones.write_text(
        "zones:\n  clients: [192.168.1.0/24]\n  dc: [192.168.1.4/32]\n  internet: [0.0.0.0/0]\n"
        "allow:\n  - {from: clients, to: dc, ports: [53, 88, 135, 389, 445, 464, 3268, 49152-65535]}\n"
        "  - {from: clients, to: internet, ports: [53, 80, 443]}\n"
    )
    c = segmentation.assess(view.flows, read_zones(zones), [])
    titles = [f.title for f in c.findings if f.kind == "flow_not_allowed"]
    assert any(t.startswith("clients -> internet on port 8080") for t in titles), titles
    assert not any("clients -> dc on port 88" in t for t in titles)  # Kerberos is allowed
    assert c.status in ("partial", "fail")


def test_coverage_reads_sources_and_the_cleared_log(view: CaseView) -> None:
    hosts = {h.host: coverage.sources_of(h) for h in view.hosts}
    assert hosts["mkt01"]["sysmon"] and hosts["mkt01"]["powershell_4104"]
    assert any(e.event_id == 1102 and e.host == "pc01" for e in view.tamper)
    c, _ = coverage.assess(view.hosts, view.tamper, [], [])
    cleared = [f for f in c.findings if f.kind == "log_cleared"]
    assert {f.host for f in cleared} >= {"pc01"} and c.status == "fail"
    assert "pedro.gustavo" in view.privileged
