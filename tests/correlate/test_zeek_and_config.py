"""Zeek reader (TSV and JSON, hostile lines), allow-list/assets files, beacon scoring, and the
result document round trip that reports rely on."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from spearhunt.correlate.config import load_allowlist, load_assets
from spearhunt.correlate.network import beacon_score, tunnel_zone
from spearhunt.errors import UsageError
from spearhunt.ingest.sources import Kind, sniff
from spearhunt.ingest.zeek import read_zeek
from spearhunt.model.story import (
    CorrelationResult,
    ExfilFlow,
    HostReach,
    PatientZero,
    ScorePart,
    Stage,
    Story,
)

TSV = """#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring
1772410862.768516\tC1\t10.0.0.5\t50000\t192.0.2.7\t443\ttcp\tssl\t1.5\t1200\t300\tSF
1772410900.000000\tC2\t10.0.0.5\t50001\t192.0.2.7\t443\ttcp\t-\t-\tnot-a-number\t300\tSF
1772410999.000000\tC3\t10.0.0.5\t50002\t192.0.2.8\t80\ttcp\t(empty)\t-\t-\t-\tS0
"""


def test_zeek_tsv_reads_records_and_warns_on_a_bad_line(tmp_path: Path):
    f = tmp_path / "conn.log"
    f.write_text(TSV)
    assert sniff(f).kind == Kind.ZEEK_TSV
    warnings: list = []
    recs = list(read_zeek(sniff(f), warnings.append))
    assert [r.values[1] for r in recs] == ["C1", "C3"]
    assert len(warnings) == 1 and warnings[0].line == 9
    assert recs[0].values[9] == 1200 and recs[1].values[7] == "" and recs[1].values[9] is None


def test_zeek_json_reads_by_path_field_and_skips_junk(tmp_path: Path):
    f = tmp_path / "x.json"
    f.write_text(
        '{"_path":"dns","ts":1772410862.5,"uid":"D1","id.orig_h":"10.0.0.5","id.resp_h":"10.0.0.1",'
        '"query":"a.example.com","answers":["192.0.2.1"]}\n'
        "not json\n"
        '{"_path":"ssl","ts":"2026-03-02T08:00:00Z","uid":"S1","id.orig_h":"10.0.0.5",'
        '"id.resp_h":"192.0.2.1","server_name":"a.example.com"}\n'
        '{"_path":"weird","ts":1}\n'
    )
    assert sniff(f).kind == Kind.ZEEK_TSV
    warnings: list = []
    recs = list(read_zeek(sniff(f), warnings.append))
    assert [r.log for r in recs] == ["dns", "ssl"]
    assert recs[0].values[-1] == ["192.0.2.1"]
    assert recs[1].values[0] == datetime(2026, 3, 2, 8, 0)
    assert len(warnings) == 1


def test_zeek_json_with_underscore_scope_separator_and_stream_field(tmp_path: Path):
    # Zeek's scope_sep set to '_' (id_orig_h) and the log named by @stream, as OTRF ships APT29
    f = tmp_path / "combined.log"
    f.write_text(
        '{"@stream":"conn","@system":"s","ts":1588205199.8,"uid":"C1","id_orig_h":"10.0.1.6",'
        '"id_orig_p":54243,"id_resp_h":"192.168.0.5","id_resp_p":443,"proto":"tcp",'
        '"orig_bytes":39,"resp_bytes":55,"conn_state":"SF"}\n'
        '{"@stream":"dns","ts":1588205200,"uid":"D1","id_orig_h":"10.0.1.6","id_resp_h":"10.0.0.4",'
        '"query":"a.example.com","answers":["192.0.2.1"]}\n'
        '{"@stream":"kerberos","ts":1588205201,"id_orig_h":"10.0.1.6"}\n'
    )
    assert sniff(f).kind == Kind.ZEEK_TSV
    warnings: list = []
    recs = list(read_zeek(sniff(f), warnings.append))
    assert [r.log for r in recs] == ["conn", "dns"]
    assert recs[0].values[2:6] == ("10.0.1.6", 54243, "192.168.0.5", 443)
    assert recs[1].values[2] == "10.0.1.6" and recs[1].values[-1] == ["192.0.2.1"]
    assert warnings == []


def test_zeek_json_log_kind_from_the_file_name(tmp_path: Path):
    f = tmp_path / "conn.log"
    f.write_text('{"ts":1588205199.8,"uid":"C1","id_orig_h":"10.0.1.6","id_resp_h":"10.0.0.4"}\n')
    assert sniff(f).kind == Kind.ZEEK_TSV
    assert [r.log for r in read_zeek(sniff(f), lambda w: None)] == ["conn"]


def test_windows_flat_json_is_not_taken_for_zeek(tmp_path: Path):
    f = tmp_path / "events.json"
    f.write_text('{"EventID": 4624, "Channel": "Security", "_path": "x"}\n')
    assert sniff(f).kind == Kind.JSON_LINES


def test_zeek_overlong_line_is_skipped(tmp_path: Path, monkeypatch):
    from spearhunt.ingest import zeek

    monkeypatch.setattr(zeek, "MAX_LINE", 200)
    f = tmp_path / "conn.log"
    f.write_text(TSV.replace("\tSF\n", "\t" + "A" * 500 + "\n", 1))
    warnings: list = []
    recs = list(read_zeek(sniff(f), warnings.append))
    assert len(recs) == 1 and len(warnings) == 2


def test_allowlist_and_assets_files(tmp_path: Path):
    f = tmp_path / "allow.yaml"
    f.write_text(
        "hosts: [kiosk-*]\nusers: [svc_scan]\nrules: [Noisy Rule]\ndomains: ['*.sharepoint.com']\n"
        "ips: [203.0.113.0/24]\nhashes: [ABC]\n"
    )
    a = load_allowlist(f)
    assert a.host("KIOSK-01.corp.example") and not a.host("ws-01")
    assert a.user("CORP\\svc_scan") and a.rule("x", "noisy rule")
    assert a.domain("tenant.sharepoint.com") and not a.domain("sharepoint.com.evil.example")
    assert a.ip("203.0.113.9") and not a.ip("198.51.100.1")
    assert a.domain("ctldl.windowsupdate.com")  # built-in default
    g = tmp_path / "assets.yaml"
    g.write_text("assets:\n  - {match: 'fs-*', criticality: 8, role: file server}\n")
    assert load_assets(g).criticality("FS-01.corp.example") == 8
    g.write_text("assets: {match: x}\n")
    with pytest.raises(UsageError):
        load_assets(g)


def _times(interval: float, n: int, jitter: float = 0.0) -> list[float]:
    import random

    rng = random.Random(1)
    return [i * interval + rng.uniform(-jitter, jitter) for i in range(n)]


def test_beacon_score_separates_periodic_from_bursty():
    t0 = datetime(2026, 3, 2)
    periodic = beacon_score(
        "h", "1.2.3.4", None, _times(900, 100, 60), [500] * 100, t0, t0 + timedelta(days=1)
    )
    import random

    rng = random.Random(2)
    bursty = sorted(rng.uniform(0, 86400) for _ in range(100))
    human = beacon_score(
        "h", "1.2.3.4", None, bursty, [rng.randint(100, 90000) for _ in range(100)], t0, t0
    )
    assert periodic and human
    assert periodic.score > 0.85 > 0.7 > human.score


def test_tunnel_zone_stops_at_session_token():
    assert (
        tunnel_zone(["aaaa.0.7f1da.t.example.org", "bbbb.1.7f1da.t.example.org"], "example.org")
        == "t.example.org"
    )


def test_result_document_round_trips():
    ts = datetime(2026, 3, 2, 8)
    s = Story(
        "S-1",
        10.0,
        (ScorePart("alerts", 10.0, "x"),),
        PatientZero("ws1", "bob", "<m@x>", first_seen=ts),
        (HostReach("ws1", None, None, ts), HostReach("fs1", "ws1", "T1021.002", ts)),
        (ExfilFlow("fs1", "evil.example", 10, ts, ts, "192.0.2.1", "evil.example"),),
        (Stage("initial_access", ts, ts, 1),),
        ("T1566.001",),
        (),
    )
    doc = CorrelationResult((s,)).to_dict()
    again = CorrelationResult.from_dict(doc).to_dict()
    assert again["stories"] == doc["stories"]
    assert set(doc["stories"][0]) >= {
        "id",
        "score",
        "score_parts",
        "patient_zero",
        "hosts",
        "exfiltration",
        "stages",
        "techniques",
        "evidence",
    }
