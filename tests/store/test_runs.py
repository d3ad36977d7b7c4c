"""Case integrity across runs: a run killed midway is flagged by the commands that read the
case and can be dropped whole; the same input file is not ingested twice (or is replaced);
reports and extracted attachments are private whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from spearhunt.cli.main import run
from spearhunt.pipeline.case import ingest_network
from spearhunt.store import runs
from spearhunt.store.case import CaseStore, open_case
from spearhunt.store.files import private_dir, private_open

ZEEK = """#separator \\x09
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring
1772442000.0\tC1\t10.0.0.5\t50000\t192.0.2.7\t443\ttcp\tssl\t1.5\t1200\t300\tSF
"""


def _event(eid: int, src: int) -> tuple[object, ...]:
    return (eid, None, "ws-1", "Security", None, 4624, eid, src, eid, "{}")


def _finished_run(path: Path) -> None:
    store = CaseStore(path, "hunt first")
    store.add_sources(0, [("first.evtx", "evtx")])
    store.add_events([_event(1, 0), _event(2, 0)])
    store.finish(2, 0)
    store.close()


def _killed_run(path: Path) -> None:
    """A hunt that wrote events and was killed (-9) before it wrote its sources or finished."""
    code = f"""
        import os
        from pathlib import Path
        from spearhunt.store.case import CaseStore
        store = CaseStore(Path({str(path)!r}), "hunt killed")
        base, src = store.next_ids()
        store.add_events([(base + i, None, "ws-2", "Security", None, 4624, i, src, i, "{{}}")
                          for i in (1, 2, 3)])
        os._exit(9)
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False)
    assert done.returncode == 9


def test_a_killed_run_is_flagged_and_can_be_dropped_whole(tmp_path: Path, capsys):
    case = tmp_path / "case.duckdb"
    _finished_run(case)
    _killed_run(case)
    with open_case(case) as c:
        assert [(r.run_id, r.command) for r in runs.unfinished(c)] == [(2, "hunt killed")]
        assert c.con.execute("SELECT count(*) FROM events").fetchone() == (5,)
    capsys.readouterr()
    assert run(["correlate", "--store", str(case), "--format", "json"]) == 0
    err = capsys.readouterr().err
    assert "run 2 (hunt killed" in err and "never finished" in err
    assert f"spearhunt runs --store {case} --drop 2" in err
    assert run(["runs", "--store", str(case), "--drop", "2"]) == 0
    assert "dropped run 2 (hunt killed): 3 events" in capsys.readouterr().out
    with open_case(case) as c:
        assert runs.unfinished(c) == []
        assert c.con.execute("SELECT eid FROM events ORDER BY 1").fetchall() == [(1,), (2,)]
        # the correlation made on the partial case went with it
        assert c.con.execute("SELECT count(*) FROM correlation_results").fetchone() == (0,)
        assert [r.status for r in runs.runs(c)] == ["finished", "dropped"]
    assert run(["report", "--store", str(case), "--out", str(tmp_path / "r")]) == 0
    assert "never finished" not in capsys.readouterr().err


def test_a_finished_case_is_not_flagged(tmp_path: Path, capsys):
    case = tmp_path / "case.duckdb"
    _finished_run(case)
    assert run(["runs", "--store", str(case)]) == 0
    captured = capsys.readouterr()
    assert "hunt first" in captured.out and "never finished" not in captured.err


def test_the_next_run_after_a_killed_one_does_not_reuse_its_keys(tmp_path: Path):
    case = tmp_path / "case.duckdb"
    _finished_run(case)
    _killed_run(case)
    store = CaseStore(case, "hunt next")
    assert store.next_ids() == (5, 2)  # past the killed run's events and their source id
    store.close()


def test_network_logs_are_not_ingested_twice_and_replace_reads_them_again(tmp_path: Path):
    (tmp_path / "zeek").mkdir()
    (tmp_path / "zeek" / "conn.log").write_text(ZEEK)
    case = tmp_path / "case.duckdb"
    warnings: list = []
    assert ingest_network([tmp_path / "zeek"], case, warnings.append) == 1
    assert ingest_network([tmp_path / "zeek"], case, warnings.append) == 0
    assert [w.message.split(":")[0] for w in warnings] == [
        "already in the case (run 1, as " + str(tmp_path / "zeek" / "conn.log") + ")"
    ]
    assert ingest_network([tmp_path / "zeek"], case, warnings.append, replace=True) == 1
    con = duckdb.connect(str(case), read_only=True)
    assert con.execute("SELECT run_id, count(*) FROM net_conn GROUP BY 1").fetchall() == [(3, 1)]
    con.close()


