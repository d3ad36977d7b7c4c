"""Executables as Sysmon describes them: path, PE metadata and (stable, made-up) hashes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

S32 = "C:\\Windows\\System32\\"
OFFICE = "C:\\Program Files\\Microsoft Office\\root\\Office16\\"


@dataclass(frozen=True, slots=True)
class Image:
    """One executable file."""

    path: str
    original: str  # OriginalFileName from the version resource
    description: str
    product: str
    company: str
    version: str
    hashes: str  # Sysmon "MD5=...,SHA256=...,IMPHASH=..."

    @property
    def name(self) -> str:
        """File name, e.g. ``cmd.exe``."""
        return self.path.rsplit("\\", 1)[-1]

    @property
    def sha256(self) -> str:
        """Upper-case SHA256 from the Hashes field."""
        return self.hashes.split("SHA256=", 1)[1].split(",", 1)[0]


def sysmon_hashes(sha256: str, md5: str, imphash: str = "") -> str:
    """The Hashes field as Sysmon writes it (upper-case hex)."""
    text = f"MD5={md5.upper()},SHA256={sha256.upper()}"
    return f"{text},IMPHASH={imphash.upper()}" if imphash else text


def make_image(
    path: str,
    original: str,
    description: str = "",
    product: str = "",
    company: str = "",
    version: str = "",
    *,
    content: bytes | None = None,
) -> Image:
    """An image; hashes come from ``content`` when given, else from the path (stable per build)."""
    data = content if content is not None else f"spearhunt-image:{path}:{version}".encode()
    hashes = sysmon_hashes(
        hashlib.sha256(data).hexdigest(),
        hashlib.md5(data).hexdigest(),
        hashlib.md5(b"imp" + data).hexdigest(),
    )
    return Image(path, original, description, product, company, version, hashes)


_MS = "Microsoft Corporation"
_WIN = "Microsoft® Windows® Operating System"
_WINVER = "10.0.22621.1 (WinBuild.160101.0800)"
_OFF = "Microsoft Office"

IMAGES: dict[str, Image] = {
    key: make_image(*spec)
    for key, spec in {
        "system": ("System", "", "", "", "", ""),
        "smss": (S32 + "smss.exe", "smss.exe", "Windows Session Manager", _WIN, _MS, _WINVER),
        "services": (
            S32 + "services.exe",
            "services.exe",
            "Services and Controller app",
            _WIN,
            _MS,
            _WINVER,
        ),
        "lsass": (
            S32 + "lsass.exe",
            "lsass.exe",
            "Local Security Authority Process",
            _WIN,
            _MS,
            _WINVER,
        ),
        "svchost": (
            S32 + "svchost.exe",
            "svchost.exe",
            "Host Process for Windows Services",
            _WIN,
            _MS,
            _WINVER,
        ),
        "winlogon": (
            S32 + "winlogon.exe",
            "WINLOGON.EXE",
            "Windows Logon Application",
            _WIN,
            _MS,
            _WINVER,
        ),
        "userinit": (
            S32 + "userinit.exe",
            "USERINIT.EXE",
            "Userinit Logon Application",
            _WIN,
            _MS,
            _WINVER,
        ),
        "explorer": (
            "C:\\Windows\\explorer.exe",
            "EXPLORER.EXE",
            "Windows Explorer",
            _WIN,
            _MS,
            _WINVER,
        ),
        "cmd": (S32 + "cmd.exe", "Cmd.Exe", "Windows Command Processor", _WIN, _MS, _WINVER),
        "powershell": (
            S32 + "WindowsPowerShell\\v1.0\\powershell.exe",
            "PowerShell.EXE",
            "Windows PowerShell",
            _WIN,
            _MS,
            _WINVER,
        ),
        "conhost": (S32 + "conhost.exe", "CONHOST.EXE", "Console Window Host", _WIN, _MS, _WINVER),
        "rundll32": (
            S32 + "rundll32.exe",
            "RUNDLL32.EXE",
            "Windows host process (Rundll32)",
            _WIN,
            _MS,
            _WINVER,
        ),
        "regsvr32": (
            S32 + "regsvr32.exe",
            "REGSVR32.EXE",
            "Microsoft(C) Register Server",
            _WIN,
            _MS,
            _WINVER,
        ),
        "reg": (S32 + "reg.exe", "reg.exe", "Registry Console Tool", _WIN, _MS, _WINVER),
        "schtasks": (
            S32 + "schtasks.exe",
            "schtasks.exe",
            "Task Scheduler Configuration Tool",
            _WIN,
            _MS,
            _WINVER,
        ),
        "sc": (
            S32 + "sc.exe",
            "sc.exe",
            "Service Control Manager Configuration Tool",
            _WIN,
            _MS,
            _WINVER,
        ),
        "taskhostw": (
            S32 + "taskhostw.exe",
            "taskhostw.exe",
            "Host Process for Windows Tasks",
            _WIN,
            _MS,
            _WINVER,
        ),
        "backgroundtaskhost": (
            S32 + "backgroundTaskHost.exe",
            "backgroundTaskHost.exe",
            "Background Task Host",
            _WIN,
            _MS,
            _WINVER,
        ),
        "searchprotocolhost": (
            S32 + "SearchProtocolHost.exe",
            "SearchProtocolHost.exe",
            "Microsoft Windows Search Protocol Host",
            _WIN,
            _MS,
            _WINVER,
        ),
        "wmiprvse": (
            S32 + "wbem\\WmiPrvSE.exe",
            "Wmiprvse.exe",
            "WMI Provider Host",
            _WIN,
            _MS,
            _WINVER,
        ),
        "wmic": (S32 + "wbem\\WMIC.exe", "wmic.exe", "WMI Commandline Utility", _WIN, _MS, _WINVER),
        "msiexec": (
            S32 + "msiexec.exe",
            "msiexec.exe",
            "Windows® installer",
            _WIN,
            _MS,
            "5.0.22621.1",
        ),
        "gpupdate": (
            S32 + "gpupdate.exe",
            "GPUpdate.exe",
            "Microsoft® Windows Group Policy Update Utility",
            _WIN,
            _MS,
            _WINVER,
        ),
        "whoami": (
            S32 + "whoami.exe",
            "whoami.exe",
            "whoami - displays logged on user information",
            _WIN,
            _MS,
            _WINVER,
        ),
        "net": (S32 + "net.exe", "net.exe", "Net Command", _WIN, _MS, _WINVER),
        "net1": (S32 + "net1.exe", "net1.exe", "Net Command", _WIN, _MS, _WINVER),
        "nltest": (
            S32 + "nltest.exe",
            "nltestrk.exe",
            "Microsoft® Logon Server Test Utility",
            _WIN,
            _MS,
            _WINVER,
        ),
        "ipconfig": (
            S32 + "ipconfig.exe",
            "ipconfig.exe",
            "IP Configuration Utility",
            _WIN,
            _MS,
            _WINVER,
        ),
        "robocopy": (
            S32 + "Robocopy.exe",
            "robocopy.exe",
            "Microsoft Robocopy",
            _WIN,
            _MS,
            _WINVER,
        ),
        "mstsc": (S32 + "mstsc.exe", "mstsc.exe", "Remote Desktop Connection", _WIN, _MS, _WINVER),
        "rdpclip": (
            S32 + "rdpclip.exe",
            "rdpclip.exe",
            "RDP Clipboard Monitor",
            _WIN,
            _MS,
            _WINVER,
        ),
        "fodhelper": (
            S32 + "fodhelper.exe",
            "FodHelper.EXE",
            "Features On Demand Helper",
            _WIN,
            _MS,
            _WINVER,
        ),
        "makecab": (
            S32 + "makecab.exe",
            "makecab.exe",
            "Microsoft® Cabinet Maker",
            _WIN,
            _MS,
            _WINVER,
        ),
        "curl": (
            S32 + "curl.exe",
            "curl.exe",
            "The curl executable",
            "The curl executable",
            "curl, https://curl.se/",
            "8.10.1",
        ),
        "wbadmin": (
            S32 + "wbadmin.exe",
            "WBADMIN.EXE",
            "Command Line Interface for Microsoft® BLB Backup",
            _WIN,
            _MS,
            _WINVER,
        ),
        "consent": (
            S32 + "consent.exe",
            "consent.exe",
            "Consent UI for administrative applications",
            _WIN,
            _MS,
            _WINVER,
        ),
        "psexec": (
            "C:\\Tools\\SysinternalsSuite\\PsExec64.exe",
            "psexec.c",
            "Execute processes remotely",
            "Sysinternals PsExec",
            "Sysinternals - www.sysinternals.com",
            "2.43",
        ),
        "psexesvc": (
            "C:\\Windows\\PSEXESVC.exe",
            "psexesvc.exe",
            "PsExec Service",
            "Sysinternals PsExec",
            "Sysinternals - www.sysinternals.com",
            "2.43",
        ),
        "winword": (
            OFFICE + "WINWORD.EXE",
            "WinWord.exe",
            "Microsoft Word",
            _OFF,
            _MS,
            "16.0.17328.20162",
        ),
        "excel": (
            OFFICE + "EXCEL.EXE",
            "Excel.exe",
            "Microsoft Excel",
            _OFF,
            _MS,
            "16.0.17328.20162",
        ),
        "powerpnt": (
            OFFICE + "POWERPNT.EXE",
            "POWERPNT.EXE",
            "Microsoft PowerPoint",
            _OFF,
            _MS,
            "16.0.17328.20162",
        ),
        "outlook": (
            OFFICE + "OUTLOOK.EXE",
            "Outlook.exe",
            "Microsoft Outlook",
            _OFF,
            _MS,
            "16.0.17328.20162",
        ),
        "officec2r": (
            "C:\\Program Files\\Common Files\\microsoft shared\\ClickToRun\\OfficeClickToRun.exe",
            "OfficeClickToRun.exe",
            "Microsoft Office Click-to-Run",
            _OFF,
            _MS,
            "16.0.17328.20162",
        ),
        "msedge": (
            "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
            "msedge.exe",
            "Microsoft Edge",
            "Microsoft Edge",
            _MS,
            "122.0.2365.66",
        ),
        "edgeupdate": (
            "C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe",
            "msedgeupdate.dll",
            "Microsoft Edge Update",
            "Microsoft Edge Update",
            _MS,
            "1.3.185.17",
        ),
        "chrome": (
            "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
            "chrome.exe",
            "Google Chrome",
            "Google Chrome",
            "Google LLC",
            "122.0.6261.95",
        ),
        "teams": (
            "C:\\Program Files\\WindowsApps\\MSTeams_24033.811.2738.2546_x64__8wekyb3d8bbwe\\ms-teams.exe",
            "ms-teams.exe",
            "Microsoft Teams",
            "Microsoft Teams",
            _MS,
            "24033.811.2738.2546",
        ),
        "onedrive": (
            "C:\\Program Files\\Microsoft OneDrive\\OneDrive.exe",
            "OneDrive.exe",
            "Microsoft OneDrive",
            "Microsoft OneDrive",
            _MS,
            "24.020.0128.0003",
        ),
        "acrobat": (
            "C:\\Program Files\\Adobe\\Acrobat DC\\Acrobat\\Acrobat.exe",
            "Acrobat.exe",
            "Adobe Acrobat",
            "Adobe Acrobat",
            "Adobe Systems Incorporated",
            "24.1.20643.0",
        ),
        "solidworks": (
            "C:\\Program Files\\SOLIDWORKS Corp\\SOLIDWORKS\\SLDWORKS.exe",
            "SLDWORKS.exe",
            "SOLIDWORKS",
            "SOLIDWORKS",
            "Dassault Systemes SolidWorks Corp",
            "32.1.0.0076",
        ),
        "matlab": (
            "C:\\Program Files\\MATLAB\\R2024a\\bin\\win64\\MATLAB.exe",
            "MATLAB.exe",
            "MATLAB",
            "MATLAB",
            "The MathWorks, Inc.",
            "24.1.0.2537033",
        ),
        "ccmexec": (
            "C:\\Windows\\CCM\\CcmExec.exe",
            "CcmExec.exe",
            "Host Process for Microsoft Configuration Manager",
            "Microsoft Configuration Manager",
            _MS,
            "5.00.9122.1000",
        ),
        "msmpeng": (
            "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24020.7-0\\MsMpEng.exe",
            "MsMpEng.exe",
            "Antimalware Service Executable",
            _WIN,
            _MS,
            "4.18.24020.7",
        ),
        "7z": (
            "C:\\Program Files\\7-Zip\\7z.exe",
            "7z.exe",
            "7-Zip Console",
            "7-Zip",
            "Igor Pavlov",
            "23.01",
        ),
        "veeam": (
            "C:\\Program Files\\Veeam\\Endpoint Backup\\Veeam.EndPoint.Service.exe",
            "Veeam.EndPoint.Service.exe",
            "Veeam Agent for Microsoft Windows Service",
            "Veeam Agent for Microsoft Windows",
            "Veeam Software Group GmbH",
            "6.1.0.349",
        ),
        "awscli": (
            "C:\\Program Files\\Amazon\\AWSCLIV2\\aws.exe",
            "aws.exe",
            "",
            "",
            "",
            "2.15.30",
        ),
        "setup_teams": (
            "C:\\Program Files\\Common Files\\microsoft shared\\ClickToRun\\Updates\\setup.exe",
            "setup.exe",
            "Microsoft Office Setup",
            _OFF,
            _MS,
            "16.0.17328.20162",
        ),
        "dfsr": (
            S32 + "dfsrs.exe",
            "dfsrs.exe",
            "Distributed File System Replication",
            _WIN,
            _MS,
            _WINVER,
        ),
    }.items()
}
