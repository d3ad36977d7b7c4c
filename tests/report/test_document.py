"""The report document: what the loader reads from a stored case, and nothing more."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from spearhunt.cli.main import run
from spearhunt.errors import StoreError
from spearhunt.model.hosts import short_host
from spearhunt.model.mail import MailVerdict
from spearhunt.model.story import CorrelationResult
from spearhunt.report.document import event_id, load
from spearhunt.report.render import write_report


def test_report_reads_the_saved_result_and_the_story_mail(demo_store: Path) -> None:
    rep = load(demo_store)
    top = rep.stories[0]
    assert rep.correlated and rep.stories_total == len(rep.result.stories) >= 1
    assert top.story.patient_zero.host.startswith("ws-003")
    assert top.mail is not None and top.mail.verdict == "malicious"
    assert top.mail.subject == top.story.patient_zero.mail_subject
    assert top.evidence_total == len(top.story.evidence)
    assert any(
        e.detail.startswith(("Image:", "NewProcessName:"))
        for e in top.evidence
        if e.kind == "alert"
    )
    assert {"T1566.001", "T1003.001"} <= {u.technique for u in top.techniques}
    assert rep.detections > 0 and rep.hosts and rep.indicators


def test_report_does_not_write_to_the_store(demo_store: Path, tmp_path: Path) -> None:
    before = demo_store.stat().st_mtime_ns
    write_report(demo_store, tmp_path)
    assert demo_store.stat().st_mtime_ns == before


def test_story_scope_limits_hosts_indicators_and_mail(demo_store: Path) -> None:
    full = load(demo_store)
    sid = full.stories[0].story.id
    one = load(demo_store, sid[:6])
    assert one.story_id == sid and len(one.stories) == 1
    hosts = {short_host(h.host) for h in one.stories[0].story.hosts}
    assert {h.host for h in one.hosts} <= hosts
    assert all(sid in i.stories for i in one.indicators)
    assert one.detections <= full.detections


def test_unknown_story_is_an_error_naming_the_ids(demo_store: Path) -> None:
    with pytest.raises(StoreError, match=r"no story 'S-nope'.*ids: S-"):
        load(demo_store, "S-nope")


def test_a_case_without_correlation_still_reports_detections(
    tmp_path: Path, demo_store: Path
) -> None:
    copy = tmp_path / "case.duckdb"
    con = duckdb.connect(str(copy))
    con.execute(f"ATTACH '{demo_store}' AS src (READ_ONLY)")
    for t in ("detections", "rules", "events", "mail_messages"):
        con.execute(f"CREATE TABLE {t} AS SELECT * FROM src.{t}")
    con.close()
    rep = load(copy)
    assert not rep.correlated and rep.stories == () and rep.detections > 0
    written = write_report(copy, tmp_path / "out")
    assert 'run <span class="mono">spearhunt correlate' in written.path("html").read_text()


def test_missing_store_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such case store"):
        load(tmp_path / "nope.duckdb")


def test_stored_documents_round_trip(demo_store: Path) -> None:
    import orjson

    con = duckdb.connect(str(demo_store), read_only=True)
    try:
        doc = orjson.loads(con.execute("SELECT doc FROM correlation_results").fetchone()[0])
        mails = [
            orjson.loads(r[0]) for r in con.execute("SELECT doc FROM mail_messages").fetchall()
        ]
    finally:
        con.close()
    assert CorrelationResult.from_dict(doc).to_dict() == doc
    assert all(MailVerdict.from_dict(m).to_dict() == m for m in mails)


@pytest.mark.parametrize(
    "ref, eid",
    [
        ("alert:12:rule-x", 12),
        ("event:7", 7),
        ("mail:<a@b>", None),
        ("alert:x:y", None),
        ("net:a>b", None),
    ],
)
def test_event_ids_come_only_from_alert_and_event_refs(ref: str, eid: int | None) -> None:
    assert event_id(ref) == eid


def test_cli_report_writes_the_asked_formats_and_refuses_unknown_ones(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            [
                "-q",
                "report",
                "--store",
                str(demo_store),
                "--out",
                str(tmp_path / "a"),
                "-f",
                "html,stix",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["report.html", "stix-bundle.json"]
    assert "report.html" in capsys.readouterr().out
    assert (
        run(["report", "--store", str(demo_store), "--out", str(tmp_path / "b"), "-f", "pdf"]) == 2
    )
    assert "--format" in capsys.readouterr().err
    sid = load(demo_store).stories[0].story.id
    assert (
        run(
            [
                "-q",
                "report",
                "--store",
                str(demo_store),
                "--out",
                str(tmp_path / "c"),
                "--story",
                sid,
            ]
        )
        == 0
    )
    assert (tmp_path / "c" / f"report-{sid}.html").exists() and (
        tmp_path / "c" / f"navigator-{sid}.json"
    ).exists()
    assert (
        run(["report", "--store", str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "d")]) == 2
    )
