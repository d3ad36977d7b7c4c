"""Benign office activity, including the look-alikes that make naive rules fire.

Each activity emits a small bundle of related events (a process and its network use, a
share access and its logon ...). Volumes are per host and day; ``--scale`` multiplies them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate

from spearhunt.simulate.clock import HOUR, MINUTE, US
from spearhunt.simulate.context import HostState, Session, Sim
from spearhunt.simulate.endpoint import SYSTEM_ACCOUNT, Account, Proc, Template, user_account
from spearhunt.simulate.images import IMAGES
from spearhunt.simulate.world import NETBIOS
from spearhunt.simulate.zeek import DnsRoute, NetLog, TlsSite

BROWSING = (
    "www.google.com",
    "www.bing.com",
    "login.microsoftonline.com",
    "www.linkedin.com",
    "en.wikipedia.org",
    "github.com",
    "stackoverflow.com",
    "www.mouser.com",
    "www.digikey.com",
    "www.mcmaster.com",
    "www.defensenews.com",
    "www.reuters.com",
    "www.bbc.co.uk",
    "docs.python.org",
    "learn.microsoft.com",
    "www.ieee.org",
    "portal.supplier-one.example",
    "www.nist.gov",
    "www.weather.gov",
    "www.amazon.com",
    "www.youtube.com",
    "i.ytimg.com",
    "fonts.gstatic.com",
    "ajax.googleapis.com",
    "cdn.jsdelivr.net",
    "www.gstatic.com",
)
TENANT = "aldergrovedynamics"
SAAS = (
    f"{TENANT}.sharepoint.com",
    f"{TENANT}-my.sharepoint.com",
    "outlook.office365.com",
    "teams.microsoft.com",
    "graph.microsoft.com",
    "substrate.office.com",
)
UPDATE_HTTP = (
    "ctldl.windowsupdate.com",
    "crl.microsoft.com",
    "ocsp.digicert.com",
    "download.windowsupdate.com",
)
S3 = "s3.eu-central-1.amazonaws.com"
# Every name the noise resolves, in a fixed order. They are given their addresses up front
# (Externals.reserve), so that an address does not depend on which activity asks first, nor
# on whether the names only Zeek shows (UPDATE_HTTP) are asked for at all.
NAMES = (*BROWSING, *SAAS, *UPDATE_HTTP, S3)
EDGE_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0"
)
CRYPTO_UA = "Microsoft-CryptoAPI/10.0"
DOCS = (
    "Q3 program review",
    "ECP-2291 change request",
    "thermal analysis v4",
    "budget FY27",
    "supplier scorecard",
    "test plan rev C",
    "meeting notes",
    "travel request",
    "drawing list",
    "requirements trace",
    "risk register",
    "timesheet",
)
ENG_DATA = (
    "Programs\\HX-40\\Design",
    "Programs\\HX-40\\Test",
    "Programs\\Sentinel-R\\CAD",
    "Programs\\Sentinel-R\\Firmware",
    "Engineering\\Standards",
    "Engineering\\Simulation",
)
ENG_EXT = (".SLDPRT", ".SLDASM", ".step", ".pdf", ".xlsx", ".docx", ".m", ".zip")

Activity = Callable[[Sim, HostState, Session | None, int, random.Random], None]


def _pick(rng: random.Random, items: tuple[str, ...]) -> str:
    return items[int(rng.random() * len(items))]


# ---- workstation activities ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Site:
    """What a page load of one site writes, prepared once per session: Sysmon 22's event
    text and Sysmon 3's around the source port."""

    query: str
    net_head: str
    net_tail: str


# Per kind of page load (browser, Outlook): the Sysmon 22 and 3 templates, the sites, and
# their Zeek DNS routes and TLS sites (empty when Zeek is not generated).
_Sites = tuple[Template, Template, list[_Site], list[tuple[DnsRoute, TlsSite]]]


