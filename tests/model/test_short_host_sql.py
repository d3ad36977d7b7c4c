"""The SQL form of the host key gives what ``short_host`` gives, so stories (Python) and the
report's host filter (SQL) name the same hosts."""

from __future__ import annotations

import duckdb
import pytest

from spearhunt.model.hosts import short_host, short_host_sql

NAMES = [
    "WS-01.corp.example",
    "ws-01",
    "WS-01.",
    " Mordordc.theshire.local ",
    "10.0.1.15",
    "192.168.0.4",
    "255.255.255.255",
    "fe80::1",
    "::ffff:10.0.0.5",
    "2001:db8::7",
    ".hidden",
    "ACCT01.pandalab.com",
    "a",
    "",
    None,
]


@pytest.mark.parametrize("name", NAMES)
def test_short_host_sql_agrees_with_short_host(name: str | None) -> None:
    con = duckdb.connect()
    [(got,)] = con.execute(
        f"SELECT {short_host_sql('n')} FROM (SELECT ?::VARCHAR AS n)", [name]
    ).fetchall()
    assert got == short_host(name)


def test_an_ip_named_computer_is_not_cut_at_its_first_dot() -> None:
    # the report's host filter used split_part: 10.0.1.15 became "10"
    con = duckdb.connect()
    [(got,)] = con.execute(
        f"SELECT {short_host_sql('n')} FROM (SELECT '10.0.1.15' AS n)"
    ).fetchall()
    assert got == "10.0.1.15"
