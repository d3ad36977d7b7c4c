"""The case schema: one module declares every table, a case records its version, an older
case is migrated when written to, a newer one is refused with a message saying what to do."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb
import pytest

from spearhunt.errors import StoreError
from spearhunt.store import schema
from spearhunt.store.case import CaseStore, open_case

# what a case written before schema versions looked like (spearhunt 0.x, version 1)
V1 = [
    "CREATE TABLE runs (run_id INTEGER, started TIMESTAMP, version VARCHAR, command VARCHAR, "
    "events BIGINT, detections BIGINT)",
    "CREATE TABLE sources (src INTEGER, path VARCHAR, kind VARCHAR, run_id INTEGER)",
    "INSERT INTO runs VALUES (1, TIMESTAMP '2026-03-01 10:00:00', '0.9', 'hunt', 5, 1)",
    "INSERT INTO sources VALUES (0, 'old.evtx', 'evtx', 1)",
    "CREATE TABLE mail_messages (file VARCHAR, message_id VARCHAR, subject VARCHAR, "
    "sender VARCHAR, recipients VARCHAR[], date VARCHAR, verdict VARCHAR, score INTEGER, doc JSON)",
    "INSERT INTO mail_messages VALUES ('a.eml', '<m@x>', 's', 'f', [], NULL, 'clean', 0, '{}')",
]


def test_a_new_case_has_every_table_and_the_schema_version(tmp_path: Path):
    with open_case(tmp_path / "c.duckdb", write=True) as case:
        assert case.tables >= set(schema.TABLES)
        assert schema.version_of(case.con) == schema.SCHEMA_VERSION


def test_reading_a_missing_case_is_an_error_naming_it(tmp_path: Path):
    with pytest.raises(StoreError, match="no such case store") as err:
        open_case(tmp_path / "none.duckdb")
    assert err.value.where == str(tmp_path / "none.duckdb")


def test_a_version_1_case_is_migrated_when_written(tmp_path: Path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    for stmt in V1:
        con.execute(stmt)
    con.close()
    with open_case(path) as case:  # read-only: read as it is, nothing changed
        assert schema.version_of(case.con) == 1
        assert "case_meta" not in case.tables
    store = CaseStore(path, "hunt")
    store.finish(0, 0)
    store.close()
    with open_case(path) as case:
        assert schema.version_of(case.con) == schema.SCHEMA_VERSION
        runs = case.con.execute("SELECT run_id, status FROM runs ORDER BY 1").fetchall()
        srcs = case.con.execute("SELECT path, input FROM sources").fetchall()
        mails = case.con.execute("SELECT file, run_id FROM mail_messages").fetchall()
    assert runs == [(1, "finished"), (2, "finished")]
    assert srcs == [("old.evtx", None)]
    assert mails == [("a.eml", None)]  # the old row kept; new rows name their run
    with open_case(path, write=True) as case:
        case.con.execute(
            "INSERT INTO mail_messages VALUES ('b.eml', '<n@x>', 's', 'f', [], NULL, 'clean', 0, "
            "'{}', 2)"
        )


def test_a_case_of_a_newer_version_is_refused_with_what_to_do(tmp_path: Path):
    path = tmp_path / "new.duckdb"
    with open_case(path, write=True) as case:
        case.con.execute("UPDATE case_meta SET value = '99' WHERE key = 'schema_version'")
    for write in (False, True):
        with pytest.raises(StoreError, match=r"newer spearhunt.*upgrade spearhunt"):
            open_case(path, write=write)


def test_the_case_file_is_private_whatever_the_umask(tmp_path: Path):
    old = os.umask(0o022)
    try:
        store = CaseStore(tmp_path / "sub" / "c.duckdb", "test")
        store.finish(0, 0)
        store.close()
        assert os.umask(0o022) == 0o022  # the umask is given back once the case is closed
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "sub" / "c.duckdb").stat().st_mode)
    assert mode == 0o600


def test_an_existing_world_readable_case_is_made_private(tmp_path: Path):
    path = tmp_path / "c.duckdb"
    duckdb.connect(str(path)).close()
    path.chmod(0o644)
    open_case(path, write=True).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_write_ahead_log_is_private_from_its_first_byte(tmp_path: Path):
    path = tmp_path / "c.duckdb"
    old = os.umask(0o022)
    try:
        with open_case(path, write=True) as case:
            case.con.execute("INSERT INTO warnings VALUES (1, 'x', 'y', 1, 1, 1)")
            wal = path.with_name(path.name + ".wal")
            assert wal.exists()
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        os.umask(old)
