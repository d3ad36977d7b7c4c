"""Stories on real recorded intrusions (OTRF Security-Datasets, ../shared/data/otrf; its
README lists the quirks): issue 12's bar. The sets are hunted with the SigmaHQ rules that
fire on them (``otrf_rules.txt``) plus spearhunt's pack, then correlated."""

from __future__ import annotations

from pathlib import Path

import pytest

from spearhunt.correlate.config import CorrelateOptions, Internal, load_allowlist, parse_networks
from spearhunt.model.hosts import short_host
from spearhunt.model.story import CorrelationResult, Story
from spearhunt.pipeline import CaseInputs, CaseOptions, build_case
from tests.conftest import shared_data

pytestmark = pytest.mark.shared_data

RULE_LIST = Path(__file__).with_name("otrf_rules.txt")
SETS = {
    "psexec": "datasets/atomic/windows/lateral_movement/host/empire_psexec_dcerpc_tcp_svcctl.zip",
    "psremoting": "datasets/atomic/windows/lateral_movement/host/covenant_psremoting_command.zip",
    "mimikatz": "datasets/atomic/windows/credential_access/host/empire_mimikatz_logonpasswords.zip",
    "dcsync": "datasets/atomic/windows/credential_access/host/"
    "empire_dcsync_dcerpc_drsuapi_DsGetNCChanges.zip",
    "lsass1": "datasets/compound/LSASS_campaign_01/metasploit_logonpasswords_lsass_memory_dump.zip",
    "lsass1-zeek": "datasets/compound/LSASS_campaign_01/"
    "metasploit_logonpasswords_lsass_memory_dump_zeek_logs.zip",
    "lsass2": "datasets/compound/LSASS_campaign_02/metasploit_procdump_lsass_memory_dump.zip",
    "lsass2-zeek": "datasets/compound/LSASS_campaign_02/"
    "metasploit_procdump_lsass_memory_dump_zeek_logs.zip",
    "apt29-zeek": "datasets/compound/apt29/day1/zeek/combined_zeek.log",
}


def _rules() -> list[Path]:
    root = shared_data("sigma", "rules", "windows")
    names = [ln.strip() for ln in RULE_LIST.read_text().splitlines()]
    return [root / n for n in names if n and not n.startswith("#")]


@pytest.fixture(scope="module")
def sets() -> dict[str, Path]:
    """Each set as shipped: zips are read in place."""
    return {name: shared_data("otrf", rel) for name, rel in SETS.items()}


def _case(
    tmp: Path, paths: list[Path], internal: tuple[str, ...] = ()
) -> tuple[CorrelationResult, Path]:
    opts = CorrelateOptions(allowlist=load_allowlist(None))
    if internal:
        opts = CorrelateOptions(
            allowlist=load_allowlist(None), internal=Internal(parse_networks(internal, "test"))
        )
    store = tmp / "case.duckdb"
    inputs = CaseInputs.sniff([str(p) for p in paths])
    summary = build_case(inputs, store, CaseOptions(opts, tuple(_rules())))
    return summary.result, store


def _story_of(result: CorrelationResult, host: str) -> Story:
    found = [s for s in result.stories if any(short_host(h.host) == host for h in s.hosts)]
    assert found, f"no story holds {host}"
    return found[0]


@pytest.mark.parametrize(("name", "via"), [("psexec", "T1021.002"), ("psremoting", "T1021.006")])
def test_lateral_sets_give_one_story_from_workstation5_to_workstation6(
    name: str, via: str, sets: dict[str, Path], tmp_path: Path
):
    # WORKSTATION5's implant started before the capture: it has no alert before its logon
    result, _ = _case(tmp_path, [sets[name]])
    top = result.stories[0]
    assert short_host(top.patient_zero.host) == "workstation5"
    reached = {short_host(h.host): h for h in top.hosts}
    assert set(reached) == {"workstation5", "workstation6"}
    assert short_host(reached["workstation6"].reached_from) == "workstation5"
    assert reached["workstation6"].via == via
    # one story: the target's alerts are not a second story of their own
    assert not [
        s for s in result.stories[1:] if "workstation6" in {short_host(h.host) for h in s.hosts}
    ]


@pytest.fixture(scope="module")
def all_sets(
    sets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[CorrelationResult, Path]:
    """Every OTRF set in one case; the victims' networks are the internal ones."""
    return _case(
        tmp_path_factory.mktemp("all"),
        [p for n, p in sets.items() if n != "apt29-zeek"],
        ("192.168.0.0/16", "172.18.0.0/16"),
    )


@pytest.mark.parametrize(
    ("host", "first"), [("mkt01", "2023-08-16 04:5"), ("acct01", "2023-08-16 00:3")]
)
def test_lsass_sets_have_utc_times_and_the_c2_as_destination(
    host: str, first: str, all_sets: tuple[CorrelationResult, Path]
):
    story = _story_of(all_sets[0], host)
    # TimeCreated holds local time with a Z; Sysmon's UtcTime (and Zeek) are 19 h later
    assert str(story.first_seen).startswith(first)
    assert str(story.patient_zero.first_seen).startswith(first)
    assert "10.0.5.13" in {d.ip for d in story.destinations}


def test_every_high_detection_is_in_a_story_or_unassigned(
    all_sets: tuple[CorrelationResult, Path],
):
    import duckdb

    result, store = all_sets
    con = duckdb.connect(str(store), read_only=True)
    try:
        severe = con.execute(
            "SELECT DISTINCT computer, ts::DATE FROM detections WHERE level IN ('high', 'critical')"
        ).fetchall()
    finally:
        con.close()
    covered = {
        (short_host(e.host or ""), e.ts.date()) for s in result.stories for e in s.evidence if e.ts
    }
    covered |= {
        (short_host(u.host), d.date()) for u in result.unassigned for d in (u.first, u.last) if d
    }
    assert severe
    assert {(short_host(c), d) for c, d in severe} <= covered
    assert all(u.level in ("high", "critical") and u.count > 0 for u in result.unassigned)
    dcsync = [s for s in result.stories if "mordordc" in {short_host(h.host) for h in s.hosts}]
    assert dcsync, "the DCSync on the domain controller is in no story"
    assert any("DcSync" in e.what for s in dcsync for e in s.evidence)


def test_apt29_zeek_logs_alone_give_the_story_from_the_first_host_to_reach_the_attacker(
    sets: dict[str, Path], tmp_path: Path
):
    # Zeek JSON with '_' as scope separator and @stream; the victims are 10.0.0.0/8
    result, _ = _case(tmp_path, [sets["apt29-zeek"]], ("10.0.0.0/8",))
    assert dict(result.counts)["flows"] > 0
    top = result.stories[0]
    assert top.patient_zero.host == "10.0.1.4"
    reached = {h.host: h for h in top.hosts}
    assert reached["10.0.1.6"].reached_from == "10.0.1.4" and reached["10.0.1.6"].via
    assert {"192.168.0.4", "192.168.0.5"} <= {d.ip for d in top.destinations}
    # with private space as "ours" (the default) the attacker is inside: no such story
    (tmp_path / "b").mkdir()
    result, _ = _case(tmp_path / "b", [sets["apt29-zeek"]])
    assert not [d for s in result.stories for d in s.destinations if d.ip == "192.168.0.5"]
