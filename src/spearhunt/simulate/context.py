"""State shared by the noise and the campaign: per-host logs, sessions, external addresses."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from spearhunt.simulate.clock import HOUR, MINUTE, US, Clock
from spearhunt.simulate.config import SimulationConfig
from spearhunt.simulate.endpoint import SYSTEM_ACCOUNT, Account, HostLog, Proc, user_account
from spearhunt.simulate.images import IMAGES
from spearhunt.simulate.world import NETBIOS, Host, User, World
from spearhunt.simulate.zeek import NetLog

# Documentation ranges only (RFC 5737): nothing here points at a real machine. The mail
# servers have a range of their own, so that the addresses the endpoint and network logs
# show do not depend on whether the mail is generated.
_EXTERNAL_POOL = tuple(f"{net}.{i}" for net in ("192.0.2", "198.51.100") for i in range(11, 250))
_MAIL_POOL = tuple(f"203.0.113.{i}" for i in range(11, 250))


class Externals:
    """Stable, collision-free external address per domain name."""

    def __init__(
        self, rng: random.Random, reserved: tuple[str, ...], pool: tuple[str, ...] = _EXTERNAL_POOL
    ) -> None:
        free = [ip for ip in pool if ip not in reserved]
        rng.shuffle(free)
        self._free = free
        self._by_name: dict[str, str] = {}

    def reserve(self, names: tuple[str, ...]) -> None:
        """Allocate ``names`` now, in this order: their addresses then do not depend on which
        code asks first (some names are only asked for by the Zeek records)."""
        for name in names:
            self.ip(name)

    def ip(self, name: str) -> str:
        """The address ``name`` resolves to (allocated on first use)."""
        ip = self._by_name.get(name)
        if ip is None:
            ip = self._free.pop()
            self._by_name[name] = ip
        return ip


@dataclass(slots=True)
class Session:
    """A user's working day on a workstation: one interactive logon and its shell."""

    user: User
    account: Account
    start: int
    end: int
    explorer: Proc
    outlook: Proc
    browser: Proc | None = None
    share_logon: bool = False  # already mapped the file share today
    templates: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class HostState:
    """One host: its log and the long-running processes its events hang from."""

    host: Host
    log: HostLog
    services: Proc
    svchost: Proc
    schedule: Proc
    lsass: Proc
    winlogon: Proc
    wmiprvse: Proc
    msmpeng: Proc


