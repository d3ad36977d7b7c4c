"""What correlation is told from outside: time windows, the allow-list and asset criticality.

Both files are YAML (or JSON). They are read at correlation time, so changing them needs no
re-ingest. Allow-list::

    hosts: [ws-kiosk-01]            # host names (short or FQDN, case-insensitive, globs)
    users: [svc_scanner]            # accounts (case-insensitive, globs)
    rules: [<rule id or title>]     # detections of these rules are ignored
    hashes: [<sha256/md5/sha1>]     # events naming these hashes are ignored
    domains: [sharepoint.com]       # a destination equal to or below these is known-good
    ips: [203.0.113.0/24]           # addresses or networks

Assets::

    internal_networks: [192.168.0.0/16]   # the victim network (default: private space)
    assets:
      - match: "fs-*"               # glob on the short host name
        criticality: 8              # 0..10
        role: file server
      - match: "dc-*"
        criticality: 10
        role: domain controller     # role 'domain controller' also makes the host a weak link
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from spearhunt.errors import UsageError
from spearhunt.model.hosts import short_host
from spearhunt.model.networks import parse_address

DEFAULT_ALLOW = Path(__file__).resolve().parent / "default_allow.yaml"


def _duration(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip().lower()
    try:
        if text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except (ValueError, IndexError) as exc:
        raise UsageError(f"not a duration: {text!r} (e.g. 30s, 10m, 6h, 14d)") from exc


def parse_duration(text: str) -> int:
    """Seconds in ``30s``, ``10m``, ``6h``, ``14d`` or ``2w``."""
    return _duration(text)


@dataclass(frozen=True, slots=True)
class Windows:
    """How far apart two linked facts may be, in seconds (issue 5: each edge has a window)."""

    story: int = 14 * 86400  # everything in one story lies within this of its start
    mail_to_open: int = 86400  # mail received -> attachment written/opened (minutes to a day)
    net_to_logon: int = 60  # network connection -> remote logon on the target (seconds)
    logon_to_action: int = 300  # remote logon -> service install / WMI / share access on the target
    skew: int = 120  # clock skew allowed between hosts
    staging_to_exfil: int = 3 * 86400  # staging/collection -> exfiltration (hours to days)

    def to_pairs(self) -> tuple[tuple[str, str], ...]:
        """Parameters for the result document."""
        return tuple((f"window.{k}", str(getattr(self, k))) for k in self.__slots__)


@dataclass(frozen=True, slots=True)
class Allowlist:
    """Known-good entities, applied when correlating."""

    hosts: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    hashes: frozenset[str] = frozenset()
    domains: tuple[str, ...] = ()
    ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def host(self, name: str | None) -> bool:
        """Is this host allow-listed?"""
        key = short_host(name)
        return bool(key) and any(
            fnmatch.fnmatchcase(key, short_host(p)) or fnmatch.fnmatchcase((name or "").lower(), p)
            for p in self.hosts
        )

    def user(self, name: str | None) -> bool:
        """Is this account allow-listed (``DOMAIN\\user`` or ``user``)?"""
        if not name:
            return False
        key = name.lower().rsplit("\\", 1)[-1]
        return any(fnmatch.fnmatchcase(key, p) for p in self.users)

    def rule(self, rule_id: str, title: str) -> bool:
        """Is this rule allow-listed by id or title?"""
        return rule_id.lower() in self.rules or title.lower() in self.rules

    def domain(self, name: str | None) -> bool:
        """Is this destination name known-good (equal to or below a listed domain)?"""
        if not name:
            return False
        name = name.lower().rstrip(".")
        return any(name == d or name.endswith("." + d) for d in self.domains)

    def ip(self, addr: str | None) -> bool:
        """Is this address in a listed network?"""
        if not addr or not self.ips:
            return False
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in net for net in self.ips)

    def merged(self, other: Allowlist) -> Allowlist:
        """Both lists together."""
        return Allowlist(
            self.hosts + other.hosts,
            self.users + other.users,
            self.rules + other.rules,
            self.hashes | other.hashes,
            self.domains + other.domains,
            self.ips + other.ips,
        )


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Private space (RFC 1918, unique-local IPv6) is "ours" unless the case says otherwise;
# loopback and link-local always are.
DEFAULT_INTERNAL = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
_ALWAYS_INTERNAL = tuple(
    ipaddress.ip_network(n) for n in ("127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10")
)


@dataclass(frozen=True, slots=True)
class Internal:
    """Which addresses are the victim network's own (``--internal``, ``internal_networks:``);
    everything else is a destination outside."""

    networks: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in DEFAULT_INTERNAL)

    def __call__(self, addr: str | None) -> bool:
        """Is this address one of ours?"""
        return bool(addr) and _is_internal(str(addr), self.networks)


@lru_cache(maxsize=65536)
def _is_internal(addr: str, networks: tuple[Network, ...]) -> bool:
    ip = parse_address(addr)
    if ip is None:
        return False
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return True  # local discovery and broadcast (SSDP, mDNS): never a destination outside
    return any(ip in n for n in _ALWAYS_INTERNAL) or any(
        ip.version == n.version and ip in n for n in networks
    )


def parse_networks(texts: list[str] | tuple[str, ...], where: str) -> tuple[Network, ...]:
    """CIDR texts (``10.0.0.0/8``, a bare address) -> networks; UsageError names ``where``."""
    out = []
    for text in texts:
        try:
            out.append(ipaddress.ip_network(str(text).strip(), strict=False))
        except ValueError as exc:
            raise UsageError(f"{where}: not an IP network: {text!r}") from exc
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Asset:
    """Criticality of the hosts a glob names."""

    match: str
    criticality: int
    role: str = ""


@dataclass(frozen=True, slots=True)
class Assets:
    """Asset criticality, first matching entry wins."""

    entries: tuple[Asset, ...] = ()
    internal: tuple[Network, ...] = ()  # internal_networks: of the assets file

    def lookup(self, host: str) -> Asset | None:
        """The entry for a host, if any."""
        key = short_host(host)
        for a in self.entries:
            if fnmatch.fnmatchcase(key, a.match.lower()) or fnmatch.fnmatchcase(
                host.lower(), a.match.lower()
            ):
                return a
        return None

    def criticality(self, host: str) -> int:
        """0..10; 0 when the host is not listed."""
        a = self.lookup(host)
        return a.criticality if a else 0

    def is_dc(self, host: str) -> bool:
        """Listed as a domain controller?"""
        a = self.lookup(host)
        return bool(a and a.role.lower() in ("dc", "domain controller"))


@dataclass(frozen=True, slots=True)
class CorrelateOptions:
    """Everything ``correlate`` is asked for."""

    windows: Windows = field(default_factory=Windows)
    allowlist: Allowlist = field(default_factory=Allowlist)
    assets: Assets = field(default_factory=Assets)
    rule_dirs: tuple[Path, ...] = ()  # extra folders with Sigma correlation rules
    with_pack: bool = True
    weak_share: float = 0.5  # an entity seen on more than this share of hosts links nothing
    min_story_score: float = 5.0
    internal: Internal = field(default_factory=Internal)
    episode_gap: int = 2 * 86400  # seconds without an alert on a host that end an episode
    beacon_min_conns: int = 12  # connections to one destination before it can be a beacon
    exfil_min_bytes: int = 10 * 1024 * 1024  # bytes out to one rare destination: exfiltration


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML/JSON: {exc}") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: expected a mapping at the top")
    return doc


def _strings(doc: dict[str, Any], key: str, path: Path) -> tuple[str, ...]:
    value = doc.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise UsageError(f"{path}: '{key}' must be a list of strings")
    return tuple(str(v).strip().lower() for v in value if str(v).strip())


def load_allowlist(path: Path | None, with_defaults: bool = True) -> Allowlist:
    """The allow-list in ``path`` (plus spearhunt's defaults of update/PKI services)."""
    out = _allow_from(DEFAULT_ALLOW) if with_defaults else Allowlist()
    if path is None:
        return out
    return out.merged(_allow_from(path))


def _allow_from(path: Path) -> Allowlist:
    doc = _read(path)
    doc = doc.get("allow", doc) if isinstance(doc.get("allow"), dict) else doc
    nets = []
    for text in _strings(doc, "ips", path):
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise UsageError(f"{path}: not an IP address or network: {text!r}") from exc
    return Allowlist(
        hosts=_strings(doc, "hosts", path),
        users=_strings(doc, "users", path),
        rules=_strings(doc, "rules", path),
        hashes=frozenset(_strings(doc, "hashes", path)),
        domains=tuple(d.lstrip("*.").rstrip(".") for d in _strings(doc, "domains", path)),
        ips=tuple(nets),
    )


def load_assets(path: Path | None) -> Assets:
    """Asset criticality from ``path`` (none when not given)."""
    if path is None:
        return Assets()
    doc = _read(path)
    raw = doc.get("assets", [])
    if not isinstance(raw, list):
        raise UsageError(f"{path}: 'assets' must be a list")
    out = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict) or "match" not in item:
            raise UsageError(f"{path}: asset #{n + 1} needs a 'match'")
        try:
            crit = int(item.get("criticality", 5))
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{path}: asset #{n + 1}: criticality must be 0..10") from exc
        out.append(Asset(str(item["match"]), max(0, min(10, crit)), str(item.get("role", ""))))
    nets = doc.get("internal_networks") or []
    if not isinstance(nets, list):
        raise UsageError(f"{path}: 'internal_networks' must be a list of CIDR networks")
    return Assets(tuple(out), parse_networks(nets, str(path)))


def internal_from(cli: list[str] | tuple[str, ...], assets: Assets) -> Internal:
    """The networks that are ours: ``--internal`` and the assets file's ``internal_networks:``
    together when either is given, else private address space."""
    nets = parse_networks(cli, "--internal") + assets.internal
    return Internal(nets) if nets else Internal()
