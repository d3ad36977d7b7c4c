"""What reaches correlation from real exports: records that are no Windows events, the flat
shape's two Channel values, and endpoint times that are not UTC (issue 12, items 4, 5, 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.hunt import HuntOptions, hunt
from spearhunt.errors import UsageError
from spearhunt.ingest.events import read_events
from spearhunt.ingest.sources import sniff


def _jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_json_records_without_event_id_channel_or_computer_are_warned_once_not_counted(
    tmp_path: Path,
):
    f = _jsonl(
        tmp_path / "app.jsonl",
        [{"ts": 1588205199.8 + i, "msg": "hello", "CommandLine": "whoami"} for i in range(5)]
        + [{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws1"}],
    )
    summary = hunt(HuntOptions(paths=[str(f)]), None)
    assert summary.events == 1
    said = [w for w in summary.warnings if "not Windows events" in w.message]
    assert len(said) == 1 and "5 in the first chunk" in said[0].message and said[0].line == 1


CLEARED = {
    "SourceName": "Microsoft-Windows-Eventlog",
    "Channel": "System",
    "Hostname": "MKT01.pandalab.com",
    "TimeCreated": "2023-08-15T09:53:46.118Z",
    "EventID": 104,
    "Task": "104",
}


def test_flat_event_104_reads_the_cleared_log_not_the_system_channel(tmp_path: Path):
    # In the flat shape the System Channel ("System") and EventData's Channel (the cleared log)
    # share one key: the event's own field must hold the cleared log.
    f = _jsonl(
        tmp_path / "system.jsonl",
        [
            {
                **CLEARED,
                "Message": "The Microsoft-Windows-Kernel-IO/Operational log file was cleared.",
            },
            {
                **CLEARED,
                "Message": "The System log file was cleared.",
                "TimeCreated": "2023-08-15T10:00:00Z",
            },
            {**CLEARED, "TimeCreated": "2023-08-15T11:00:00Z"},  # no message: no Channel field
        ],
    )
    eng = DuckEngine([], on_warning=lambda w: None)
    src = eng.source(str(f))
    for batch in read_events(sniff(f), lambda w: None):
        eng.add(src, batch)
    eng.flush()
    rows = eng.con.execute(
        "SELECT channel, json_extract_string(fields, '$.Channel') FROM events ORDER BY eid"
    ).fetchall()
    assert rows == [
        ("System", "Microsoft-Windows-Kernel-IO/Operational"),
        ("System", "System"),
        ("System", None),
    ]


def _times(store: Path) -> list[tuple[int, str]]:
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute(
            "SELECT event_id, strftime(ts, '%Y-%m-%d %H:%M:%S.%g') FROM events ORDER BY pos"
        ).fetchall()
    finally:
        con.close()


def _helk(i: int, local: str, utc: str | None) -> dict[str, object]:
    rec: dict[str, object] = {
        "Hostname": "MKT01.pandalab.com",
        "TimeCreated": local,
        "@timestamp": local,
    }
    if utc:
        rec |= {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "UtcTime": utc}
        rec |= {"Image": f"C:\\x{i}.exe"}
    else:
        rec |= {"Channel": "Security", "EventID": 4688}
    return rec


def test_local_time_labelled_utc_is_corrected_from_sysmon_utctime_and_said(tmp_path: Path):
    # HELK's TimeCreated holds local time with a Z; Sysmon's UtcTime in the same records is 19 h later
    recs = [_helk(i, f"2023-08-15T09:5{i}:00.500Z", f"2023-08-16 04:5{i}:00.123") for i in range(6)]
    recs.append(_helk(9, "2023-08-15T09:59:30.000Z", None))
    recs.append(_helk(7, "2023-08-15T09:57:00.500Z", "2023-08-10 14:39:12.046"))  # an old time
    f = _jsonl(tmp_path / "helk.json", recs)
    store = tmp_path / "case.duckdb"
    summary = hunt(HuntOptions(paths=[str(f)], store=store), None)
    times = _times(store)
    assert times[0] == (1, "2023-08-16 04:50:00.123")  # the record's own UTC time
    assert times[6] == (4688, "2023-08-16 04:59:30.000")  # corrected by the measured offset
    assert times[7] == (1, "2023-08-16 04:57:00.500")  # UtcTime of another moment: offset only
    said = [w.message for w in summary.warnings if "UtcTime" in w.message]
    assert said == [
        "MKT01.pandalab.com: event times -19:00 off the UtcTime of the same records "
        "(6 of 7 agree): corrected by +19:00"
    ]


def test_time_correction_in_small_event_windows_gives_the_same_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # the queries run per window of event ids so a small --memory-limit holds (#12 item 9):
    # votes add up across windows and every window is corrected, edges included
    from spearhunt.normalize import timefix

    monkeypatch.setattr(timefix, "WINDOW", 3)
    recs = [_helk(i, f"2023-08-15T09:5{i}:00.500Z", f"2023-08-16 04:5{i}:00.123") for i in range(6)]
    recs.append(_helk(9, "2023-08-15T09:59:30.000Z", None))
    recs.append(_helk(7, "2023-08-15T09:57:00.500Z", "2023-08-10 14:39:12.046"))
    f = _jsonl(tmp_path / "helk.json", recs)
    store = tmp_path / "case.duckdb"
    summary = hunt(HuntOptions(paths=[str(f)], store=store), None)
    times = _times(store)
    assert [t for _, t in times[:6]] == [f"2023-08-16 04:5{i}:00.123" for i in range(6)]
    assert times[6] == (4688, "2023-08-16 04:59:30.000")
    assert times[7] == (1, "2023-08-16 04:57:00.500")
    assert any("(6 of 7 agree): corrected by +19:00" in w.message for w in summary.warnings)


def test_true_utc_times_are_left_alone(tmp_path: Path):
    recs = [_helk(i, f"2023-08-16T04:5{i}:00.500Z", f"2023-08-16 04:5{i}:00.123") for i in range(6)]
    f = _jsonl(tmp_path / "utc.json", recs)
    store = tmp_path / "case.duckdb"
    summary = hunt(HuntOptions(paths=[str(f)], store=store), None)
    assert _times(store)[0] == (1, "2023-08-16 04:50:00.500")
    assert not [w for w in summary.warnings if "corrected" in w.message]


def test_local_event_time_beats_the_collector_receive_time(tmp_path: Path):
    # NXLog: EventTime is local (UTC-4), @timestamp the collector's receive time, seconds later
    recs = [
        {
            "Hostname": "WORKSTATION6.theshire.local",
            "Channel": "Security",
            "EventID": 4624,
            "EventTime": f"2020-09-20 12:16:5{i}",
            "@timestamp": f"2020-09-20T16:17:0{i}.362Z",
        }
        for i in range(6)
    ]
    f = _jsonl(tmp_path / "nxlog.json", recs)
    store = tmp_path / "case.duckdb"
    summary = hunt(HuntOptions(paths=[str(f)], store=store), None)
    assert _times(store)[0] == (4624, "2020-09-20 16:16:50.000")
    assert any("@timestamp" in w.message and "+04:00" in w.message for w in summary.warnings)


def test_time_offset_option_settles_a_source_no_field_can(tmp_path: Path):
    from spearhunt.normalize.timefix import parse_offsets

    recs = [
        {
            "Computer": "ws1",
            "Channel": "Security",
            "EventID": 4688,
            "TimeCreated": "2023-08-15T09:50:00Z",
        }
    ]
    f = _jsonl(tmp_path / "sec.json", recs)
    store = tmp_path / "case.duckdb"
    offsets = parse_offsets(["sec*.json=-02:30"])
    summary = hunt(HuntOptions(paths=[str(f)], store=store, time_offsets=offsets), None)
    assert _times(store)[0] == (4688, "2023-08-15 07:20:00.000")
    assert any("--time-offset -02:30" in w.message for w in summary.warnings)
    with pytest.raises(UsageError):
        parse_offsets(["sec.json=+2h"])


def test_an_archive_of_zeek_logs_alone_is_no_usage_error_for_investigate(tmp_path: Path):
    import zipfile

    from spearhunt.pipeline import CaseInputs, CaseOptions, build_case

    zeek = (
        '{"@stream":"conn","ts":1588205199.8,"uid":"C1","id_orig_h":"10.0.1.4",'
        '"id_orig_p":50000,"id_resp_h":"10.0.1.6","id_resp_p":5985,"proto":"tcp"}\n'
    )
    archive = tmp_path / "sensor.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("logs/conn.log", zeek)
    summary = build_case(CaseInputs.sniff([str(archive)]), tmp_path / "case.duckdb", CaseOptions())
    assert summary.events == 0 and summary.network_records == 1
    # a plain file that is no event log still is, for the hunt
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    with pytest.raises(UsageError):
        hunt(HuntOptions(paths=[str(other)]), None)


def test_each_source_is_corrected_by_its_own_offset_in_its_own_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Corrections update a source's own event-id span, window by window; measuring reads
    # only the slices whose records carry a UTC field. Three files in one run: local time
    # labelled UTC (+19:00 to fix), true UTC (left alone), and a log with no UTC field.
    import duckdb

    from spearhunt.normalize import timefix

    monkeypatch.setattr(timefix, "WINDOW", 3)
    local = [
        _helk(i, f"2023-08-15T09:5{i}:00.500Z", f"2023-08-16 04:5{i}:00.123") for i in range(6)
    ]
    utc = [_helk(i, f"2023-08-16T04:5{i}:00.123Z", f"2023-08-16 04:5{i}:00.123") for i in range(6)]
    plain = [_helk(9, f"2023-08-15T09:0{i}:00.000Z", None) for i in range(4)]
    files = [
        _jsonl(tmp_path / "a-local.json", local),
        _jsonl(tmp_path / "b-utc.json", utc),
        _jsonl(tmp_path / "c-plain.json", [{**r, "Hostname": "OTHER"} for r in plain]),
    ]
    store = tmp_path / "case.duckdb"
    summary = hunt(HuntOptions(paths=[str(f) for f in files], store=store), None)
    con = duckdb.connect(str(store), read_only=True)
    rows = con.execute(
        "SELECT s.path, strftime(e.ts, '%H:%M:%S.%g') FROM events e JOIN sources s "
        "ON s.src = e.src ORDER BY e.src, e.pos"
    ).fetchall()
    con.close()
    times: dict[str, list[str]] = {}
    for path, t in rows:
        times.setdefault(Path(path).name, []).append(t)
    assert times["a-local.json"] == [f"04:5{i}:00.123" for i in range(6)]
    assert times["b-utc.json"] == [f"04:5{i}:00.123" for i in range(6)]
    assert times["c-plain.json"] == [f"09:0{i}:00.000" for i in range(4)]
    fixed = [w.source for w in summary.warnings if "corrected by +19:00" in w.message]
    assert [Path(s).name for s in fixed] == ["a-local.json"]


def test_from_and_to_hold_for_corrected_times(tmp_path: Path):
    # --from/--to are UTC: a source whose clock says 09:5x "Z" but is 19 hours behind is
    # filtered by its corrected times (04:5x the next day), not by what it wrote.
    from datetime import datetime

    recs = [_helk(i, f"2023-08-15T09:5{i}:00.500Z", f"2023-08-16 04:5{i}:00.123") for i in range(6)]
    recs.append(_helk(9, "2023-08-15T09:53:30.000Z", None))  # no UtcTime: offset only
    f = _jsonl(tmp_path / "helk.json", recs)
    store = tmp_path / "case.duckdb"
    opts = HuntOptions(
        paths=[str(f)],
        store=store,
        time_from=datetime(2023, 8, 16, 4, 52),
        time_to=datetime(2023, 8, 16, 4, 54, 30),
    )
    summary = hunt(opts, None)
    assert _times(store) == [
        (1, "2023-08-16 04:52:00.123"),
        (1, "2023-08-16 04:53:00.123"),
        (1, "2023-08-16 04:54:00.123"),
        (4688, "2023-08-16 04:53:30.000"),
    ]
    assert summary.events == 4
    # and a window in the written (wrong) times finds nothing
    other = tmp_path / "other.duckdb"
    written = HuntOptions(
        paths=[str(f)],
        store=other,
        time_from=datetime(2023, 8, 15, 9, 50),
        time_to=datetime(2023, 8, 15, 9, 59),
    )
    assert hunt(written, None).events == 0


def test_from_alone_holds_for_corrected_times(tmp_path: Path):
    from datetime import datetime

    recs = [_helk(i, f"2023-08-15T09:5{i}:00.500Z", f"2023-08-16 04:5{i}:00.123") for i in range(6)]
    f = _jsonl(tmp_path / "helk.json", recs)
    store = tmp_path / "case.duckdb"
    opts = HuntOptions(paths=[str(f)], store=store, time_from=datetime(2023, 8, 16, 4, 54, 30))
    assert hunt(opts, None).events == 1
    assert _times(store) == [(1, "2023-08-16 04:55:00.123")]
