"""Runs and inputs of a case: every command that writes to a case records a run as started
and, when it ends well, as finished; every input file a run reads is recorded by content
(size and SHA-256), so the same file is not ingested twice, and a run that never finished
(killed midway) can be found and dropped whole.

Why content and not modification time: evidence is copied around (``cp`` without ``-p``, a
download, an unpacked archive), which changes a file's time but not its events; the SHA-256
is what an analyst records for evidence anyway. A file is hashed once per run, in 1 MiB
blocks (about 1 s per GB).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from spearhunt import __version__
from spearhunt.store.casefile import Case
from spearhunt.store.db import insert_rows, one

BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class Run:
    """One command run against a case."""

    run_id: int
    started: dt.datetime | None
    command: str
    status: str  # running (never finished: killed, or still going), finished, dropped
    events: int
    detections: int


@dataclass(frozen=True, slots=True)
class InputFile:
    """An input file and its content identity."""

    path: Path
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Seen:
    """An input the case already holds: this run's file, the earlier one and its run."""

    path: Path
    earlier: str
    run_id: int
    untraceable: bool = False  # asked to replace, but what the earlier copy gave is not known


@dataclass(frozen=True, slots=True)
class Admission:
    """Which input files a run reads, and which it skips (already in the case) or replaces."""

    read: tuple[Path, ...]
    skipped: tuple[Seen, ...] = ()
    replaced: tuple[Seen, ...] = ()

    def messages(self, replace_hint: str = "--replace") -> list[tuple[str, str]]:
        """(file, message) for each skipped or replaced input."""
        out = [
            (
                str(s.path),
                f"already in the case (run {s.run_id}, as {s.earlier}): skipped, not "
                + (
                    f"replaced: its events do not name it (a Parquet dataset names its "
                    f"original files); drop run {s.run_id} with `spearhunt runs --drop` instead"
                    if s.untraceable
                    else f"ingested twice; {replace_hint} reads it again in place of the "
                    "earlier copy"
                ),
            )
            for s in self.skipped
        ]
        out += [
            (str(s.path), f"replaces what run {s.run_id} read from {s.earlier}")
            for s in self.replaced
        ]
        return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def begin(case: Case, command: str) -> int:
    """Record a run as started; returns its id."""
    row = one(
        case.con,
        "SELECT coalesce(max(run_id), 0) + 1, (SELECT coalesce(max(eid), 0) + 1 FROM events) "
        "FROM runs",
    )
    run_id, first_eid = (int(row[0]), int(row[1])) if row else (1, 1)
    case.con.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, 0, 0, NULL, 'running', ?)",
        [run_id, _now(), __version__, command, first_eid],
    )
    return run_id


def finish(case: Case, run_id: int, events: int = 0, detections: int = 0) -> None:
    """Record a run as finished, with its counts."""
    case.con.execute(
        "UPDATE runs SET events = ?, detections = ?, finished = ?, status = 'finished' "
        "WHERE run_id = ?",
        [events, detections, _now(), run_id],
    )


def runs(case: Case) -> list[Run]:
    """Every run of the case, oldest first."""
    if not case.has("runs"):
        return []
    status = "coalesce(status, 'finished')" if _has_column(case, "runs", "status") else "'finished'"
    rows = case.con.execute(
        f"SELECT run_id, started, coalesce(command, ''), {status}, coalesce(events, 0), "
        "coalesce(detections, 0) FROM runs ORDER BY run_id"
    ).fetchall()
    return [Run(int(r[0]), r[1], r[2], r[3], int(r[4]), int(r[5])) for r in rows]


def unfinished(case: Case) -> list[Run]:
    """Runs that started and never finished: killed midway, their data partial."""
    return [r for r in runs(case) if r.status == "running"]


def _has_column(case: Case, table: str, column: str) -> bool:
    row = one(
        case.con,
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' "
        "AND table_name = ? AND column_name = ?",
        [table, column],
    )
    return bool(row and row[0])


def identify(path: Path) -> InputFile | None:
    """Size and SHA-256 of a regular file (None for anything else: it is not read either)."""
    try:
        if not path.is_file():
            return None
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as fh:
            while block := fh.read(BLOCK):
                digest.update(block)
                size += len(block)
    except OSError:
        return None
    return InputFile(path, size, digest.hexdigest())


def admit(
    case: Case,
    run_id: int,
    stage: str,
    files: Sequence[Path],
    replace: bool = False,
    drop: Callable[[Case, Seen], bool] | None = None,
) -> Admission:
    """Record the input files a run reads for ``stage`` (events, mail, network), except those
    the case already holds for that stage (same size and SHA-256, from a finished run):
    skipped, or with ``replace`` read again after ``drop`` removed what the earlier copy
    gave (default: :func:`drop_input`; a ``drop`` that returns False cannot tell the earlier
    copy's rows apart, and the file is skipped). (An archive of event logs and Zeek logs is
    an input of two stages.)"""
    known: dict[tuple[int, str], tuple[str, int]] = {}
    for path, size, sha, rid in case.con.execute(
        "SELECT i.path, i.size, i.sha256, i.run_id FROM inputs i JOIN runs r USING (run_id) "
        "WHERE r.status = 'finished' AND i.stage = ? ORDER BY i.run_id",
        [stage],
    ).fetchall():
        known.setdefault((int(size), sha), (path, int(rid)))
    read: list[Path] = []
    skipped: list[Seen] = []
    replaced: list[Seen] = []
    rows = []
    this_run: dict[tuple[int, str], Path] = {}
    for f in files:
        ident = identify(f)
        if ident is None:  # not a regular file: the reader says why
            read.append(f)
            continue
        key = (ident.size, ident.sha256)
        if key in this_run:  # the same content twice in one run (a copy beside the original)
            skipped.append(Seen(f, str(this_run[key]), run_id))
            continue
        this_run[key] = f
        if key in known:
            seen = Seen(f, *known[key])
            if not replace:
                skipped.append(seen)
                continue
            if not (drop or drop_input)(case, seen):
                skipped.append(replace_seen(seen))
                continue
            replaced.append(seen)
        read.append(f)
        rows.append((run_id, stage, str(f), ident.size, ident.sha256))
    insert_rows(case.con, "inputs", rows)
    return Admission(tuple(read), tuple(skipped), tuple(replaced))


