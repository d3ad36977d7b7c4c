"""Templated noise events are the events the ordinary builders make, byte for byte."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from io import BytesIO

import pytest

from spearhunt.simulate.clock import US, Clock
from spearhunt.simulate.endpoint import SYSTEM_ACCOUNT, Account, HostLog, Template, write_lines
from spearhunt.simulate.images import IMAGES
from spearhunt.simulate.world import NETBIOS, Host

HOST = Host("fs-01", "file", "10.10.1.20")
USER = Account(
    "j.smith", NETBIOS, "S-1-5-21-1-2-3-1104", "0x1a2b3c", "0A1B2C3D-0000-1111-2222-333344445555"
)


def _write(evtx: bool, emit: Callable[[HostLog], None]) -> bytes:
    """The bytes a fresh host log writes for what ``emit`` appends (same generator seed)."""
    log = HostLog(HOST, Clock(date(2026, 3, 2), 4), random.Random(3), evtx=evtx)
    emit(log)
    out = BytesIO()
    write_lines(out, log.finalize())
    return out.getvalue()


def _ts(log: HostLog) -> int:
    return log.clock.day_start(1) + 9 * 3600 * US + 123_457


CASES: dict[str, tuple[Callable[[HostLog], object], Callable[[HostLog], object]]] = {
    "logon": (
        lambda log: log.logon(_ts(log), USER, 3, "10.10.20.31", "WS-004", port=51234),
        lambda log: log.noise_logon(_ts(log), USER, 3, "10.10.20.31", "WS-004", port=51234),
    ),
    "unlock": (
        lambda log: log.logon(_ts(log), USER, 7, "127.0.0.1", "FS-01"),
        lambda log: log.noise_logon(_ts(log), USER, 7, "127.0.0.1", "FS-01"),
    ),
    "registry": (
        lambda log: log.registry(_ts(log), _proc(log), "HKLM\\SOFTWARE\\X\\Index", "DWORD (0x3)"),
        lambda log: log.noise_registry(
            _ts(log), _proc(log), "HKLM\\SOFTWARE\\X\\Index", "DWORD (0x3)"
        ),
    ),
    # A percent sign in the fixed text: a template's text is not a %-format once filled.
    "registry with a percent sign": (
        lambda log: log.registry(
            _ts(log), _proc(log), "HKLM\\SOFTWARE\\%SystemRoot%\\X", "100% (0x64)"
        ),
        lambda log: log.noise_registry(
            _ts(log), _proc(log), "HKLM\\SOFTWARE\\%SystemRoot%\\X", "100% (0x64)"
        ),
    ),
}


def _proc(log: HostLog) -> object:
    return log.root_proc("svchost", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p")


@pytest.mark.parametrize("evtx", [False, True], ids=["flat", "evtx-json"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_templated_event_is_the_builders_event(name: str, evtx: bool) -> None:
    built, templated = CASES[name]
    data = _write(evtx, built)
    assert data.count(b"\n") == 1
    assert data == _write(evtx, templated)


def _pid_draws(log: HostLog, n: int) -> list[int]:
    """The next ``n`` process ids the log's generator would give, without using them up."""
    state = log._rng.getstate()
    pids = [log.pid() for _ in range(n)]
    log._rng.setstate(state)
    return pids


