"""Windows events in the flat Sigma-field shape: Sysmon, Security, System and friends.

Each builder returns one event ``dict`` and appends ``(timestamp_us, None, event)`` to the host's
buffer. System fields come first with placeholders; ``finalize`` fills ``TimeCreated``,
``EventRecordID`` (per host and channel) and ``SpearhuntEventId`` once the buffer is sorted,
so those follow the time order of the file.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import Any, BinaryIO

import orjson

from spearhunt.simulate.clock import HMS, US, Clock
from spearhunt.simulate.images import IMAGES, Image
from spearhunt.simulate.world import NETBIOS, Host, User

Event = dict[str, Any]

SYSMON = "Microsoft-Windows-Sysmon/Operational"
SYSMON_P = "Microsoft-Windows-Sysmon"
SECURITY = "Security"
SECURITY_P = "Microsoft-Windows-Security-Auditing"
SYSTEM = "System"
SCM_P = "Service Control Manager"
POWERSHELL = "Microsoft-Windows-PowerShell/Operational"
POWERSHELL_P = "Microsoft-Windows-PowerShell"
RCM = "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"
RCM_P = "Microsoft-Windows-TerminalServices-RemoteConnectionManager"

_INTEGRITY_LABEL = {
    "Low": "S-1-16-4096",
    "Medium": "S-1-16-8192",
    "High": "S-1-16-12288",
    "System": "S-1-16-16384",
}


@dataclass(slots=True)
class Account:
    """Who a process or logon runs as, within one logon session."""

    name: str
    domain: str
    sid: str
    logon_id: str  # hex, e.g. 0x3e7
    logon_guid: str = "00000000-0000-0000-0000-000000000000"

    @property
    def qualified(self) -> str:
        """``DOMAIN\\name`` as Sysmon's User field shows it."""
        return f"{self.domain}\\{self.name}"


SYSTEM_ACCOUNT = Account("SYSTEM", "NT AUTHORITY", "S-1-5-18", "0x3e7")
NETWORK_SERVICE = Account("NETWORK SERVICE", "NT AUTHORITY", "S-1-5-20", "0x3e4")


def user_account(user: User, logon_id: str, logon_guid: str, *, admin: bool = False) -> Account:
    """A domain account in a logon session (the admin account when ``admin``)."""
    if admin and user.admin_sam and user.admin_sid:
        return Account(user.admin_sam, NETBIOS, user.admin_sid, logon_id, logon_guid)
    return Account(user.sam, NETBIOS, user.sid, logon_id, logon_guid)


@dataclass(slots=True)
class Proc:
    """A running process, to be referenced as a parent or as the actor of later events."""

    guid: str
    pid: int
    image: Image
    cmdline: str
    account: Account
    integrity: str = "Medium"