def _browse_sites(sim: Sim, hs: HostState, s: Session, ts: int) -> dict[str, _Sites]:
    t: dict[str, _Sites] = s.templates
    if not t:
        log, src = hs.log, hs.host.ip
        s.browser, _ = log.process(
            ts - 5 * US,
            IMAGES["msedge"],
            f'"{IMAGES["msedge"].path}" --profile-directory=Default',
            s.explorer,
            s.account,
            cwd=f"C:\\Users\\{s.user.sam}\\",
        )
        for key, proc, names in (("browser", s.browser, BROWSING), ("outlook", s.outlook, SAAS)):
            # Built once from real events, which are then dropped from the buffer.
            q = log.dns(ts, proc, "x", "x")
            n = log.network(ts, proc, src, 1, "x", 443, "x")
            del log.buffer[-2:]
            q_tpl = Template(q, ("QueryName", "QueryResults"))
            n_tpl = Template(n, ("SourcePort", "DestinationIp", "DestinationHostname"))
            sites = []
            wire = []
            for name in names:
                ip = sim.ext.ip(name)
                head, tail = n_tpl.split((0, ip, name), 0)
                sites.append(_Site(q_tpl.tail % (name, f"::ffff:{ip};"), head, tail))
                if sim.net is not None:
                    wire.append(
                        (sim.net.route(src, sim.dc_ip, name, [ip]), NetLog.tls_site(src, ip, name))
                    )
            t[key] = (q_tpl, n_tpl, sites, wire)
    return t


def browse(sim: Sim, hs: HostState, s: Session | None, ts: int, rng: random.Random) -> None:
    """A page load: the browser (or Outlook) resolves a few names and opens TLS connections.

    The busiest activity by far, so it appends prepared text: per site, Sysmon 22 and 3 on the
    host (the Sysmon source port is the one in conn.log), dns.log (unless the host's DNS cache
    answers), conn.log and ssl.log.
    """
    if s is None:
        return
    rnd = rng.random
    outlook = rnd() < 0.15
    q_tpl, n_tpl, sites, wire = (s.templates or _browse_sites(sim, hs, s, ts))[
        "outlook" if outlook else "browser"
    ]
    append = hs.log.buffer.append
    n = len(sites)
    t = ts
    if sim.net is None:
        for _ in range(1 + int(rnd() * 6)):
            site = sites[int(rnd() * n)]
            append((t, q_tpl, site.query))
            append(
                (t + 20_000, n_tpl, f"{site.net_head}{49152 + int(rnd() * 16000)}{site.net_tail}")
            )
            t += 20_000 + int(rnd() * 900_000)
        return
    # The same draws, in the same order, and the Zeek records of each visit.
    fetch = sim.net.fetch
    src = hs.host.ip
    for _ in range(1 + int(rnd() * 6)):
        i = int(rnd() * n)
        site = sites[i]
        append((t, q_tpl, site.query))
        sport = 49152 + int(rnd() * 16000)
        append((t + 20_000, n_tpl, f"{site.net_head}{sport}{site.net_tail}"))
        route, tls = wire[i]
        fetch(t, src, route, tls, sport)
        t += 20_000 + int(rnd() * 900_000)


def app_launch(sim: Sim, hs: HostState, s: Session | None, ts: int, rng: random.Random) -> None:
    """The user opens an application or a document from their folders (no shell children)."""
    if s is None:
        return
    eng = hs.host.role == "ws-eng"
    home = f"C:\\Users\\{s.user.sam}\\"
    doc = _pick(rng, DOCS)
    roll = rng.random()
    if eng and roll < 0.35:
        key = "solidworks" if rng.random() < 0.6 else "matlab"
        cmd = f'"{IMAGES[key].path}"'
    elif roll < 0.6:
        key, cmd = "winword", f'"{IMAGES["winword"].path}" /n "{home}Documents\\{doc}.docx" /o ""'
    elif roll < 0.8:
        key, cmd = "excel", f'"{IMAGES["excel"].path}" "{home}Documents\\{doc}.xlsx"'
    elif roll < 0.9:
        key, cmd = "powerpnt", f'"{IMAGES["powerpnt"].path}" "{home}Documents\\{doc}.pptx"'
    else:
        key, cmd = "acrobat", f'"{IMAGES["acrobat"].path}" "{home}Downloads\\{doc}.pdf"'
    proc = hs.log.spawn(ts, IMAGES[key], cmd, s.explorer, s.account, cwd=f"{home}Documents\\")
    if rng.random() < 0.5:
        hs.log.file_create(
            ts + int(rng.random() * 1800) * US,
            proc,
            f"{home}AppData\\Roaming\\Microsoft\\Office\\Recent\\{doc}.LNK",
        )


