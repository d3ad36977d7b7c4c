"""The zones file: named address ranges and the flows allowed between them (YAML).

```yaml
zones:
  workstations: [10.10.10.0/24]
  servers: [10.10.1.0/24]
  internet: [0.0.0.0/0]          # anything not in another zone
allow:
  - {from: workstations, to: servers, ports: [53, 88, 135, 389, 445, 443]}
  - {from: servers, to: internet, ports: [443]}
```
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml

from spearhunt.errors import IngestError
from spearhunt.ingest.posture.common import read_text
from spearhunt.model.posture import Allow, IPNet, ZonePolicy

MAX_ZONES_FILE = 4 * 1024 * 1024
MAX_ENTRIES = 100_000


def read_zones(path: Path) -> ZonePolicy:
    """Parse and check a zones file; every mistake is an ``IngestError`` naming the entry."""
    where = str(path)
    try:
        doc = yaml.safe_load(read_text(path, MAX_ZONES_FILE))
    except yaml.YAMLError as exc:
        raise IngestError(f"invalid YAML: {exc}", where=where) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("zones"), dict):
        raise IngestError(
            "a zones file needs a 'zones:' mapping of name -> list of CIDRs", where=where
        )
    zones: list[tuple[str, tuple[IPNet, ...]]] = []
    for name, nets in doc["zones"].items():
        if not isinstance(nets, list):
            nets = [nets]
        if len(nets) > MAX_ENTRIES:
            raise IngestError(f"zone {name!s}: more than {MAX_ENTRIES} ranges", where=where)
        parsed: list[IPNet] = []
        for net in nets:
            try:
                parsed.append(ipaddress.ip_network(str(net).strip(), strict=False))
            except ValueError as exc:
                raise IngestError(
                    f"zone {name!s}: {net!r} is not an address range: {exc}", where=where
                ) from exc
        zones.append((str(name), tuple(parsed)))
    names = {z for z, _ in zones}
    allow_list = doc.get("allow") or []
    if not isinstance(allow_list, list):
        raise IngestError("'allow:' must be a list of {from, to, ports}", where=where)
    allows = [_allow(i, a, names, where) for i, a in enumerate(allow_list[:MAX_ENTRIES], 1)]
    return ZonePolicy(tuple(zones), tuple(allows), source=where)


def _allow(i: int, a: Any, names: set[str], where: str) -> Allow:
    if not isinstance(a, dict) or "from" not in a or "to" not in a:
        raise IngestError(f"allow line {i}: needs 'from' and 'to'", where=where)
    src, dst = str(a["from"]), str(a["to"])
    for z in (src, dst):
        if z not in names:
            raise IngestError(
                f"allow line {i}: no zone named {z!r} (zones: {', '.join(sorted(names))})",
                where=where,
            )
    ports = a.get("ports")
    if ports is None or ports == "any":
        return Allow(src, dst, None)
    if not isinstance(ports, list):
        ports = [ports]
    out: set[int] = set()
    for p in ports:
        text = str(p).strip()
        lo, _, hi = text.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise IngestError(f"allow line {i}: port {p!r} is not a number or range", where=where)
        first, last = int(lo), int(hi or lo)
        if not 0 <= first <= last <= 65535:
            raise IngestError(f"allow line {i}: port {p!r} out of range", where=where)
        out.update(range(first, last + 1))
    return Allow(src, dst, frozenset(out))
