"""``--endpoint-format evtx-json``: the same events as the flat shape, in evtx_dump's shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from spearhunt.errors import SimulateError
from spearhunt.simulate import SimulationConfig, simulate
from tests.conftest import shared_data
from tests.simulate.conftest import SMALL, Sim, run
from tests.simulate.test_sigma_coverage import RULE_LIST

SYSTEM_KEYS = ["Provider", "EventID", "TimeCreated", "EventRecordID", "Channel", "Computer"]


def _lines(sim: Sim) -> dict[str, list[dict[str, Any]]]:
    return {
        p.stem: [orjson.loads(line) for line in p.read_bytes().splitlines()]
        for p in sorted((sim.out / "endpoint").glob("*.jsonl"))
    }


def _flatten(ev: dict[str, Any]) -> dict[str, Any]:
    """An evtx_dump-shaped event back in the flat shape (key order included)."""
    s = ev["Event"]["System"]
    return {
        "EventID": s["EventID"],
        "Channel": s["Channel"],
        "Provider_Name": s["Provider"]["#attributes"]["Name"],
        "Computer": s["Computer"],
        "TimeCreated": s["TimeCreated"]["#attributes"]["SystemTime"],
        "EventRecordID": s["EventRecordID"],
        **ev["Event"]["EventData"],
    }


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sim, Sim]:
    """The same seed and variant written flat and as evtx-json (the template variant has
    every kind of templated and dict-built event)."""
    tmp = tmp_path_factory.mktemp("evtx")
    kw = {"seed": 12, "variant": "template+wmisub+wmi+dns"}
    return run(tmp / "flat", **kw), run(tmp / "evtx", endpoint_format="evtx-json", **kw)


def test_every_line_has_the_evtx_dump_shape(pair: tuple[Sim, Sim]) -> None:
    _, evtx = pair
    for host, events in _lines(evtx).items():
        assert events
        for ev in events:
            assert list(ev) == ["Event"] and list(ev["Event"]) == ["System", "EventData"]
            system = ev["Event"]["System"]
            assert list(system) == SYSTEM_KEYS
            assert isinstance(system["EventID"], int)
            assert isinstance(system["EventRecordID"], int)
            assert system["Computer"] == f"{host}.corp.example"
            assert list(system["Provider"]) == ["#attributes"]
            assert system["TimeCreated"]["#attributes"]["SystemTime"].endswith("Z")
            data = ev["Event"]["EventData"]
            assert next(iter(data)) == "SpearhuntEventId"
            assert not set(data) & {
                "EventID",
                "Channel",
                "Provider_Name",
                "Computer",
                "TimeCreated",
                "EventRecordID",
            }


def test_evtx_json_holds_exactly_the_flat_events(pair: tuple[Sim, Sim]) -> None:
    flat, evtx = pair
    flat_lines, evtx_lines = _lines(flat), _lines(evtx)
    assert flat_lines.keys() == evtx_lines.keys()
    flat_ids = {ev["SpearhuntEventId"] for evs in flat_lines.values() for ev in evs}
    evtx_ids = {
        ev["Event"]["EventData"]["SpearhuntEventId"] for evs in evtx_lines.values() for ev in evs
    }
    assert flat_ids == evtx_ids and len(flat_ids) > 1000
    for host, events in flat_lines.items():
        assert [_flatten(ev) for ev in evtx_lines[host]] == events, host
    assert flat.truth["events"] == evtx.truth["events"]
    assert {e["id"] for e in evtx.truth["events"]} <= evtx_ids
    assert "evtx_dump" in (evtx.out / "README.txt").read_text()


def test_network_and_mail_do_not_depend_on_the_endpoint_format(pair: tuple[Sim, Sim]) -> None:
    flat, evtx = pair
    for name in ("conn.log", "dns.log", "http.log", "ssl.log"):
        assert (flat.out / "network" / name).read_bytes() == (
            evtx.out / "network" / name
        ).read_bytes()
    assert sorted(p.read_bytes() for p in (flat.out / "mail").iterdir()) == sorted(
        p.read_bytes() for p in (evtx.out / "mail").iterdir()
    )


@pytest.mark.shared_data
def test_hunt_engine_finds_the_same_detections_in_both_shapes(pair: tuple[Sim, Sim]) -> None:
    from spearhunt.detect.hunt import HuntOptions, hunt

    root = shared_data("sigma", "rules", "windows")
    rules = [
        root / line.strip()
        for line in RULE_LIST.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    found: dict[str, set[tuple[str, str]]] = {}
    for sim in pair:
        hits: list[Any] = []
        summary = hunt(
            HuntOptions(
                paths=[str(sim.out / "endpoint")], rules=rules, with_pack=False, use_cache=False
            ),
            hits.append,
        )
        assert summary.events == sim.result.endpoint_events and not summary.warnings
        found[sim.result.config.endpoint_format] = {
            (d.rule.rule_id, d.event["SpearhuntEventId"]) for d in hits
        }
    assert found["flat"] and found["flat"] == found["evtx-json"]
    bad = {e["id"] for e in pair[1].truth["events"]}
    assert {sid for _, sid in found["evtx-json"]} & bad  # the campaign is seen through evtx


def test_unknown_endpoint_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SimulateError, match="endpoint format"):
        simulate(tmp_path, SimulationConfig(**SMALL, endpoint_format="xml"))