class Sim:
    """Everything the generators share for one simulation run."""

    def __init__(self, cfg: SimulationConfig, world: World, clock: Clock) -> None:
        self.cfg = cfg
        self.world = world
        self.clock = clock
        # The network sensor, or None when Zeek is not generated: its records and everything
        # drawn for them only exist under ``if sim.net is not None``.
        self.net: NetLog | None = (
            NetLog(clock, random.Random(f"{cfg.seed}:net")) if "zeek" in cfg.sources else None
        )
        self._ports = random.Random(f"{cfg.seed}:ports")
        self.ext = Externals(random.Random(f"{cfg.seed}:ext"), (world.egress_ip,))
        self.mail_ext = Externals(random.Random(f"{cfg.seed}:mail-ext"), (), _MAIL_POOL)
        self.hosts: dict[str, HostState] = {}
        for host in world.hosts:
            log = HostLog(
                host,
                clock,
                random.Random(f"{cfg.seed}:host:{host.name}"),
                evtx=cfg.endpoint_format == "evtx-json",
            )
            svc = log.root_proc("services", "C:\\Windows\\system32\\services.exe")
            self.hosts[host.name] = HostState(
                host=host,
                log=log,
                services=svc,
                svchost=log.root_proc(
                    "svchost", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p"
                ),
                schedule=log.root_proc(
                    "svchost", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule"
                ),
                lsass=log.root_proc("lsass", "C:\\Windows\\system32\\lsass.exe"),
                winlogon=log.root_proc("winlogon", "winlogon.exe"),
                wmiprvse=log.root_proc(
                    "wmiprvse",
                    "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
                    Account("NETWORK SERVICE", "NT AUTHORITY", "S-1-5-20", "0x3e4"),
                ),
                msmpeng=log.root_proc(
                    "msmpeng",
                    '"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\'
                    '4.18.24020.7-0\\MsMpEng.exe"',
                ),
            )
        self._sessions: dict[tuple[str, int], Session | None] = {}
        self.file_servers = world.by_role("file")
        self.workstations = world.by_role("ws", "ws-eng")
        self.dc_ip = world.dc.ip
        self.owners = {host.name: world.owner_of(host) for host in world.hosts}

    def port(self) -> int:
        """An ephemeral source port that an endpoint event shows (Sysmon 3, Security 4624):
        drawn whether or not Zeek is generated; pass it on to the Zeek record of the same
        connection."""
        return 49152 + int(self._ports.random() * 16000)

    def logon_id(self, rng: random.Random) -> str:
        """A fresh logon id in hex."""
        return hex(0x100000 + rng.getrandbits(26))

    def logon_guid(self, rng: random.Random) -> str:
        """A Kerberos logon GUID."""
        n = rng.getrandbits(128)
        h = f"{n:032X}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def session(self, host: Host, day: int) -> Session | None:
        """The owner's interactive session on ``host`` that day (None on a day off).

        Created on first request, whoever asks (noise or campaign), so both hang their
        events from the same explorer.exe and OUTLOOK.EXE.
        """
        key = (host.name, day)
        if key in self._sessions:
            return self._sessions[key]
        user = self.owners[host.name]
        rng = random.Random(f"{self.cfg.seed}:session:{host.name}:{day}")
        weekday = (self.cfg.start.weekday() + day) % 7
        works = user is not None and ((weekday < 5 and rng.random() < 0.93) or rng.random() < 0.08)
        if not works or user is None:
            self._sessions[key] = None
            return None
        start = (
            self.clock.day_start(day)
            + int((7.2 + rng.random() * 2.3) * HOUR)
            + int(rng.random() * MINUTE)
        )
        end = start + int((8 + rng.random() * 2.5) * HOUR)
        hs = self.hosts[host.name]
        log = hs.log
        account = user_account(user, self.logon_id(rng), self.logon_guid(rng))
        log.logon(start, account, 2, "127.0.0.1", host.name.upper())
        dc = self.hosts[self.world.dc.name]
        dc.log.logon(
            start - 300_000,
            Account(user.sam, NETBIOS, user.sid, self.logon_id(rng), account.logon_guid),
            3,
            host.ip,
            "-",
            kerberos=True,
            port=self.port(),
        )
        t = start + 2 * US
        userinit, _ = log.process(
            t, IMAGES["userinit"], "C:\\Windows\\system32\\userinit.exe", hs.winlogon, account
        )
        explorer, _ = log.process(
            t + 900_000,
            IMAGES["explorer"],
            "C:\\Windows\\Explorer.EXE",
            userinit,
            account,
            cwd="C:\\Windows\\system32\\",
        )
        home = f"C:\\Users\\{user.sam}\\"
        log.process(
            t + 9 * US,
            IMAGES["onedrive"],
            '"C:\\Program Files\\Microsoft OneDrive\\OneDrive.exe" /background',
            explorer,
            account,
            cwd=home,
        )
        log.process(
            t + 14 * US,
            IMAGES["teams"],
            f'"{IMAGES["teams"].path}" msteams:system-initiated',
            explorer,
            account,
            cwd=home,
        )
        outlook, _ = log.process(
            t + int((40 + rng.random() * 600) * US),
            IMAGES["outlook"],
            f'"{IMAGES["outlook"].path}" ',
            explorer,
            account,
            cwd=home,
        )
        session = Session(user, account, start, end, explorer, outlook)
        self._sessions[key] = session
        return session

    def system_child(
        self,
        hs: HostState,
        ts: int,
        key: str,
        cmdline: str,
        parent: Proc | None = None,
        account: Account = SYSTEM_ACCOUNT,
    ) -> Proc:
        """A process started by the system (services, scheduler) as SYSTEM."""
        return hs.log.spawn(
            ts, IMAGES[key], cmdline, parent or hs.services, account, integrity="System"
        )