def outlook_attachment(
    sim: Sim, hs: HostState, s: Session | None, ts: int, rng: random.Random
) -> None:
    """A benign attachment saved to the Outlook cache (with MOTW) and opened in Office."""
    if s is None:
        return
    home = f"C:\\Users\\{s.user.sam}\\"
    folder = f"{rng.getrandbits(40):010X}"[:8]
    doc = _pick(rng, DOCS).replace(" ", "_")
    ext, key = (".docx", "winword") if rng.random() < 0.6 else (".xlsx", "excel")
    path = f"{home}AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\{folder}\\{doc}{ext}"
    log = hs.log
    log.file_create(ts, s.outlook, path)
    digest = f"{rng.getrandbits(256):064X}"
    log.stream_hash(ts + 3_000, s.outlook, path, f"SHA256={digest}", "[ZoneTransfer]  ZoneId=3")
    flag = "/n" if key == "winword" else ""
    log.spawn(
        ts + int((2 + rng.random() * 20) * US),
        IMAGES[key],
        f'"{IMAGES[key].path}" {flag} "{path}" /o ""'.replace("  ", " "),
        s.outlook,
        s.account,
        cwd=f"{home}Documents\\",
    )


def file_share(sim: Sim, hs: HostState, s: Session | None, ts: int, rng: random.Random) -> None:
    """The user works on the engineering share on a file server (SMB)."""
    if s is None:
        return
    servers = sim.file_servers
    fs = sim.hosts[servers[int(rng.random() * len(servers))].name]
    acct = Account(s.user.sam, NETBIOS, s.user.sid, sim.logon_id(rng), s.account.logon_guid)
    sport = None  # the SMB connection's source port, when the logon shows it
    if not s.share_logon:
        sport = sim.port()
        fs.log.noise_logon(ts, acct, 3, hs.host.ip, hs.host.name.upper(), port=sport)
        s.share_logon = True
    share = "Engineering" if hs.host.role == "ws-eng" or rng.random() < 0.5 else "Projects"
    fs.log.noise_share_access(ts + 2_000, acct, hs.host.ip, share)
    folder = _pick(rng, ENG_DATA)
    for i in range(1 + int(rng.random() * 3)):
        name = f"{folder}\\{_pick(rng, DOCS).replace(' ', '_')}{_pick(rng, ENG_EXT)}"
        fs.log.noise_share_access(
            ts + 5_000 + i * 400_000, acct, hs.host.ip, share, name, "0x120089"
        )
    if (net := sim.net) is not None:
        size = int(net.rng.expovariate(1 / 3_000_000))
        net.conn(
            ts,
            hs.host.ip,
            fs.host.ip,
            445,
            service="smb",
            duration=1 + net.rng.random() * 60,
            orig_bytes=2_000 + size // 30,
            resp_bytes=10_000 + size,
            sport=sport,
        )


def unlock(sim: Sim, hs: HostState, s: Session | None, ts: int, rng: random.Random) -> None:
    """Screen unlock: a 4624 type 7."""
    if s is None:
        return
    hs.log.noise_logon(ts, s.account, 7, "127.0.0.1", hs.host.name.upper())


def big_upload(sim: Sim, hs: HostState, s: Session | None, ts: int, rng: random.Random) -> None:
    """A legitimate large upload to the company's SharePoint/OneDrive."""
    if s is None:
        return
    name = f"{TENANT}-my.sharepoint.com"
    ip = sim.ext.ip(name)
    onedrive = Proc(s.explorer.guid, s.explorer.pid, IMAGES["onedrive"], "", s.account)
    sport = sim.port()
    hs.log.network(ts + 30_000, onedrive, hs.host.ip, sport, ip, 443, name)
    if (net := sim.net) is not None:
        net.resolve(ts, net.route(hs.host.ip, sim.dc_ip, name, [ip]))
        size = int(80_000_000 + net.rng.random() * 900_000_000)
        net.tls(
            ts + 30_000,
            hs.host.ip,
            ip,
            name,
            orig_bytes=size,
            resp_bytes=size // 200,
            duration=size / 4_000_000,
            sport=sport,
        )