def test_reports_are_private_whatever_the_umask(tmp_path: Path, capsys):
    case = tmp_path / "case.duckdb"
    _finished_run(case)
    old = os.umask(0o022)
    try:
        assert run(["report", "--store", str(case), "--out", str(tmp_path / "r")]) == 0
    finally:
        os.umask(old)
    out = tmp_path / "r"
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    files = list(out.iterdir())
    assert files
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}


def test_private_helpers_make_new_folders_and_files_owner_only(tmp_path: Path):
    old = os.umask(0o000)
    try:
        folder = private_dir(tmp_path / "a" / "extract")
        with private_open(folder / "x.bin", "wb") as fh:
            fh.write(b"MZ")
        loose = tmp_path / "loose.txt"
        loose.write_text("old")
        loose.chmod(0o666)
        with private_open(loose) as fh:
            fh.write("new")
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "x.bin").stat().st_mode) == 0o600
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600 and loose.read_text() == "new"
    with pytest.raises(ValueError):
        private_open(loose, "a")  # type: ignore[call-overload]


def test_replace_refuses_a_parquet_input_whose_events_name_other_files(tmp_path: Path, capsys):
    log = tmp_path / "sysmon.jsonl"
    log.write_text(
        '{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", '
        '"Computer": "ws-1", "TimeCreated": "2026-03-02T09:00:00Z", "Image": "C:\\\\x.exe"}\n'
    )
    assert run(["-q", "ingest", str(log), "--to-parquet", str(tmp_path / "pq")]) == 0
    case = tmp_path / "case.duckdb"
    args = ["hunt", str(tmp_path / "pq"), "-f", "jsonl", "--store", str(case)]
    assert run(["-q", *args]) == 0
    capsys.readouterr()
    assert run([*args, "--replace"]) == 0
    err = capsys.readouterr().err
    assert "skipped, not replaced" in err and "drop run 1" in err
    with open_case(case) as c:
        assert c.con.execute("SELECT count(*) FROM events").fetchone() == (1,)


def test_a_copy_beside_the_original_in_one_run_is_read_once(tmp_path: Path):
    folder = tmp_path / "zeek"
    for sensor in ("a", "b"):
        (folder / sensor).mkdir(parents=True)
        (folder / sensor / "conn.log").write_text(ZEEK)
    warnings: list = []
    assert ingest_network([folder], tmp_path / "case.duckdb", warnings.append) == 1
    assert [w.source for w in warnings] == [str(folder / "b" / "conn.log")]
    assert f"as {folder / 'a' / 'conn.log'}" in warnings[0].message


def test_hunt_and_mail_outputs_are_private_whatever_the_umask(tmp_path: Path, capsys):
    # -o files quote command lines, user names and mail, as reports do
    events = tmp_path / "ev.jsonl"
    events.write_text(
        '{"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Computer": "ws1",'
        ' "TimeCreated": "2024-05-01T10:00:00Z", "Image": "C:\\\\Windows\\\\whoami.exe"}\n'
    )
    mail = tmp_path / "m.eml"
    mail.write_text("From: a@example.com\nTo: b@example.com\nSubject: hi\n\nhello\n")
    old = os.umask(0o022)
    try:
        assert run(["-q", "hunt", str(events), "-f", "json", "-o", str(tmp_path / "h.json")]) == 0
        assert run(["-q", "mail", str(mail), "-o", str(tmp_path / "m.json")]) == 0
    finally:
        os.umask(old)
    for name in ("h.json", "m.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
        assert (tmp_path / name).stat().st_size > 0


def test_private_open_leaves_a_device_as_it_is():
    # `hunt -o /dev/null` must not make /dev/null owner-only (run as root, it would)
    before = Path("/dev/null").stat().st_mode
    with private_open(Path("/dev/null")) as fh:
        fh.write("x")
    assert Path("/dev/null").stat().st_mode == before