def replace_seen(seen: Seen) -> Seen:
    """``seen``, marked as an input whose earlier copy cannot be replaced."""
    return Seen(seen.path, seen.earlier, seen.run_id, untraceable=True)


def drop_input(case: Case, seen: Seen) -> bool:
    """Remove what an earlier run read from one input file: its events and their
    detections, its warnings, its mail and network rows, its sources (all of them name the
    input, or a member of it); True when done."""
    con = case.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _drop_src AS SELECT src, path FROM sources "
        "WHERE run_id = $1 AND (input = $2 OR path = $2)",
        [seen.run_id, seen.earlier],
    )
    con.execute(
        "DELETE FROM detections WHERE eid IN (SELECT e.eid FROM events e "
        "JOIN _drop_src s USING (src))"
    )
    con.execute("DELETE FROM events WHERE src IN (SELECT src FROM _drop_src)")
    con.execute(
        "DELETE FROM warnings WHERE run_id = $1 AND (source = $2 OR source IN "
        "(SELECT path FROM _drop_src))",
        [seen.run_id, seen.earlier],
    )
    for table in ("mail_messages", "mail_attachments", "mail_iocs"):
        con.execute(
            f"DELETE FROM {table} WHERE run_id = $1 AND (file = $2 OR starts_with(file, $3))",
            [seen.run_id, seen.earlier, seen.earlier + "#"],
        )
    for table in _net_tables(case):
        con.execute(f"DELETE FROM {table} WHERE src IN (SELECT src FROM _drop_src)")
    con.execute("DELETE FROM sources WHERE src IN (SELECT src FROM _drop_src)")
    con.execute("DELETE FROM inputs WHERE run_id = $1 AND path = $2", [seen.run_id, seen.earlier])
    con.execute("DROP TABLE _drop_src")
    return True


def _net_tables(case: Case) -> list[str]:
    return sorted(t for t in case.tables if t.startswith("net_"))


@dataclass(frozen=True, slots=True)
class Dropped:
    """What dropping a run removed."""

    run: Run
    events: int
    detections: int
    results: int  # correlation and posture results saved after the run started (on partial data)


def drop(case: Case, run_id: int) -> Dropped:
    """Remove everything a run wrote (its events, detections, warnings, sources, inputs, mail
    and network rows, and the correlation results saved since it started) and mark it
    dropped; for a run killed midway, so the case holds only whole runs again."""
    from spearhunt.errors import StoreError

    run = next((r for r in runs(case) if r.run_id == run_id), None)
    if run is None:
        raise StoreError(f"no run {run_id} in the case", where=str(case.path))
    if run.status == "dropped":
        return Dropped(run, 0, 0, 0)
    con = case.con
    row = one(con, "SELECT first_eid FROM runs WHERE run_id = ?", [run_id])
    first = row[0] if row and row[0] is not None else None
    nxt = one(
        con, "SELECT min(first_eid) FROM runs WHERE run_id > ? AND first_eid IS NOT NULL", [run_id]
    )
    upper = nxt[0] if nxt and nxt[0] is not None else None
    con.execute("BEGIN")
    # events of the run: its own sources, and the key range it took (a killed run never
    # wrote its sources)
    where = "src IN (SELECT src FROM sources WHERE run_id = $1)"
    params: list[object] = [run_id]
    if first is not None:
        where += " OR (eid >= $2" + (" AND eid < $3)" if upper is not None else ")")
        params += [first] + ([upper] if upper is not None else [])
    n_events = _count(case, f"SELECT count(*) FROM events WHERE {where}", params)
    n_det = _count(
        case,
        f"SELECT count(*) FROM detections WHERE run_id = $1 OR eid IN "
        f"(SELECT eid FROM events WHERE {where})",
        params,
    )
    con.execute(
        f"DELETE FROM detections WHERE run_id = $1 OR eid IN (SELECT eid FROM events WHERE {where})",
        params,
    )
    con.execute(f"DELETE FROM events WHERE {where}", params)
    for table in _net_tables(case):
        con.execute(
            f"DELETE FROM {table} WHERE run_id = $1 OR src IN "
            "(SELECT src FROM sources WHERE run_id = $1)",
            [run_id],
        )
    for table in (
        "warnings",
        "sources",
        "inputs",
        "mail_messages",
        "mail_attachments",
        "mail_iocs",
    ):
        con.execute(f"DELETE FROM {table} WHERE run_id = $1", [run_id])
    n_results = 0
    if run.started is not None:  # results computed on the partial case go with it
        for table in ("correlation_results", "posture_results"):
            if case.has(table):
                n_results += _count(
                    case, f"SELECT count(*) FROM {table} WHERE created >= ?", [run.started]
                )
                con.execute(f"DELETE FROM {table} WHERE created >= ?", [run.started])
    con.execute("UPDATE runs SET status = 'dropped' WHERE run_id = ?", [run_id])
    con.execute("COMMIT")
    return Dropped(run, n_events, n_det, n_results)


def _count(case: Case, sql: str, params: Sequence[object]) -> int:
    row = one(case.con, sql, params)
    return int(row[0]) if row else 0