def admin_work(sim: Sim, hs: HostState, s: Session | None, ts: int, rng: random.Random) -> None:
    """IT staff: PowerShell with bypass, PsExec, RDP and remote WMI against servers."""
    if s is None or not s.user.admin_sam:
        return
    adm = user_account(s.user, s.account.logon_id, s.account.logon_guid, admin=True)
    roll = rng.random()
    targets = [h for h in sim.world.hosts if h.name != hs.host.name]
    target = sim.hosts[targets[int(rng.random() * len(targets))].name]
    log = hs.log
    ps = IMAGES["powershell"]
    if roll < 0.35:
        cmd = _pick(
            rng,
            (
                "powershell.exe -NoProfile -ExecutionPolicy Bypass -File \\\\corp.example\\NETLOGON\\inventory.ps1",
                'powershell.exe -ExecutionPolicy Bypass -Command "Get-ADUser -Filter * -Properties LastLogonDate | Export-Csv C:\\Temp\\stale.csv"',
                'powershell.exe -NoProfile -Command "Get-WinEvent -ComputerName fs-01 -LogName System -MaxEvents 50"',
                'powershell.exe -NoProfile -Command "Test-NetConnection bk-01 -Port 445"',
            ),
        )
        log.process(ts, ps, cmd, s.explorer, adm, integrity="High")
        log.script_block(ts + 400_000, cmd.split("-Command ", 1)[-1].strip('"'))
        return
    rel = ts + 3 * US
    remote = Account(adm.name, NETBIOS, adm.sid, sim.logon_id(rng), sim.logon_guid(rng))
    if roll < 0.7:
        # PsExec as admins use it: installs PSEXESVC on the target, runs a harmless command.
        child = _pick(
            rng,
            (
                "gpupdate /force",
                "ipconfig /flushdns",
                "cmd /c klist purge",
                "cmd /c net stop spooler && net start spooler",
            ),
        )
        tool, _ = log.process(
            ts,
            IMAGES["psexec"],
            f"PsExec64.exe \\\\{target.host.name} -accepteula -s {child}",
            s.explorer,
            adm,
            cwd="C:\\Tools\\SysinternalsSuite\\",
            integrity="High",
        )
        sport = sim.port()
        log.network(ts + 500_000, tool, hs.host.ip, sport, target.host.ip, 445, target.host.fqdn)
        _psexec_target(sim, target, hs, remote, rel, child, sport, ts + 500_000)
    elif roll < 0.88:
        tool, _ = log.process(
            ts,
            IMAGES["mstsc"],
            f'"C:\\Windows\\system32\\mstsc.exe" /v:{target.host.name}',
            s.explorer,
            s.account,
        )
        sport = sim.port()
        log.network(ts + 400_000, tool, hs.host.ip, sport, target.host.ip, 3389, target.host.fqdn)
        target.log.rdp_authenticated(rel, adm.name, NETBIOS, hs.host.ip)
        target.log.logon(
            rel + 2 * US, remote, 10, hs.host.ip, hs.host.name.upper(), elevated=True, port=sport
        )
        if (net := sim.net) is not None:
            draw = net.rng.random
            net.conn(
                ts + 400_000,
                hs.host.ip,
                target.host.ip,
                3389,
                service="ssl",
                duration=600 + draw() * 3000,
                orig_bytes=int(2e6 * draw()) + 90_000,
                resp_bytes=int(3e7 * draw()) + 500_000,
                sport=sport,
            )
    else:
        query = _pick(
            rng,
            (
                "computersystem get model,manufacturer",
                "qfe list brief",
                "logicaldisk get size,freespace",
                "os get lastbootuptime",
            ),
        )
        tool, _ = log.process(
            ts,
            IMAGES["wmic"],
            f"wmic /node:{target.host.name} {query}",
            s.explorer,
            adm,
            integrity="High",
        )
        sport = sim.port()
        target.log.logon(
            rel, remote, 3, hs.host.ip, hs.host.name.upper(), elevated=True, port=sport
        )
        if sim.net is not None:
            sim.net.conn(
                ts + 300_000,
                hs.host.ip,
                target.host.ip,
                135,
                service="dce_rpc",
                duration=0.02,
                orig_bytes=1_200,
                resp_bytes=400,
                sport=sport,
            )


