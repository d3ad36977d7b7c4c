"""Matching the same person across sign-in logs (UPNs), mail (addresses) and Windows (SAM
names): ``James.Miller@corp.example``, ``CORP\\j.miller`` and ``adm.j.miller`` are one person."""

from __future__ import annotations

import re
from collections.abc import Iterable

ADMIN_PREFIXES = ("adm.", "adm-", "adm_", "admin.", "admin-", "admin_", "a-", "da-", "sa-")
ADMIN_SUFFIXES = (".adm", "-adm", "_adm", ".admin", "-admin", "_admin")
_SEP = re.compile(r"[._\-]+")


def local(account: str | None) -> str:
    """The bare account name: no domain, no UPN suffix, lowercased."""
    text = (account or "").strip().lower()
    text = text.rsplit("\\", 1)[-1]
    return text.split("@", 1)[0]


def is_admin_name(account: str | None) -> bool:
    """Named like a separate admin account (``adm.j.miller``, ``j.miller-adm``, ``administrator``)."""
    name = local(account)
    return (
        name in ("administrator", "admin", "root")
        or name.startswith(ADMIN_PREFIXES)
        or name.endswith(ADMIN_SUFFIXES)
    )


def person(account: str | None) -> str:
    """The person behind an account: admin prefixes/suffixes dropped, ``given.surname`` and
    ``g.surname`` both folded to ``g.surname``."""
    name = local(account)
    for p in ADMIN_PREFIXES:
        if name.startswith(p) and len(name) > len(p) + 2:
            name = name[len(p) :]
            break
    for s in ADMIN_SUFFIXES:
        if name.endswith(s) and len(name) > len(s) + 2:
            name = name[: -len(s)]
            break
    parts = [p for p in _SEP.split(name) if p]
    if len(parts) >= 2:
        return f"{parts[0][0]}.{parts[-1]}"
    return name


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two account names or addresses belong to one person."""
    return bool(local(a)) and person(a) == person(b)


def find(account: str, among: Iterable[str]) -> str | None:
    """The first of ``among`` that is the same person as ``account``."""
    return next((x for x in among if same_person(account, x)), None)
