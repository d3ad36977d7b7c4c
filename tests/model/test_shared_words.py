"""The words every stage shares (host key, time text, tactic order) have one meaning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from spearhunt.model.attack import TACTIC_ORDER, tactic_id, tactic_rank
from spearhunt.model.detection import attack_tactics
from spearhunt.model.hosts import short_host
from spearhunt.model.times import iso_utc
from spearhunt.report.attack import matrix


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("WS-01.corp.example", "ws-01"),
        ("WS-01", "ws-01"),
        (" ws-01.Corp.Example. ", "ws-01"),
        ("10.0.1.4", "10.0.1.4"),
        ("fe80::1", "fe80::1"),
        # The old correlate copy cut this at its first dot; the report kept it whole.
        ("::ffff:10.0.1.4", "::ffff:10.0.1.4"),
        ("2001:db8::5", "2001:db8::5"),
        (".hidden", ".hidden"),
    ],
)
def test_short_host_keys_a_host_one_way(name: str, key: str) -> None:
    assert short_host(name) == key


@pytest.mark.parametrize("missing", [None, ""])
def test_short_host_of_no_name_is_empty_not_a_host(missing: str | None) -> None:
    # The report's copy answered "?", which then keyed a host named "?" in stories' filters.
    assert short_host(missing) == ""


def test_iso_utc_writes_naive_times_as_utc() -> None:
    assert iso_utc(datetime(2026, 12, 4, 18, 30, 1, 5)) == "2026-12-04T18:30:01.000005Z"
    assert iso_utc(None) is None


def test_iso_utc_converts_aware_times_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert iso_utc(datetime(2026, 12, 4, 20, 30, tzinfo=plus2)) == "2026-12-04T18:30:00.000000Z"
    assert iso_utc(datetime(2026, 12, 4, 18, 30, tzinfo=UTC)) == "2026-12-04T18:30:00.000000Z"


def test_tactic_order_is_the_kill_chain() -> None:
    assert tactic_rank("initial_access") < tactic_rank("execution")
    assert tactic_rank("lateral_movement") < tactic_rank("exfiltration")
    assert tactic_rank("reconnaissance") < tactic_rank("initial_access")
    assert tactic_rank("no_such_tactic") == len(TACTIC_ORDER)
    assert tactic_id("lateral_movement") == "TA0008"
    assert tactic_id("no_such_tactic") is None


def test_report_matrix_and_sigma_tags_use_the_model_tactics() -> None:
    assert tuple(t.key for t in matrix().tactics) == TACTIC_ORDER
    assert attack_tactics(("attack.lateral-movement", "attack.t1021", "attack.nonsense")) == (
        "lateral_movement",
    )


def test_local_networks_have_one_home_and_documentation_ranges_are_the_internet() -> None:
    import ipaddress

    from spearhunt.model.networks import is_local_address

    for ip in ("10.1.2.3", "172.31.0.1", "192.168.0.5", "100.64.1.1", "127.0.0.1", "fe80::1"):
        assert is_local_address(ipaddress.ip_address(ip)), ip
    for ip in ("192.0.2.77", "203.0.113.9", "8.8.8.8", "172.32.0.1", "2001:db8::1"):
        assert not is_local_address(ipaddress.ip_address(ip)), ip