def _psexec_target(
    sim: Sim,
    target: HostState,
    src: HostState,
    remote: Account,
    ts: int,
    command: str,
    sport: int,
    connected: int,
) -> None:
    """PsExec's side on the target, over the SMB connection made at ``connected`` from
    ``sport``."""
    log = target.log
    ip = src.host.ip
    log.logon(ts, remote, 3, ip, src.host.name.upper(), elevated=True, port=sport)
    log.share_access(ts + 40_000, remote, ip, "ADMIN$")
    log.share_access(ts + 60_000, remote, ip, "ADMIN$", "PSEXESVC.exe", "0x2")
    svc = target.services
    log.file_create(
        ts + 80_000,
        Proc(svc.guid, 4, IMAGES["system"], "", SYSTEM_ACCOUNT),
        "C:\\Windows\\PSEXESVC.exe",
    )
    log.service_installed(ts + 120_000, "PSEXESVC", "%SystemRoot%\\PSEXESVC.exe")
    psexesvc, _ = log.process(
        ts + 150_000,
        IMAGES["psexesvc"],
        "C:\\Windows\\PSEXESVC.exe",
        svc,
        SYSTEM_ACCOUNT,
        integrity="System",
    )
    log.pipe(ts + 170_000, psexesvc, "\\PSEXESVC")
    exe = command.split(" ", 1)[0]
    key = {"gpupdate": "gpupdate", "ipconfig": "ipconfig", "cmd": "cmd"}.get(exe, "cmd")
    log.process(ts + 300_000, IMAGES[key], command, psexesvc, SYSTEM_ACCOUNT, integrity="System")
    if (net := sim.net) is not None:
        net.conn(
            connected,
            ip,
            target.host.ip,
            445,
            service="smb",
            duration=2 + net.rng.random() * 8,
            orig_bytes=420_000,
            resp_bytes=9_000,
            sport=sport,
        )


# ---- activities on every host ------------------------------------------------------------
def system_background(
    sim: Sim, hs: HostState, s: Session | None, ts: int, rng: random.Random
) -> None:
    """Service and scheduled-task processes, Defender scans, registry housekeeping."""
    roll = rng.random()
    log = hs.log
    if roll < 0.3:
        sim.system_child(
            hs,
            ts,
            "svchost",
            _pick(
                rng,
                (
                    "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s BITS",
                    "C:\\Windows\\system32\\svchost.exe -k wsappx -p -s ClipSVC",
                    "C:\\Windows\\System32\\svchost.exe -k LocalSystemNetworkRestricted -p -s SysMain",
                    "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s wuauserv",
                ),
            ),
        )
    elif roll < 0.5:
        proc = sim.system_child(
            hs, ts, "taskhostw", "taskhostw.exe Install $(Arg0)", parent=hs.schedule
        )
        if rng.random() < 0.3:
            log.file_create(ts + 50_000, proc, f"C:\\Windows\\Temp\\{rng.getrandbits(32):08x}.tmp")
    elif roll < 0.62:
        sim.system_child(
            hs,
            ts,
            "searchprotocolhost",
            '"C:\\Windows\\system32\\SearchProtocolHost.exe" Global\\UsGthrFltPipeMssGthrPipe1_ '
            'Global\\UsGthrCtrlFltPipeMssGthrPipe1 1 -2147483646 "Software\\Microsoft\\Windows '
            'Search" "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 4.0 Robot)"',
            parent=hs.svchost,
        )
    elif roll < 0.72:
        # Defender and the system touching LSASS: what a rule on "any LSASS access" trips on.
        src, access = (hs.msmpeng, "0x1410") if rng.random() < 0.6 else (hs.svchost, "0x1000")
        log.noise_process_access(
            ts,
            src,
            hs.lsass,
            access,
            "C:\\Windows\\SYSTEM32\\ntdll.dll+9f7e4|"
            "C:\\Windows\\System32\\KERNELBASE.dll+2c13e|"
            f"{src.image.path}+1a2b3",
        )
    elif roll < 0.82:
        log.noise_registry(
            ts,
            hs.svchost,
            "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\"
            "TaskCache\\Tree\\Microsoft\\Windows\\UpdateOrchestrator\\Schedule Scan\\"
            "Index",
            "DWORD (0x00000003)",
        )
    elif roll < 0.9:
        # CryptoAPI fetching the certificate trust list: no endpoint event, only traffic.
        if (net := sim.net) is not None:
            zr = net.rng
            name = _pick(zr, UPDATE_HTTP)
            ip = sim.ext.ip(name)
            net.resolve(ts, net.route(hs.host.ip, sim.dc_ip, name, [ip], ttl=3600))
            net.http(
                ts + 30_000,
                hs.host.ip,
                ip,
                name,
                f"/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab?"
                f"{zr.getrandbits(40):x}",
                user_agent=CRYPTO_UA,
                response_len=int(zr.random() * 30_000) + 800,
                mime="application/vnd.ms-cab-compressed",
            )
    else:
        sim.system_child(hs, ts, "gpupdate", "gpupdate.exe /target:computer", parent=hs.svchost)


def software_update(
    sim: Sim, hs: HostState, s: Session | None, ts: int, rng: random.Random
) -> None:
    """Configuration Manager and Office installing updates; installers create scheduled tasks."""
    log = hs.log
    roll = rng.random()
    if roll < 0.4:
        ccm = sim.system_child(hs, ts, "ccmexec", "C:\\Windows\\CCM\\CcmExec.exe")
        pkg = _pick(
            rng, ("7-Zip 23.01", "Adobe Acrobat DC", "Notepad++", "SOLIDWORKS SP2", "VC Redist")
        )
        msi = pkg.replace(" ", "_")
        log.spawn(
            ts + 2 * US,
            IMAGES["msiexec"],
            f'msiexec.exe /i "C:\\Windows\\ccmcache\\{rng.getrandbits(8):x}\\{msi}.msi" /qn /norestart',
            ccm,
            SYSTEM_ACCOUNT,
            integrity="System",
        )
    elif roll < 0.7:
        c2r = sim.system_child(
            hs,
            ts,
            "officec2r",
            '"C:\\Program Files\\Common Files\\Microsoft Shared\\ClickToRun\\'
            'OfficeClickToRun.exe" /service',
        )
        log.spawn(
            ts + 3 * US,
            IMAGES["setup_teams"],
            '"C:\\Program Files\\Common Files\\microsoft shared\\ClickToRun\\Updates\\setup.exe" '
            "/update /displaylevel=False",
            c2r,
            SYSTEM_ACCOUNT,
            integrity="System",
        )
    else:
        upd = sim.system_child(
            hs,
            ts,
            "edgeupdate",
            '"C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe" /ua /installsource scheduler',
            parent=hs.schedule,
        )
        # Installers register their own update tasks: a schtasks /create that is not an attack.
        task = "MicrosoftEdgeUpdateTaskMachineUA"
        log.spawn(
            ts + US,
            IMAGES["schtasks"],
            f"schtasks.exe /create /f /tn {task} /sc hourly /tr "
            "\"'C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe' /ua /installsource scheduler\"",
            upd,
            SYSTEM_ACCOUNT,
            integrity="System",
        )
        log.task_created(
            ts + US + 90_000,
            SYSTEM_ACCOUNT,
            f"\\{task}",
            "C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe",
            "/ua /installsource scheduler",
            "<TimeTrigger><Repetition><Interval>PT1H</Interval></Repetition></TimeTrigger>",
        )


