"""The Windows DNS client cache: Sysmon 22 logs every lookup, the sensor only those that go out."""

from __future__ import annotations

import io
import random
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest

from spearhunt.simulate.clock import US, Clock
from spearhunt.simulate.noise import BROWSING
from spearhunt.simulate.zeek import LOGS, NetLog
from tests.simulate.conftest import Sim, run

TTL = 300 * US  # what the page loads' answers say (dns.log TTLs)
T0 = Clock(date(2026, 3, 2), 4).t0 + 9 * 3600 * US


def _net() -> NetLog:
    return NetLog(Clock(date(2026, 3, 2), 4), random.Random(1))


def _flushed(net: NetLog) -> dict[str, list[list[str]]]:
    files = {name: io.StringIO() for name in LOGS}
    net.flush(files)  # type: ignore[arg-type]
    return {
        name: [line.split("\t") for line in fh.getvalue().splitlines()]
        for name, fh in files.items()
    }


def _times(rows: list[list[str]]) -> list[int]:
    return [int(row[0].replace(".", "")) for row in rows]


def test_a_lookup_within_the_ttl_is_answered_by_the_cache_and_one_after_it_goes_out() -> None:
    net = _net()
    route = net.route("10.10.2.21", "10.10.1.10", "www.bing.com", ["192.0.2.20"])
    for delay in (0, 10, 299, 300, 450, 900):
        net.resolve(T0 + delay * US, route)
    logs = _flushed(net)
    assert _times(logs["dns"]) == [T0, T0 + 300 * US, T0 + 900 * US]
    assert len(logs["conn"]) == 3  # each query's UDP flow, and nothing for the cached ones
    assert all(row[9] == "www.bing.com" and row[2] == "10.10.2.21" for row in logs["dns"])


def test_the_cache_is_per_host_and_name_and_follows_time_not_call_order() -> None:
    net = _net()
    a = net.route("10.10.2.21", "10.10.1.10", "www.bing.com", ["192.0.2.20"])
    b = net.route("10.10.2.22", "10.10.1.10", "www.bing.com", ["192.0.2.20"])
    c = net.route("10.10.2.21", "10.10.1.10", "github.com", ["192.0.2.30"])
    assert net.route("10.10.2.21", "10.10.1.10", "www.bing.com", ["192.0.2.20"]) is a
    for ts, route in (
        (T0 + 200 * US, a),
        (T0, a),
        (T0 + 100 * US, a),
        (T0 + 50 * US, b),
        (T0 + 60 * US, c),
        (T0 + 400 * US, a),
    ):
        net.resolve(ts, route)
    sent = sorted((row[2], row[9], int(row[0].replace(".", ""))) for row in _flushed(net)["dns"])
    assert sent == [
        ("10.10.2.21", "github.com", T0 + 60 * US),
        ("10.10.2.21", "www.bing.com", T0),
        ("10.10.2.21", "www.bing.com", T0 + 400 * US),
        ("10.10.2.22", "www.bing.com", T0 + 50 * US),
    ]


def test_lookups_wait_for_the_flush_of_their_day_and_the_cache_carries_over() -> None:
    net = _net()
    route = net.route("10.10.2.21", "10.10.1.10", "www.bing.com", ["192.0.2.20"])
    midnight = Clock(date(2026, 3, 2), 4).day_start(1)
    net.resolve(midnight + 250 * US, route)
    net.resolve(midnight - 100 * US, route)
    net.resolve(midnight + 150 * US, route)  # within the TTL of the one before midnight
    files = {name: io.StringIO() for name in LOGS}
    net.flush(files, midnight)  # type: ignore[arg-type]
    assert _times([line.split("\t") for line in files["dns"].getvalue().splitlines()]) == [
        midnight - 100 * US
    ]
    assert _times(_flushed(net)["dns"]) == [midnight + 250 * US]


def test_the_campaigns_lookups_use_the_cache_at_once_and_a_zero_ttl_never_caches() -> None:
    net = _net()
    first = net.dns(T0, "10.10.2.21", "10.10.1.10", "c2.example.net", ["192.0.2.40"])
    assert first is not None
    assert (
        net.dns(T0 + 30 * US, "10.10.2.21", "10.10.1.10", "c2.example.net", ["192.0.2.40"]) is None
    )
    assert (
        net.dns(T0 + 301 * US, "10.10.2.21", "10.10.1.10", "c2.example.net", ["192.0.2.40"])
        is not None
    )
    tunnel = [
        net.dns(
            T0 + i, "10.10.3.5", "10.10.1.10", "a.t.example.org", ["TXT 2 ok"], qtype="TXT", ttl=0
        )
        for i in range(3)
    ]
    assert None not in tunnel and len(set(tunnel)) == 3
    assert len(_flushed(net)["dns"]) == 5


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    """Enough page loads per host that names repeat within five minutes."""
    return run(tmp_path_factory.mktemp("busy"), seed=4, hosts=8, users=10, days=4, noise=600)


def _us(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()) * US + int(
        iso[20:26]
    )


def test_page_loads_within_the_ttl_are_in_sysmon_but_not_in_zeek(busy: Sim) -> None:
    ip = {h["name"]: h["ip"] for h in busy.truth["organisation"]["hosts"]}
    asked: dict[tuple[str, str], list[int]] = defaultdict(list)
    for host, events in busy.endpoint.items():
        for ev in events:
            if ev["EventID"] == 22 and ev["QueryName"] in BROWSING:
                asked[ip[host], ev["QueryName"]].append(_us(ev["TimeCreated"]))
    sent: dict[tuple[str, str], list[int]] = defaultdict(list)
    # hosts without Sysmon (the posture inputs' gap) have no Sysmon 22 to compare with
    blind = {ip[h] for h in busy.truth.get("posture", {}).get("no_sysmon", ())}
    for row in busy.zeek["dns"]:
        if row["query"] in BROWSING and row["id.orig_h"] not in blind:
            sent[row["id.orig_h"], row["query"]].append(int(row["ts"].replace(".", "")))
    cached = resent = 0
    for key, times in asked.items():
        want, last = [], None
        for ts in sorted(times):
            if last is None or ts >= last + TTL:
                want.append(ts)
                last = ts
        assert sorted(sent.get(key, [])) == want, key
        cached += len(times) - len(want)
        resent += len(want) - 1
    assert set(sent) <= set(asked)
    # Both happen: repeats within the TTL (cached) and after it (sent again).
    assert cached > 100 and resent > 100
    uids = {row["uid"] for row in busy.zeek["dns"]}
    udp = [row for row in busy.zeek["conn"] if row["uid"] in uids]
    assert len(udp) == len(uids) and all(row["id.resp_p"] == "53" for row in udp)


def test_every_dns_record_in_the_truth_is_in_dns_log(busy: Sim) -> None:
    uids = {row["uid"] for row in busy.zeek["dns"]}
    dns = [r for r in busy.truth["network"] if r["log"] == "dns"]
    assert dns and all(r["uid"] in uids for r in dns)


def test_readme_explains_the_cache(busy: Sim) -> None:
    readme = " ".join((Path(busy.out) / "README.txt").read_text().split())
    assert "DNS client cache" in readme and "Sysmon 22" in readme
