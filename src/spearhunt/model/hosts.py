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