def server_logons(sim: Sim, hs: HostState, s: Session | None, ts: int, rng: random.Random) -> None:
    """Machine and user network logons on servers (Kerberos, from workstations)."""
    ws = sim.workstations
    src = ws[int(rng.random() * len(ws))]
    user = sim.owners[src.name]
    if user is None:
        return
    acct = Account(
        user.sam if rng.random() < 0.6 else src.machine_account,
        NETBIOS,
        user.sid,
        sim.logon_id(rng),
        sim.logon_guid(rng),
    )
    hs.log.noise_logon(ts, acct, 3, src.ip, "-", port=sim.port())
    if hs.host.role == "dc":
        if sim.net is not None:
            sim.net.conn(
                ts - 20_000,
                src.ip,
                hs.host.ip,
                88,
                service="krb_tcp",
                duration=0.01,
                orig_bytes=1_500,
                resp_bytes=1_600,
            )
    elif hs.host.role == "file":
        share = "Engineering" if src.role == "ws-eng" else "Projects"
        hs.log.noise_share_access(ts + 1_000, acct, src.ip, share)


# ---- nightly jobs (scheduled, not drawn) --------------------------------------------------
def nightly_backup(sim: Sim, hs: HostState, day: int, rng: random.Random) -> None:
    """bk-01 archives each file server with a password and ships it offsite: big and at night."""
    ts = sim.clock.day_start(day) + int((1 + rng.random() * 0.5) * HOUR)
    log = hs.log
    svc = Account(
        "svc_backup",
        NETBIOS,
        f"{sim.world.domain_sid}-1190",
        sim.logon_id(rng),
        sim.logon_guid(rng),
    )
    log.logon(ts - 2 * US, svc, 4, "-", "-", elevated=True)
    cmd, _ = log.process(
        ts,
        IMAGES["cmd"],
        "C:\\Windows\\system32\\cmd.exe /c D:\\Scripts\\nightly_backup.cmd",
        hs.schedule,
        svc,
        cwd="D:\\Scripts\\",
        integrity="High",
    )
    date = sim.clock.iso(ts)[:10]
    t = ts + 5 * US
    for fs in sim.world.by_role("file"):
        archive = f"D:\\Backups\\{fs.name}\\{fs.name}_{date}.7z"
        z, _ = log.process(
            t,
            IMAGES["7z"],
            f'"C:\\Program Files\\7-Zip\\7z.exe" a -t7z -mx=5 -mhe=on -pBkp-{date[:7]}! '
            f"{archive} \\\\{fs.name}\\Engineering \\\\{fs.name}\\Projects",
            cmd,
            svc,
            cwd="D:\\Scripts\\",
            integrity="High",
        )
        size = int(4e9 + rng.random() * 6e9)
        sport = sim.port()
        if sim.net is not None:
            sim.net.conn(
                t,
                hs.host.ip,
                fs.ip,
                445,
                service="smb",
                duration=size / 8e7,
                orig_bytes=size // 300,
                resp_bytes=size,
                sport=sport,
            )
        fsl = sim.hosts[fs.name].log
        fsl.logon(
            t - 500_000,
            Account(svc.name, NETBIOS, svc.sid, sim.logon_id(rng), svc.logon_guid),
            3,
            hs.host.ip,
            "BK-01",
            elevated=True,
            port=sport,
        )
        fsl.share_access(t, svc, hs.host.ip, "Engineering")
        log.file_create(t + int(size / 8e7) * US, z, archive)
        t += int(size / 8e7) * US + 30 * US
        aws, _ = log.process(
            t,
            IMAGES["awscli"],
            f'"C:\\Program Files\\Amazon\\AWSCLIV2\\aws.exe" s3 cp {archive} '
            f"s3://aldergrove-offsite-backup/{fs.name}/ --storage-class STANDARD_IA",
            cmd,
            svc,
            cwd="D:\\Scripts\\",
            integrity="High",
        )
        name = S3
        ip = sim.ext.ip(name)
        log.dns(t + 100_000, aws, name, f"::ffff:{ip};")
        sport = sim.port()
        log.network(t + 200_000, aws, hs.host.ip, sport, ip, 443, name)
        up = int(size * (0.93 + rng.random() * 0.05))
        if sim.net is not None:
            sim.net.resolve(t + 100_000, sim.net.route(hs.host.ip, sim.dc_ip, name, [ip], ttl=5))
            sim.net.tls(
                t + 200_000,
                hs.host.ip,
                ip,
                name,
                orig_bytes=up,
                resp_bytes=up // 500,
                duration=up / 6e7,
                subject="CN=*.s3.eu-central-1.amazonaws.com",
                issuer="CN=Amazon RSA 2048 M01,O=Amazon,C=US",
                sport=sport,
            )
        t += int(up / 6e7) * US + 60 * US