class HostLog:
    """The event buffer and id counters of one host."""

    __slots__ = (
        "_guid_prefix",
        "_guid_seq",
        "_rng",
        "_spawns",
        "_templates",
        "account_sid_machine",
        "buffer",
        "clock",
        "computer",
        "evtx",
        "host",
        "record_ids",
        "seq",
        "written",
    )

    def __init__(self, host: Host, clock: Clock, rng: random.Random, *, evtx: bool = False) -> None:
        self.host = host
        self.evtx = evtx  # write evtx_dump-style JSON instead of the flat shape
        self.clock = clock
        self.computer = host.fqdn
        self.buffer: list[tuple[int, Template | None, Any]] = []
        self.record_ids: dict[str, int] = {}
        self.seq = 0
        self.written = 0
        self._rng = rng
        self._guid_prefix = f"{rng.getrandbits(32):08X}"
        self._guid_seq = rng.randrange(0x100, 0x2000)
        self.account_sid_machine = host.machine_account
        self._spawns: dict[tuple[str | bool, ...], tuple[Template, Template]] = {}
        self._templates: dict[tuple[Any, ...], Template] = {}

    # ---- identifiers -------------------------------------------------------------------
    def guid(self, ts: int) -> str:
        """A Sysmon-style process GUID: machine part, start time, a per-boot counter."""
        self._guid_seq += 1
        secs = ts // 1_000_000
        seq = self._guid_seq
        # One %-format is cheaper than four f-string format specs on this hot path.
        return "%s-%04X-%04X-%04X-%08X0000" % (  # noqa: UP031
            self._guid_prefix,
            secs & 0xFFFF,
            (secs >> 16) & 0xFFFF,
            seq & 0xFFFF,
            seq >> 16,
        )

    def pid(self) -> int:
        """A plausible Windows process id (multiple of 4)."""
        return (int(self._rng.random() * 9000) + 300) * 4

    def root_proc(
        self, key: str, cmdline: str, account: Account = SYSTEM_ACCOUNT, ts: int = 0
    ) -> Proc:
        """A process started before the logs begin (services.exe, svchost.exe ...)."""
        return Proc(self.guid(ts), self.pid(), IMAGES[key], cmdline, account, "System")

    # ---- Sysmon ------------------------------------------------------------------------
    def process(
        self,
        ts: int,
        image: Image,
        cmdline: str,
        parent: Proc,
        account: Account,
        cwd: str = "C:\\Windows\\system32\\",
        integrity: str = "Medium",
        security: bool = True,
    ) -> tuple[Proc, Event]:
        """Process creation: Sysmon 1 and (by default) Security 4688."""
        proc = Proc(self.guid(ts), self.pid(), image, cmdline, account, integrity)
        ev, sec = self._process_events(proc, parent, cwd)
        self.buffer.append((ts, None, ev))
        if security:
            self.buffer.append((ts + 37, None, sec))
        return proc, ev

    def _process_events(self, proc: Proc, parent: Proc, cwd: str) -> tuple[Event, Event]:
        image, account, integrity, cmdline = proc.image, proc.account, proc.integrity, proc.cmdline
        ev: Event = {
            "EventID": 1,
            "Channel": SYSMON,
            "Provider_Name": SYSMON_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "RuleName": "-",
            "UtcTime": "",
            "ProcessGuid": proc.guid,
            "ProcessId": proc.pid,
            "Image": image.path,
            "FileVersion": image.version,
            "Description": image.description,
            "Product": image.product,
            "Company": image.company,
            "OriginalFileName": image.original,
            "CommandLine": cmdline,
            "CurrentDirectory": cwd,
            "User": account.qualified,
            "LogonGuid": account.logon_guid,
            "LogonId": account.logon_id,
            "TerminalSessionId": 0 if account.logon_id == "0x3e7" else 1,
            "IntegrityLevel": integrity,
            "Hashes": image.hashes,
            "ParentProcessGuid": parent.guid,
            "ParentProcessId": parent.pid,
            "ParentImage": parent.image.path,
            "ParentCommandLine": parent.cmdline,
            "ParentUser": parent.account.qualified,
        }
        sec: Event = {
            "EventID": 4688,
            "Channel": SECURITY,
            "Provider_Name": SECURITY_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "SubjectUserSid": account.sid,
            "SubjectUserName": account.name,
            "SubjectDomainName": account.domain,
            "SubjectLogonId": account.logon_id,
            "NewProcessId": hex(proc.pid),
            "NewProcessName": image.path,
            "TokenElevationType": "%%1938" if integrity != "High" else "%%1937",
            "ProcessId": hex(parent.pid),
            "CommandLine": cmdline,
            "TargetUserSid": "S-1-0-0",
            "TargetUserName": "-",
            "TargetDomainName": "-",
            "TargetLogonId": "0x0",
            "ParentProcessName": parent.image.path,
            "MandatoryLabel": _INTEGRITY_LABEL.get(integrity, "S-1-16-8192"),
        }
        return ev, sec

    def spawn(
        self,
        ts: int,
        image: Image,
        cmdline: str,
        parent: Proc,
        account: Account,
        cwd: str = "C:\\Windows\\system32\\",
        integrity: str = "Medium",
    ) -> Proc:
        """Process creation like :meth:`process` (Sysmon 1 and Security 4688), from templates.

        For the noise, which never reads the events back: the pair of templates is built once
        per image, kind of parent (image, command line, user), account, folder and integrity,
        and each call fills the process id, GUID and command line, the logon session and the
        parent's id and GUID.
        """
        key = (
            image.path,
            image.hashes,
            parent.image.path,
            parent.cmdline,
            parent.account.qualified,
            account.name,
            account.domain,
            account.sid,
            account.logon_id == SYSTEM_ACCOUNT.logon_id,
            cwd,
            integrity,
        )
        pair = self._spawns.get(key)
        if pair is None:
            if len(self._spawns) > 10_000:
                self._spawns.clear()
            sysmon, security = self._process_events(
                Proc("x", 0, image, "x", account, integrity), parent, cwd
            )
            pair = self._spawns[key] = (
                Template(
                    sysmon,
                    (
                        "ProcessGuid",
                        "ProcessId",
                        "CommandLine",
                        "LogonGuid",
                        "LogonId",
                        "ParentProcessGuid",
                        "ParentProcessId",
                    ),
                    json=("CommandLine",),
                ),
                Template(
                    security,
                    ("SubjectLogonId", "NewProcessId", "ProcessId", "CommandLine"),
                    json=("CommandLine",),
                ),
            )
        proc = Proc(self.guid(ts), self.pid(), image, cmdline, account, integrity)
        command = orjson.dumps(cmdline).decode()
        first, second = pair
        self.buffer.append(
            (
                ts,
                first,
                first.fill(
                    proc.guid,
                    proc.pid,
                    command,
                    account.logon_guid,
                    account.logon_id,
                    parent.guid,
                    parent.pid,
                ),
            )
        )
        self.buffer.append(
            (
                ts + 37,
                second,
                second.fill(account.logon_id, hex(proc.pid), hex(parent.pid), command),
            )
        )
        return proc

    def network(
        self,
        ts: int,
        proc: Proc,
        src_ip: str,
        src_port: int,
        dst_ip: str,
        dst_port: int,
        dst_host: str = "",
        protocol: str = "tcp",
        initiated: bool = True,
    ) -> Event:
        """Sysmon 3, network connection."""
        ev: Event = {
            "EventID": 3,
            "Channel": SYSMON,
            "Provider_Name": SYSMON_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "RuleName": "-",
            "UtcTime": "",
            "ProcessGuid": proc.guid,
            "ProcessId": proc.pid,
            "Image": proc.image.path,
            "User": proc.account.qualified,
            "Protocol": protocol,
            "Initiated": "true" if initiated else "false",
            "SourceIsIpv6": "false",
            "SourceIp": src_ip,
            "SourceHostname": self.computer if initiated else "",
            "SourcePort": src_port,
            "SourcePortName": "",
            "DestinationIsIpv6": "false",
            "DestinationIp": dst_ip,
            "DestinationHostname": dst_host,
            "DestinationPort": dst_port,
            "DestinationPortName": _PORT_NAMES.get(dst_port, ""),
        }
        self.buffer.append((ts, None, ev))
        return ev

    def dns(self, ts: int, proc: Proc, query: str, results: str, status: int = 0) -> Event:
        """Sysmon 22, DNS query (QueryResults as Sysmon writes them: ``::ffff:a.b.c.d;``)."""
        ev: Event = {
            "EventID": 22,
            "Channel": SYSMON,
            "Provider_Name": SYSMON_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "RuleName": "-",
            "UtcTime": "",
            "ProcessGuid": proc.guid,
            "ProcessId": proc.pid,
            "QueryName": query,
            "QueryStatus": str(status),
            "QueryResults": results,
            "Image": proc.image.path,
            "User": proc.account.qualified,
        }
        self.buffer.append((ts, None, ev))
        return ev

    def file_create(self, ts: int, proc: Proc, path: str) -> Event:
        """Sysmon 11, file created."""
        ev: Event = {
            "EventID": 11,
            "Channel": SYSMON,
            "Provider_Name": SYSMON_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "RuleName": "-",
            "UtcTime": "",
            "ProcessGuid": proc.guid,
            "ProcessId": proc.pid,
            "Image": proc.image.path,
            "TargetFilename": path,
            "CreationUtcTime": "",
            "User": proc.account.qualified,
        }
        self.buffer.append((ts, None, ev))
        return ev

    def stream_hash(self, ts: int, proc: Proc, path: str, hashes: str, contents: str) -> Event:
        """Sysmon 15, alternate data stream (Zone.Identifier) written beside a file."""
        ev: Event = {
            "EventID": 15,
            "Channel": SYSMON,
            "Provider_Name": SYSMON_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "RuleName": "-",
            "UtcTime": "",
            "ProcessGuid": proc.guid,
            "ProcessId": proc.pid,
            "Image": proc.image.path,
            "TargetFilename": path + ":Zone.Identifier",
            "CreationUtcTime": "",
            "Hash": hashes,
            "Contents": contents,
            "User": proc.account.qualified,
        }
        self.buffer.append((ts, None, ev))
        return ev

    def image_load(
        self,
        ts: int,
        proc: Proc,
        path: str,
        hashes: str,
        signed: bool = False,
        description: str = "",
        original: str = "",
    ) -> Event:
        """Sysmon 7, an image (DLL) loaded into a process."""
        ev: Event = {
            "EventID": 7,
            "Channel": SYSMON,
            "Provider_Name": SYSMON_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "RuleName": "-",
            "UtcTime": "",
            "ProcessGuid": proc.guid,
            "ProcessId": proc.pid,
            "Image": proc.image.path,
            "ImageLoaded": path,
            "FileVersion": "-",
            "Description": description or "-",
            "Product": "-",
            "Company": "-",
            "OriginalFileName": original or "-",
            "Hashes": hashes,
            "Signed": "true" if signed else "false",
            "Signature": "Microsoft Windows" if signed else "-",
            "SignatureStatus": "Valid" if signed else "Unavailable",
            "User": proc.account.qualified,
        }
        self.buffer.append((ts, None, ev))
        return ev

    def registry(
        self, ts: int, proc: Proc, key: str, details: str, event_type: str = "SetValue"
    ) -> Event:
        """Sysmon 13 (value set) or 12 (key created / deleted)."""
        is_set = event_type == "SetValue"
        ev: Event = {
            "EventID": 13 if is_set else 12,
            "Channel": SYSMON,
            "Provider_Name": SYSMON_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "RuleName": "-",
            "EventType": event_type,
            "UtcTime": "",
            "ProcessGuid": proc.guid,
            "ProcessId": proc.pid,
            "Image": proc.image.path,
            "TargetObject": key,
            "User": proc.account.qualified,
        }
        if is_set:
            ev["Details"] = details
        self.buffer.append((ts, None, ev))
        return ev

    def process_access(
        self, ts: int, source: Proc, target: Proc, access: str, call_trace: str
    ) -> Event:
        """Sysmon 10, a process opened another (LSASS access and its benign look-alikes)."""
        ev: Event = {
            "EventID": 10,
            "Channel": SYSMON,
            "Provider_Name": SYSMON_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "RuleName": "-",
            "UtcTime": "",
            "SourceProcessGUID": source.guid,
            "SourceProcessId": source.pid,
            "SourceThreadId": self.pid() + 1,
            "SourceImage": source.image.path,
            "TargetProcessGUID": target.guid,
            "TargetProcessId": target.pid,
            "TargetImage": target.image.path,
            "GrantedAccess": access,
            "CallTrace": call_trace,
            "SourceUser": source.account.qualified,
            "TargetUser": target.account.qualified,
        }
        self.buffer.append((ts, None, ev))
        return ev

    def pipe(self, ts: int, proc: Proc, name: str, connected: bool = False) -> Event:
        """Sysmon 17 (pipe created) or 18 (pipe connected)."""
        ev: Event = {
            "EventID": 18 if connected else 17,
            "Channel": SYSMON,
            "Provider_Name": SYSMON_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "RuleName": "-",
            "EventType": "ConnectPipe" if connected else "CreatePipe",
            "UtcTime": "",
            "ProcessGuid": proc.guid,
            "ProcessId": proc.pid,
            "PipeName": name,
            "Image": proc.image.path,
            "User": proc.account.qualified,
        }
        self.buffer.append((ts, None, ev))
        return ev

    def wmi(self, ts: int, event_id: int, account: Account, name: str, **fields: str) -> Event:
        """Sysmon 19/20/21: WMI event filter, consumer, binding."""
        ev: Event = {
            "EventID": event_id,
            "Channel": SYSMON,
            "Provider_Name": SYSMON_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "RuleName": "-",
            "EventType": "WmiBindingEvent"
            if event_id == 21
            else ("WmiFilterEvent" if event_id == 19 else "WmiConsumerEvent"),
            "UtcTime": "",
            "Operation": "Created",
            "User": account.qualified,
        }
        if event_id != 21:
            ev["Name"] = f'"{name}"'
        ev.update(fields)
        self.buffer.append((ts, None, ev))
        return ev

    # ---- Security ----------------------------------------------------------------------
    def logon(
        self,
        ts: int,
        account: Account,
        logon_type: int,
        ip: str = "-",
        workstation: str = "-",
        *,
        elevated: bool = False,
        kerberos: bool = True,
        port: int = 0,
    ) -> Event:
        """Security 4624 and, for privileged accounts, 4672."""
        network = logon_type in (3,)
        ev: Event = {
            "EventID": 4624,
            "Channel": SECURITY,
            "Provider_Name": SECURITY_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "SubjectUserSid": "S-1-0-0" if network else "S-1-5-18",
            "SubjectUserName": "-" if network else self.account_sid_machine,
            "SubjectDomainName": "-" if network else NETBIOS,
            "SubjectLogonId": "0x0" if network else "0x3e7",
            "TargetUserSid": account.sid,
            "TargetUserName": account.name,
            "TargetDomainName": account.domain,
            "TargetLogonId": account.logon_id,
            "LogonType": logon_type,
            "LogonProcessName": "Kerberos"
            if (network and kerberos)
            else ("NtLmSsp " if network else "User32 "),
            "AuthenticationPackageName": "Kerberos"
            if (network and kerberos)
            else ("NTLM" if network else "Negotiate"),
            "WorkstationName": workstation,
            "LogonGuid": account.logon_guid,
            "TransmittedServices": "-",
            "LmPackageName": "-" if kerberos or not network else "NTLM V2",
            "KeyLength": 0 if kerberos or not network else 128,
            "ProcessId": "0x0" if network else "0x2f4",
            "ProcessName": "-" if network else "C:\\Windows\\System32\\svchost.exe",
            "IpAddress": ip,
            "IpPort": str(port) if port else ("-" if ip == "-" else "0"),
            "ImpersonationLevel": "%%1833",
            "RestrictedAdminMode": "-",
            "VirtualAccount": "%%1843",
            "ElevatedToken": "%%1842" if elevated else "%%1843",
        }
        self.buffer.append((ts, None, ev))
        if elevated:
            self.buffer.append(
                (
                    ts + 11,
                    None,
                    {
                        "EventID": 4672,
                        "Channel": SECURITY,
                        "Provider_Name": SECURITY_P,
                        "Computer": self.computer,
                        "TimeCreated": "",
                        "EventRecordID": 0,
                        "SpearhuntEventId": "",
                        "SubjectUserSid": account.sid,
                        "SubjectUserName": account.name,
                        "SubjectDomainName": account.domain,
                        "SubjectLogonId": account.logon_id,
                        "PrivilegeList": "SeSecurityPrivilege\r\n\t\t\tSeBackupPrivilege\r\n\t\t\t"
                        "SeRestorePrivilege\r\n\t\t\tSeTakeOwnershipPrivilege\r\n\t\t\t"
                        "SeDebugPrivilege\r\n\t\t\tSeSystemEnvironmentPrivilege\r\n\t\t\t"
                        "SeLoadDriverPrivilege\r\n\t\t\tSeImpersonatePrivilege",
                    },
                )
            )
        return ev

    def explicit_logon(
        self,
        ts: int,
        subject: Account,
        target_name: str,
        target_domain: str,
        target_server: str,
        proc: Proc,
        ip: str = "-",
    ) -> Event:
        """Security 4648, a logon with explicit credentials (runas, PsExec -u, wmic /user)."""
        ev: Event = {
            "EventID": 4648,
            "Channel": SECURITY,
            "Provider_Name": SECURITY_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "SubjectUserSid": subject.sid,
            "SubjectUserName": subject.name,
            "SubjectDomainName": subject.domain,
            "SubjectLogonId": subject.logon_id,
            "LogonGuid": "00000000-0000-0000-0000-000000000000",
            "TargetUserName": target_name,
            "TargetDomainName": target_domain,
            "TargetLogonGuid": "00000000-0000-0000-0000-000000000000",
            "TargetServerName": target_server,
            "TargetInfo": target_server,
            "ProcessId": hex(proc.pid),
            "ProcessName": proc.image.path,
            "IpAddress": ip,
            "IpPort": "0" if ip != "-" else "-",
        }
        self.buffer.append((ts, None, ev))
        return ev

    def share_access(
        self,
        ts: int,
        account: Account,
        ip: str,
        share: str,
        relative: str | None = None,
        access_mask: str = "0x1",
    ) -> Event:
        """Security 5140 (share opened) or, with ``relative``, 5145 (file in share checked)."""
        ev: Event = {
            "EventID": 5145 if relative is not None else 5140,
            "Channel": SECURITY,
            "Provider_Name": SECURITY_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "SubjectUserSid": account.sid,
            "SubjectUserName": account.name,
            "SubjectDomainName": account.domain,
            "SubjectLogonId": account.logon_id,
            "ObjectType": "File",
            "IpAddress": ip,
            "IpPort": str(49152 + self.pid() % 16000),
            "ShareName": f"\\\\*\\{share}",
            "ShareLocalPath": _SHARE_PATHS.get(share.upper(), f"\\??\\D:\\Shares\\{share}"),
            "AccessMask": access_mask,
            "AccessList": "%%4416",
        }
        if relative is not None:
            ev["RelativeTargetName"] = relative
            ev["AccessReason"] = "-"
        self.buffer.append((ts, None, ev))
        return ev

    def task_created(
        self, ts: int, account: Account, name: str, command: str, arguments: str, trigger: str
    ) -> Event:
        """Security 4698, a scheduled task was created."""
        content = (
            '<?xml version="1.0" encoding="UTF-16"?>\r\n<Task version="1.2" '
            'xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">\r\n  <Triggers>'
            f'{trigger}</Triggers>\r\n  <Actions Context="Author">\r\n    <Exec>\r\n      '
            f"<Command>{command}</Command>\r\n      <Arguments>{arguments}</Arguments>\r\n"
            "    </Exec>\r\n  </Actions>\r\n</Task>"
        )
        ev: Event = {
            "EventID": 4698,
            "Channel": SECURITY,
            "Provider_Name": SECURITY_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "SubjectUserSid": account.sid,
            "SubjectUserName": account.name,
            "SubjectDomainName": account.domain,
            "SubjectLogonId": account.logon_id,
            "TaskName": name,
            "TaskContent": content,
        }
        self.buffer.append((ts, None, ev))
        return ev

    # ---- System and others -------------------------------------------------------------
    def service_installed(
        self,
        ts: int,
        name: str,
        image_path: str,
        account: str = "LocalSystem",
        start_type: str = "demand start",
        service_type: str = "user mode service",
    ) -> Event:
        """System 7045, a service was installed."""
        ev: Event = {
            "EventID": 7045,
            "Channel": SYSTEM,
            "Provider_Name": SCM_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "ServiceName": name,
            "ImagePath": image_path,
            "ServiceType": service_type,
            "StartType": start_type,
            "AccountName": account,
        }
        self.buffer.append((ts, None, ev))
        return ev

    def rdp_authenticated(self, ts: int, user: str, domain: str, ip: str) -> Event:
        """RemoteConnectionManager 1149: RDP user authentication succeeded (network level)."""
        ev: Event = {
            "EventID": 1149,
            "Channel": RCM,
            "Provider_Name": RCM_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "Param1": user,
            "Param2": domain,
            "Param3": ip,
        }
        self.buffer.append((ts, None, ev))
        return ev

    def script_block(self, ts: int, text: str, path: str = "") -> Event:
        """PowerShell 4104, script block logged."""
        ev: Event = {
            "EventID": 4104,
            "Channel": POWERSHELL,
            "Provider_Name": POWERSHELL_P,
            "Computer": self.computer,
            "TimeCreated": "",
            "EventRecordID": 0,
            "SpearhuntEventId": "",
            "MessageNumber": 1,
            "MessageTotal": 1,
            "ScriptBlockText": text,
            "ScriptBlockId": self.guid(ts).lower(),
            "Path": path,
        }
        self.buffer.append((ts, None, ev))
        return ev

    # ---- templates: pre-serialized events for the high-volume noise ----------------------
    def _template(
        self,
        key: tuple[Any, ...],
        make: Callable[[], object],
        variable: tuple[str, ...],
        json: tuple[str, ...] = (),
    ) -> Template:
        """The template cached under ``key``, made on first use from the one event that
        ``make`` appends with an ordinary builder (and which is taken back out).

        Callers look in ``_templates`` first (``get(key) or _template(...)``): the lambda
        and the call cost more than the rest of a templated event."""
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) > 10_000:
                self._templates.clear()
            mark = len(self.buffer)
            make()
            ((_, _, event),) = self.buffer[mark:]
            del self.buffer[mark:]
            template = self._templates[key] = Template(event, variable, json)
        return template

    def noise_logon(
        self, ts: int, account: Account, logon_type: int, ip: str, workstation: str, port: int = 0
    ) -> None:
        """:meth:`logon` (Security 4624, not elevated, Kerberos) from a template.

        For the noise: one template per account, logon type, address and workstation; each
        call fills the logon id and GUID and the port.
        """
        key = ("4624", account.name, account.domain, account.sid, logon_type, ip, workstation)
        template = self._templates.get(key) or self._template(
            key,
            lambda: self.logon(ts, account, logon_type, ip, workstation, port=port),
            ("TargetLogonId", "LogonGuid", "IpPort"),
        )
        self.buffer.append(
            (
                ts,
                template,
                template.fill(
                    account.logon_id,
                    account.logon_guid,
                    str(port) if port else ("-" if ip == "-" else "0"),
                ),
            )
        )

    def noise_share_access(
        self,
        ts: int,
        account: Account,
        ip: str,
        share: str,
        relative: str | None = None,
        access_mask: str = "0x1",
    ) -> None:
        """:meth:`share_access` (Security 5140, or 5145 with ``relative``) from a template.

        For the noise: one template per account, address, share and access; each call fills
        the logon id, the port and the file.
        """
        key = (
            "5140",
            account.name,
            account.domain,
            account.sid,
            ip,
            share,
            access_mask,
            relative is None,
        )
        if relative is None:
            template = self._templates.get(key) or self._template(
                key,
                lambda: self.share_access(ts, account, ip, share, None, access_mask),
                ("SubjectLogonId", "IpPort"),
            )
            self.buffer.append(
                (ts, template, template.fill(account.logon_id, 49152 + self.pid() % 16000))
            )
            return
        template = self._templates.get(key) or self._template(
            key,
            lambda: self.share_access(ts, account, ip, share, "x", access_mask),
            ("SubjectLogonId", "IpPort", "RelativeTargetName"),
            json=("RelativeTargetName",),
        )
        self.buffer.append(
            (
                ts,
                template,
                template.fill(
                    account.logon_id, 49152 + self.pid() % 16000, orjson.dumps(relative).decode()
                ),
            )
        )

    def noise_registry(self, ts: int, proc: Proc, key: str, details: str) -> None:
        """:meth:`registry` (Sysmon 13, value set) from a template, for the noise."""
        tkey = ("13", proc.guid, key, details)
        template = self._templates.get(tkey) or self._template(
            tkey, lambda: self.registry(ts, proc, key, details), ()
        )
        self.buffer.append((ts, template, template.fill()))

    def noise_process_access(
        self, ts: int, source: Proc, target: Proc, access: str, call_trace: str
    ) -> None:
        """:meth:`process_access` (Sysmon 10) from a template, for the noise: one per source,
        target and access; each call fills the thread id."""
        key = ("10", source.guid, target.guid, access, call_trace)
        template = self._templates.get(key) or self._template(
            key,
            lambda: self.process_access(ts, source, target, access, call_trace),
            ("SourceThreadId",),
        )
        self.buffer.append((ts, template, template.fill(self.pid() + 1)))

    def raw(self, ts: int, template: Template, args: tuple[Any, ...]) -> None:
        """Append a templated event: ``args`` fill the template's variable fields in order."""
        self.buffer.append((ts, template, template.fill(*args)))

    # ---- output ------------------------------------------------------------------------
    def drop(self, until: int | None = None) -> None:
        """Forget the events up to ``until`` (all when None) unwritten: for simulations that
        do not generate the endpoint logs but run the activity other logs come from."""
        if until is None:
            self.buffer = []
            return
        self.buffer.sort(key=_FIRST)
        del self.buffer[: bisect_left(self.buffer, until, key=_FIRST)]

    def finalize(self, until: int | None = None) -> list[str]:
        """Sort the buffer, fill ids and times, and return JSON lines (events up to ``until``).

        Events after ``until`` stay buffered for a later call, so a day can be written while
        scheduled events of later days wait. The lines may hold ASCII stand-ins for a few
        characters (see :func:`write_lines`, which turns them into the file's bytes).
        """
        buf = self.buffer
        buf.sort(key=_FIRST)  # stable: events at the same microsecond keep their order
        if until is not None:
            cut = bisect_left(buf, until, key=_FIRST)
            ready, self.buffer = buf[:cut], buf[cut:]
        else:
            ready, self.buffer = buf, []
        iso = self.clock.iso
        sysmon_time = self.clock.sysmon
        t0s, days = self.clock.t0 // US, self.clock.dates
        record_ids = self.record_ids
        prefix = self.host.name + "-"
        seq = self.seq
        numbers = _sequence_texts(seq + 1, seq + len(ready))
        shape = int(self.evtx)
        dumps = orjson.dumps
        lines: list[str] = []
        append = lines.append
        rid_of = record_ids.get
        # The buffer is in time order and a call writes about one day: the date texts are
        # made when the day changes, the time of day is looked up by second of the day.
        midnight = next_midnight = 0  # seconds since t0
        created = utc = ""
        for (ts, template, body), number in zip(ready, numbers, strict=True):
            if template is not None:
                # The hot path: splice the system values into the pre-serialized pieces.
                channel = template.channel
                record_ids[channel] = rid = rid_of(channel, 0) + 1
                sec = ts // US - t0s
                if not midnight <= sec < next_midnight:
                    midnight = sec - sec % 86400
                    next_midnight = midnight + 86400
                    day = days[midnight // 86400 + 1]
                    created, utc = day + "T", day + " "
                hms = HMS[sec - midnight]
                # Integer format specs cost more than the rest of the line: the fraction is
                # cut from the time's digits (16 of them, see Clock).
                frac = str(ts)[10:]
                a, b, c, e, z = template.parts[shape]
                if template.sysmon:
                    append(
                        f"{a}{created}{hms}.{frac}Z{b}{rid}{c}{prefix}{number}{e}"
                        f"{utc}{hms}.{frac[:3]}{body}{z}"
                    )
                else:
                    append(f"{a}{created}{hms}.{frac}Z{b}{rid}{c}{prefix}{number}{e}{body}{z}")
                continue
            ev: Event = body
            channel = ev["Channel"]
            rid = record_ids.get(channel, 0) + 1
            record_ids[channel] = rid
            ev["EventRecordID"] = rid
            ev["TimeCreated"] = iso(ts)
            ev["SpearhuntEventId"] = prefix + number
            if channel is SYSMON:
                ev["UtcTime"] = sysmon_time(ts)
                if "CreationUtcTime" in ev:
                    ev["CreationUtcTime"] = ev["UtcTime"]
            line = dumps(_evtx_shape(ev) if shape else ev).decode()
            append(line if line.isascii() else _stand_in(line))
        self.seq = seq + len(lines)
        self.written += len(lines)
        return lines


_FIRST = itemgetter(0)

# Zero-padded event numbers ("00000042") by number, shared by every host and grown on demand
# up to a bound (~60 MB): slicing it is cheaper than formatting a number per event.
_SEQUENCE_TEXTS: list[str] = []
_SEQUENCE_BOUND = 1 << 20


def _sequence_texts(first: int, last: int) -> list[str]:
    """Zero-padded texts of the event numbers ``first .. last``."""
    if last >= _SEQUENCE_BOUND:
        return [f"{n:08d}" for n in range(first, last + 1)]
    have = len(_SEQUENCE_TEXTS)
    if have <= last:
        _SEQUENCE_TEXTS.extend(
            f"{n:08d}" for n in range(have, min(max(last + 1, 2 * have), _SEQUENCE_BOUND))
        )
    return _SEQUENCE_TEXTS[first : last + 1]


# Characters outside ASCII that the events hold (the ® of Windows' product names), and
# control characters to stand in for them while the lines are text. Lines are joined and
# encoded many at a time, and encoding text that is all ASCII is a plain copy, ten times
# faster than encoding text with even one other character. JSON text never holds a raw
# control character (they are escaped inside strings), so each stand-in can be put back
# in the encoded bytes without ambiguity. Characters not listed here are written as they
# are, just more slowly.
_STAND_INS = {"\u00ae": "\x01"}
_FROM_STAND_IN = tuple((ascii_.encode(), char.encode()) for char, ascii_ in _STAND_INS.items())


def _stand_in(text: str) -> str:
    """``text`` with the stand-ins in place of their characters (``str.replace``: the
    per-character ``str.translate`` is slow on text that is not ASCII)."""
    if not text.isascii():
        for char, ascii_ in _STAND_INS.items():
            text = text.replace(char, ascii_)
    return text


def write_lines(fh: BinaryIO, lines: list[str]) -> None:
    """Write ``lines`` from :meth:`HostLog.finalize` to ``fh`` as UTF-8, each followed by a
    newline, with the characters behind the stand-ins put back.

    In slices of a few hundred lines: their text and bytes stay in the CPU's cache, where one
    text of a whole day would not.
    """
    step = 256
    for i in range(0, len(lines), step):
        chunk = lines[i : i + step]
        chunk.append("")  # the last newline, without copying the joined text once more
        data = "\n".join(chunk).encode()
        for stand_in, char in _FROM_STAND_IN:
            if stand_in in data:
                data = data.replace(stand_in, char)
        fh.write(data)


def _evtx_shape(ev: Event) -> Event:
    """A finished flat event in evtx_dump's JSON shape: System values, then EventData (which
    starts with SpearhuntEventId)."""
    return {
        "Event": {
            "System": {
                "Provider": {"#attributes": {"Name": ev["Provider_Name"]}},
                "EventID": ev["EventID"],
                "TimeCreated": {"#attributes": {"SystemTime": ev["TimeCreated"]}},
                "EventRecordID": ev["EventRecordID"],
                "Channel": ev["Channel"],
                "Computer": ev["Computer"],
            },
            "EventData": {k: v for k, v in ev.items() if k not in _EVTX_SYSTEM},
        }
    }


# The system fields every event starts with, in this order; the builders write them first.
_SYSTEM_KEYS = (
    "EventID",
    "Channel",
    "Provider_Name",
    "Computer",
    "TimeCreated",
    "EventRecordID",
    "SpearhuntEventId",
)
_EVTX_SYSTEM = frozenset(_SYSTEM_KEYS[:-1])  # SpearhuntEventId goes to EventData


@cache
def _filler(holes: int) -> Callable[..., Callable[..., str]]:
    """A maker of fillers for templates with ``holes`` holes: given the template's pieces, a
    function of one value per hole that returns the pieces and values joined.

    The filler is an f-string, which copies the pieces; ``%`` scans its whole format for
    every event, and a template's text is hundreds of characters (4 times slower). Its
    source only names the pieces and values, whatever they hold, and is made once per
    number of holes.
    """
    values = [f"v{i}" for i in range(holes)]
    text = "".join(f"{{p{i}}}{{v{i}}}" for i in range(holes)) + f"{{p{holes}}}"
    source = (
        f"def make({', '.join(f'p{i}' for i in range(holes + 1))}):\n"
        f"    return lambda {', '.join(values)}: f'{text}'\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # the source names the pieces and values; no data is in it
    maker: Callable[..., Callable[..., str]] = namespace["make"]
    return maker


class Template:
    """An event serialized once, in pieces, for the high-volume noise.

    Built from an event made by the ordinary builders, so a templated event has exactly the
    fields, order and types of a dict event. The event's own fields after ``UtcTime`` (or
    after the system fields, outside Sysmon) form ``tail``, a %-format whose holes are the
    ``variable`` fields (named in the event's field order, the order of the holes);
    ``fill(*values)`` makes the same text faster, and is what the event builders use when
    the event is made. ``finalize`` splices the time, record id and event id between the
    fixed pieces. Values for string
    holes must be JSON-safe text (no quote, backslash or control character): addresses,
    host names, plain words; holes named in ``json`` take JSON text, quotes included
    (``orjson.dumps(value).decode()``), for values such as command lines.
    """

    __slots__ = ("channel", "fill", "parts", "sysmon", "tail")

    def __init__(self, event: Event, variable: tuple[str, ...], json: tuple[str, ...] = ()) -> None:
        keys = tuple(event)
        if keys[: len(_SYSTEM_KEYS)] != _SYSTEM_KEYS:
            raise ValueError(f"template event must start with {_SYSTEM_KEYS}")
        self.channel: str = event["Channel"]
        self.sysmon = self.channel == SYSMON
        data = {k: event[k] for k in keys[len(_SYSTEM_KEYS) :]}
        if not data:
            raise ValueError("template event has no data fields")
        if self.sysmon and "CreationUtcTime" in data:
            raise ValueError("templates do not fill CreationUtcTime")
        if [k for k in data if k in variable] != list(variable):
            raise ValueError(f"variable fields {variable} must be data fields in event order")
        for i, key in enumerate(variable):
            data[key] = f"@@{i}@@"
        if self.sysmon:
            data["UtcTime"] = "@@U@@"
        text = orjson.dumps(data).decode()[1:]  # the fields without the opening brace
        head = ""
        if self.sysmon:
            head, text = text.split('"@@U@@"', 1)
            head += '"'
            text = '"' + text
            if "@@" in head:
                raise ValueError("variable template fields must come after UtcTime")
        # The text between the holes (a string hole keeps its quotes in the text).
        pieces = []
        for i, key in enumerate(variable):
            marker = f'"@@{i}@@"'
            if text.count(marker) != 1:
                raise ValueError(f"template marker for {key} not unique")
            before, text = text.split(marker)
            if isinstance(event[key], int) or key in json:
                pieces.append(before)
            else:
                pieces.append(before + '"')
                text = '"' + text
        pieces.append(text)
        pieces = [_stand_in(piece) for piece in pieces]
        self.tail = "%s".join(piece.replace("%", "%%") for piece in pieces)
        self.fill: Callable[..., str] = _filler(len(variable))(*pieces)
        system = orjson.dumps({k: event[k] for k in _SYSTEM_KEYS[:4]}).decode()[:-1]
        provider, channel, computer = (
            orjson.dumps(event[k]).decode() for k in ("Provider_Name", "Channel", "Computer")
        )
        # line = a + TimeCreated + b + EventRecordID + c + SpearhuntEventId + e [+ UtcTime]
        #        + tail + z, in the flat shape and in evtx_dump's (System, then EventData)
        parts = (
            (
                system + ',"TimeCreated":"',
                '","EventRecordID":',
                ',"SpearhuntEventId":"',
                '",' + head,
                "",
            ),
            (
                '{"Event":{"System":{"Provider":{"#attributes":{"Name":' + provider + "}},"
                f'"EventID":{event["EventID"]},"TimeCreated":{{"#attributes":{{"SystemTime":"',
                '"}},"EventRecordID":',
                f',"Channel":{channel},"Computer":{computer}}},"EventData":{{"SpearhuntEventId":"',
                '",' + head,
                "}}",
            ),
        )
        self.parts = tuple(
            tuple(_stand_in(piece) for piece in shape_parts) for shape_parts in parts
        )

    def split(self, args: tuple[Any, ...], hole: int) -> tuple[str, str]:
        """The tail filled with ``args`` but for hole ``hole``: the text before and after it.

        For events of which one value changes every time (a source port) and the rest is fixed.
        """
        filled = self.tail % (*args[:hole], "\x00", *args[hole + 1 :])
        before, after = filled.split("\x00")
        return before, after


_PORT_NAMES = {
    443: "https",
    80: "http",
    445: "microsoft-ds",
    135: "epmap",
    53: "domain",
    3389: "ms-wbt-server",
    389: "ldap",
    88: "kerberos",
    5985: "wsman",
}
_SHARE_PATHS = {
    "ADMIN$": "\\??\\C:\\Windows",
    "C$": "\\??\\C:\\",
    "IPC$": "",
    "SYSVOL": "\\??\\C:\\Windows\\SYSVOL\\sysvol",
    "NETLOGON": "\\??\\C:\\Windows\\SYSVOL\\sysvol\\corp.example\\SCRIPTS",
}
