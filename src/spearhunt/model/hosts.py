"""The host key: how every stage names a host, whatever form a log wrote it in."""

from __future__ import annotations

import ipaddress


def short_host(name: str | None) -> str:
    """Host key: the lower-case first label (``WS-01.corp.example`` -> ``ws-01``); an IP
    address (v4 or v6) is kept whole; ``""`` when there is no name.

    Stories, facts, Zeek records and reports all key hosts by this, so the same machine
    logged as ``WS-01``, ``ws-01.corp.example`` and ``WS-01.`` is one host everywhere.
    """
    if not name:
        return ""
    text = name.strip().lower()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return text.split(".", 1)[0] or text
    return text


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"^{_OCTET}(\.{_OCTET}){{3}}$"


def short_host_sql(column: str) -> str:
    """SQL for ``short_host`` of a text column (IPv4 addresses and anything with a ``:``,
    as IPv6 addresses are, kept whole; else the first label, or the whole name when the
    first label is empty)."""
    text = f"lower(trim({column}))"
    first = f"split_part({text}, '.', 1)"
    return (
        f"CASE WHEN {column} IS NULL THEN '' "
        f"WHEN regexp_matches({text}, '{_IPV4}') OR contains({text}, ':') THEN {text} "
        f"WHEN {first} = '' THEN {text} ELSE {first} END"
    )