WORKSTATION: tuple[tuple[Activity, float], ...] = (
    (browse, 60),
    (app_launch, 8),
    (outlook_attachment, 1.2),
    (file_share, 5),
    (unlock, 2),
    (system_background, 14),
    (software_update, 0.6),
    (big_upload, 0.08),
    (admin_work, 2.5),
)
SERVER: tuple[tuple[Activity, float], ...] = (
    (server_logons, 55),
    (system_background, 40),
    (software_update, 0.5),
)


class _Table:
    """Activities and their cumulative weights, as ``random.choices`` takes them."""

    __slots__ = ("acts", "cum")

    def __init__(self, spec: tuple[tuple[Activity, float], ...]) -> None:
        self.acts = [a for a, _ in spec]
        self.cum = list(accumulate(w for _, w in spec))


_TABLES = {
    "ws": _Table(WORKSTATION),
    "ws-eng": _Table(WORKSTATION),
    "dc": _Table(SERVER),
    "file": _Table(SERVER),
    "backup": _Table(SERVER),
}


def noise_day(sim: Sim, hs: HostState, day: int, target: int, rng: random.Random) -> None:
    """Emit about ``target`` benign events for one host and day.

    Activities run in batches, each in time order: the host's buffer and the Zeek buffers
    then hold a few long sorted runs, which the sorts before writing merge in a fraction of
    the time that shuffled input takes. Each batch is sized from the events per activity
    seen so far, to end near ``target`` without cutting the day short, and the day stops
    where one more activity would more likely overshoot the target than fall short of it.
    """
    host = hs.host
    session = sim.session(host, day) if not host.is_server else None
    if host.role == "backup":
        nightly_backup(sim, hs, day, rng)
    table = _TABLES[host.role]
    acts, cum = table.acts, table.cum
    buffer = hs.log.buffer
    day0 = sim.clock.day_start(day)
    span = 24 * HOUR - 12 * MINUTE
    start_len = len(buffer)
    weekend = (sim.cfg.start.weekday() + day) % 7 >= 5
    if not host.is_server and session is None:
        target = target // 12 if not weekend else target // 20
    goal = start_len + target
    random_ = rng.random
    ran = 0
    while (left := goal - len(buffer)) > 0:
        made = len(buffer) - start_len
        if ran and left < made / ran / 2:
            break  # one more activity would more likely overshoot than fall short
        # Events per activity so far, smoothed towards a pessimistic 8 (a long page load) so
        # that a few quiet activities early on do not make the next batch overshoot.
        n = max(1, int(0.9 * left * (ran + 8) / (made + 8 * 8)))
        chosen = rng.choices(acts, cum_weights=cum, k=n)
        if session is None:
            times = [day0 + int(random_() * span) for _ in range(n)]
        else:
            # Most activity falls in the user's session, some outside it (scheduled work).
            first, width = session.start + 60 * US, session.end - session.start - 60 * US
            times = [
                first + int(random_() * width) if random_() < 0.93 else day0 + int(random_() * span)
                for _ in range(n)
            ]
        # The activities are drawn independently of the times, so pairing the sorted times
        # with them in draw order is as random as sorting (time, activity) pairs, and cheaper.
        times.sort()
        for ts, act in zip(times, chosen, strict=True):
            act(sim, hs, session, ts, rng)
        ran += n
