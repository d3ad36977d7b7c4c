"""The one way to open a case file: :func:`open_case` returns a :class:`Case` (the read and
write modules of each area take one). Creating a case makes it private and sets up every
table (``store.schema``); an older case is migrated when opened for writing."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import duckdb

from spearhunt.errors import StoreError
from spearhunt.store import schema
from spearhunt.store.db import connect


class Case:
    """An open case file: its connection and the tables it has."""

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        self.path = path
        self.con = con
        self.read_only = read_only
        self._tables: set[str] | None = None
        self._closed = False
        # a case opened for writing holds the private umask until it is closed, or dropped
        # unclosed (a caller that closed only the connection must not leave the umask at 077)
        self._release = weakref.finalize(self, _release_private_umask) if not read_only else None

    @property
    def tables(self) -> set[str]:
        """The case tables present (an older or read-only case may lack some)."""
        if self._tables is None:
            self._tables = schema.existing_tables(self.con)
        return self._tables

    def has(self, table: str) -> bool:
        """Whether the case has ``table``."""
        return table in self.tables

    @contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """DuckDB's errors inside as a StoreError saying ``what`` failed, on this case."""
        try:
            yield
        except duckdb.Error as exc:
            raise StoreError(f"{what}: {exc}", where=str(self.path)) from exc

    def checkpoint(self) -> None:
        """Write everything to the case file."""
        self.con.execute("CHECKPOINT")
        private(self.path)

    def close(self) -> None:
        """Close the case file."""
        if self._closed:
            return
        self._closed = True
        self.con.close()
        if self._release is not None:
            private(self.path)
            self._release()

    def __enter__(self) -> Case:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def private(path: Path) -> None:
    """Owner-only permissions on the case file and DuckDB's write-ahead log beside it: a case
    holds command lines, user names and mail, often with secrets."""
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            if p.stat().st_mode & 0o077:
                p.chmod(0o600)
        except OSError:
            continue


def open_case(
    path: Path, *, write: bool = False, memory_limit: str | None = None, threads: int | None = None
) -> Case:
    """Open the case at ``path``: read-only (it must exist), or for writing (created when
    missing, private, with every table, an older case migrated)."""
    where = str(path)
    if not write and not path.exists():
        raise StoreError("no such case store", where=where)
    if write:
        _hold_private_umask()
    try:
        if write:
            path.parent.mkdir(parents=True, exist_ok=True)
        con = connect(path, read_only=not write, memory_limit=memory_limit, threads=threads)
        # reads keep DuckDB's default, so that rows without an ORDER BY come as stored
        con.execute("SET preserve_insertion_order = true")
    except (duckdb.Error, OSError) as exc:
        if write:
            _release_private_umask()
        raise StoreError(f"cannot open case store: {exc}", where=where) from exc
    try:
        if write:
            private(path)  # an existing case made before files were private
            schema.ensure(con, where)
        else:
            schema.check_readable(schema.version_of(con), where)
    except BaseException:
        con.close()
        if write:
            _release_private_umask()
        raise
    return Case(path, con, read_only=not write)


# DuckDB creates the case file, its write-ahead log and its temporary files itself, with the
# process umask: while a case is open for writing, the umask is 077 so that they are private
# from the first byte (a chmod afterwards leaves a window in which another user can open them).
_umask_lock = threading.Lock()
_umask_holders = 0
_umask_saved = 0


def _hold_private_umask() -> None:
    global _umask_holders, _umask_saved
    with _umask_lock:
        if _umask_holders == 0:
            _umask_saved = os.umask(0o077)
        _umask_holders += 1


def _release_private_umask() -> None:
    global _umask_holders
    with _umask_lock:
        _umask_holders -= 1
        if _umask_holders == 0:
            os.umask(_umask_saved)
