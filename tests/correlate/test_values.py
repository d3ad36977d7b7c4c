"""Correlation on plain values, without a database (the way capa tests its engine): the rows
the store would read are written here by hand, facts and stories are built from them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from spearhunt.correlate import facts as F
from spearhunt.correlate.config import CorrelateOptions
from spearhunt.correlate.network import NetRows, analyse
from spearhunt.correlate.story import build
from spearhunt.store.detections import AlertRow
from spearhunt.store.events import (
    ActionRow,
    AddressSighting,
    HostCount,
    InteractiveRow,
    LogonRow,
)
from spearhunt.store.mail import AttachmentRow, MailRow
from spearhunt.store.network import FlowRow

T0 = datetime(2026, 3, 2, 9, 0, 0)
SHA = "ab" * 32
TABLES = frozenset({"events", "detections", "mail_messages", "mail_attachments"})


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class Lookup:
    """EventLookup over a handful of values: one attachment sighting, one process tree."""

    def __init__(self, sightings: list[F.FileSeen], children: dict[str, set[str]]) -> None:
        self.sightings = sightings
        self.children = children
        self.asked: list[tuple[list[str], list[str]]] = []

    def attachment_sightings(self, names: list[str], hashes: list[str]) -> list[F.FileSeen]:
        self.asked.append((names, hashes))
        return [s for s in self.sightings if any(n.lower() in s.path for n in names)]

    def process_tree(self, host_name: str, roots: list[str]) -> set[str]:
        out = set(roots)
        for r in roots:
            out |= self.children.get(r, set())
        return out

    def process_destinations(self, procs: list[tuple[str, str]]) -> list[F.Outbound]:
        return []


def alert(eid: int, minutes: float, host: str, rule: str, proc: str = "", **kw: object) -> AlertRow:
    base = AlertRow(
        eid,
        rule,
        rule.replace("-", " "),
        "high",
        ("execution",),
        ("T1059.001",),
        at(minutes),
        host,
        "CORP\\alice",
        proc,
        "",
        "",
        "c:\\windows\\system32\\windowspowershell\\v1.0\\powershell.exe",
        "powershell -enc AAAA",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def case_rows(with_logon: bool = True) -> F.CaseRows:
    logons = (
        (
            LogonRow(
                30, at(20), "SRV-1.corp.example", 4624, "alice", "10.0.0.11", "WS-1", 3, "0x1", ""
            ),
        )
        if with_logon
        else ()
    )
    return F.CaseRows(
        TABLES,
        hosts=tuple(
            HostCount(h, 100)
            for h in ("WS-1.corp.example", "SRV-1.corp.example", "WS-2.corp.example")
        ),
        addresses=(
            AddressSighting("WS-1.corp.example", "10.0.0.11", 40, True),
            AddressSighting("WS-2.corp.example", "10.0.0.12", 40, True),
            AddressSighting("SRV-1.corp.example", "127.0.0.1", 9, True),  # weak: links nothing
        ),
        alerts=(
            alert(10, 6, "WS-1.corp.example", "ps-encoded", proc="{p2}"),
            alert(31, 21, "SRV-1.corp.example", "service-install", proc="{s1}"),
        ),
        mails=(
            MailRow(
                "<m1@evil.example>",
                "Invoice",
                "billing@evil.example",
                ("alice@corp.example",),
                "Mon, 02 Mar 2026 09:00:00 +0000",
                "malicious",
                140,
            ),
        ),
        attachments=(AttachmentRow("<m1@evil.example>", "invoice_q1.docm", SHA.upper()),),
        logons=logons,
        actions=(ActionRow(32, at(21), "SRV-1.corp.example", "service", "updsvc c:\\x.exe"),),
        interactive=(
            InteractiveRow("WS-1.corp.example", "CORP\\alice", 12),
            InteractiveRow("WS-1.corp.example", "SYSTEM", 50),  # weak account: not a user
        ),
    )


def lookup() -> Lookup:
    seen = F.FileSeen(
        9,
        at(5),
        "ws-1",
        1,
        "c:\\users\\alice\\downloads\\invoice_q1.docm",
        "c:\\program files\\microsoft office\\winword.exe",
        "alice",
        "{p1}",
        "",
    )
    return Lookup([seen], {"{p1}": {"{p2}"}})


def test_facts_from_rows_shape_hosts_accounts_and_addresses():
    facts = F.from_rows(case_rows())
    assert facts.hosts == {
        "ws-1": "WS-1.corp.example",
        "srv-1": "SRV-1.corp.example",
        "ws-2": "WS-2.corp.example",
    }
    assert facts.ip_host == {"10.0.0.11": "ws-1", "10.0.0.12": "ws-2"}  # loopback never votes
    assert (facts.alerts[0].host, facts.alerts[0].user, facts.alerts[0].proc) == (
        "ws-1",
        "alice",
        "{p2}",
    )
    assert facts.mails[0].attachments == (("invoice_q1.docm", SHA),)  # hash lower case
    assert facts.interactive == {"ws-1": {"alice": 12}}  # SYSTEM is no user
    lg = facts.logons[0]
    assert (lg.host, lg.account, lg.src_ip, lg.src_ws) == ("srv-1", "alice", "10.0.0.11", "ws-1")


def test_facts_without_events_keep_only_the_mails():
    rows = replace(case_rows(), tables=frozenset({"mail_messages"}))
    facts = F.from_rows(rows)
    assert len(facts.mails) == 1
    assert not facts.hosts and not facts.alerts and not facts.logons


def test_story_from_values_follows_mail_to_host_and_lateral_logon():
    facts = F.from_rows(case_rows())
    net = analyse(NetRows({}, False, (), ()), facts, CorrelateOptions().allowlist)
    look = lookup()
    stories = build(look, facts, net, CorrelateOptions())
    assert look.asked == [(["invoice_q1.docm"], [SHA])]
    top = stories[0]
    pz = top.patient_zero
    # stories name hosts as the logs do
    assert (pz.host, pz.user, pz.message_id) == ("WS-1.corp.example", "alice", "<m1@evil.example>")
    assert {h.host for h in top.hosts} >= {"WS-1.corp.example", "SRV-1.corp.example"}
    assert {e.ref for e in top.evidence} >= {"alert:10:ps-encoded", "alert:31:service-install"}


def test_story_from_values_stops_without_the_remote_logon():
    facts = F.from_rows(case_rows(with_logon=False))
    net = analyse(NetRows({}, False, (), ()), facts, CorrelateOptions().allowlist)
    stories = build(lookup(), facts, net, CorrelateOptions())
    top = stories[0]
    assert top.patient_zero.message_id == "<m1@evil.example>"
    assert "SRV-1.corp.example" not in {h.host for h in top.hosts}


def _flow(times: list[float]) -> FlowRow:
    start = T0.timestamp()
    return FlowRow(
        "WS-1.corp.example",
        "203.0.113.9",
        100 * len(times),
        50 * len(times),
        len(times),
        datetime.fromtimestamp(start + times[0]),
        datetime.fromtimestamp(start + times[-1]),
        tuple(start + t for t in times),
        None,
    )


def test_network_from_values_scores_a_regular_beacon():
    facts = F.from_rows(case_rows())
    regular = _flow([600.0 * i for i in range(40)])
    net = analyse(NetRows({}, False, (regular,), ()), facts, CorrelateOptions().allowlist)
    assert [(b.host, b.destination) for b in net.beacons] == [("ws-1", "203.0.113.9")]
    assert net.flows[0].bytes_out == 4000


def test_network_from_values_no_beacon_for_irregular_traffic():
    facts = F.from_rows(case_rows())
    gaps = [1, 2, 30, 31, 500, 501, 502, 4000, 4100, 9000, 9001, 15000, 15002, 20000, 20100]
    net = analyse(
        NetRows({}, False, (_flow([float(g) for g in gaps]),), ()),
        facts,
        CorrelateOptions().allowlist,
    )
    assert net.beacons == [] and len(net.flows) == 1


def test_lateral_link_candidates_follow_the_cases_internal_networks():
    # A connection to an admin port is a lateral-link candidate only if its destination is
    # one of ours: with --internal 10.0.0.0/24, an attacker box at 10.0.5.13 (private
    # space, but not the network's) is no hop, however the port looks.
    from spearhunt.correlate.config import Internal, parse_networks
    from spearhunt.store.events import ConnRow

    conns = (
        ConnRow(40, at(30), "WS-1.corp.example", "{c1}", "c:\\psexec.exe", "10.0.0.12", 445),
        ConnRow(41, at(31), "WS-1.corp.example", "{c1}", "c:\\psexec.exe", "10.0.5.13", 445),
        ConnRow(42, at(32), "WS-1.corp.example", "{c1}", "c:\\psexec.exe", "203.0.113.9", 445),
    )
    rows = replace(case_rows(), conns=conns)
    default = F.from_rows(rows)
    assert [c.dst_ip for c in default.conns] == ["10.0.0.12", "10.0.5.13"]
    ours = Internal(parse_networks(["10.0.0.0/24"], "--internal"))
    narrowed = F.from_rows(rows, ours)
    assert [c.dst_ip for c in narrowed.conns] == ["10.0.0.12"]