@pytest.mark.parametrize("evtx", [False, True], ids=["flat", "evtx-json"])
def test_templated_shares_and_lsass_reads_are_the_builders_events(evtx: bool) -> None:
    # These draw a port or thread id per event, so each side replays the same draws.
    def built(log: HostLog) -> None:
        t = _ts(log)
        src, lsass = _proc(log), log.root_proc("lsass", "C:\\Windows\\system32\\lsass.exe")
        log.share_access(t, USER, "10.10.20.31", "Engineering")
        log.share_access(
            t + 1,
            USER,
            "10.10.20.31",
            "Engineering",
            'Programs\\HX-40\\Design\\test plan "rev C".pdf',
            "0x120089",
        )
        log.process_access(t + 2, src, lsass, "0x1410", "C:\\Windows\\SYSTEM32\\ntdll.dll+9f7e4")

    def templated(log: HostLog) -> None:
        t = _ts(log)
        src, lsass = _proc(log), log.root_proc("lsass", "C:\\Windows\\system32\\lsass.exe")
        # The first use of each template builds it from a real event, which draws too.
        state = log._rng.getstate()
        log.noise_share_access(t, USER, "10.10.20.31", "Engineering")
        log.noise_share_access(
            t + 1,
            USER,
            "10.10.20.31",
            "Engineering",
            'Programs\\HX-40\\Design\\test plan "rev C".pdf',
            "0x120089",
        )
        log.noise_process_access(
            t + 2, src, lsass, "0x1410", "C:\\Windows\\SYSTEM32\\ntdll.dll+9f7e4"
        )
        del log.buffer[:]
        log._rng.setstate(state)
        log.noise_share_access(t, USER, "10.10.20.31", "Engineering")
        log.noise_share_access(
            t + 1,
            USER,
            "10.10.20.31",
            "Engineering",
            'Programs\\HX-40\\Design\\test plan "rev C".pdf',
            "0x120089",
        )
        log.noise_process_access(
            t + 2, src, lsass, "0x1410", "C:\\Windows\\SYSTEM32\\ntdll.dll+9f7e4"
        )

    data = _write(evtx, built)
    assert data.count(b"\n") == 3
    assert data == _write(evtx, templated)


@pytest.mark.parametrize("evtx", [False, True], ids=["flat", "evtx-json"])
def test_spawned_process_is_the_builders_process(evtx: bool) -> None:
    # A non-ASCII product name (®) and a command line that needs JSON escapes.
    cmd = 'cmd.exe /c "echo %PATH% > C:\\Temp\\x.txt"'

    # The same user in two logon sessions shares one pair of templates.
    other = Account(
        USER.name, USER.domain, USER.sid, "0x4d5e6f", "9F8E7D6C-0000-1111-2222-333344445555"
    )

    def built(log: HostLog) -> None:
        parent = _proc(log)
        log.process(_ts(log), IMAGES["cmd"], cmd, parent, SYSTEM_ACCOUNT, integrity="System")
        for account in (USER, other):
            log.process(_ts(log) + 1, IMAGES["excel"], "EXCEL.EXE", parent, account)

    def templated(log: HostLog) -> None:
        parent = _proc(log)
        log.spawn(_ts(log), IMAGES["cmd"], cmd, parent, SYSTEM_ACCOUNT, integrity="System")
        for account in (USER, other):
            log.spawn(_ts(log) + 1, IMAGES["excel"], "EXCEL.EXE", parent, account)

    data = _write(evtx, templated)
    assert data.count(b"\n") == 6
    assert data == _write(evtx, built)
    assert "Microsoft® Windows® Operating System".encode() in data


def test_template_variable_fields_must_follow_the_event_order() -> None:
    log = HostLog(HOST, Clock(date(2026, 3, 2), 4), random.Random(3))
    ev = log.logon(_ts(log), USER, 3, "10.10.20.31", "WS-004")
    with pytest.raises(ValueError, match="event order"):
        Template(ev, ("IpPort", "TargetLogonId"))


def test_fill_makes_the_text_of_the_percent_format_for_any_number_of_holes() -> None:
    log = HostLog(HOST, Clock(date(2026, 3, 2), 4), random.Random(3))
    ev = log.logon(_ts(log), Account("50%\\x", NETBIOS, "S-1", "0x1"), 3, "10.0.0.1", "%s%%")
    for variable in ((), ("TargetLogonId",), ("TargetUserName", "LogonType", "IpPort")):
        template = Template(ev, variable)
        values = tuple(f'a"{i}%s' if i % 2 else i for i in range(len(variable)))
        assert template.fill(*values) == template.tail % values
    with pytest.raises(TypeError):
        Template(ev, ("TargetLogonId",)).fill()
