"""Address ranges that only mean something inside an organisation's own network."""

from __future__ import annotations

import ipaddress

# RFC 1918, shared address space (RFC 6598), loopback, link-local, IPv6 ULA. Documentation
# ranges (TEST-NET) are not here: they stand for the Internet in examples and simulations.
# Correlation's *configurable* internal networks (--internal, default RFC 1918 + ULA) are a
# different question (which networks are the victim's) and live in correlate/config.py.
LOCAL_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def is_local_address(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``addr`` is in one of the :data:`LOCAL_NETWORKS`."""
    return any(addr in net for net in LOCAL_NETWORKS if addr.version == net.version)


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as logs write it (``fe80::1%eth0`` with its zone, ``::ffff:10.0.0.5`` for
    an IPv4 peer of a dual-stack socket, taken as the IPv4 address); None if it is none."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip
