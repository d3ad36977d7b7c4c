"""Well-known shared cloud and CDN endpoints: context in a report, never an indicator.

A consumer that blocks an indicator breaks whatever else uses it: ``s3.eu-west-1.amazonaws.com``
serves every S3 bucket of the region, ``api.telegram.org`` every Telegram bot. Such hosts stay
in the report as context unless a rule of the case names them. A tenant's own host under the
same provider (``evil-bucket.s3.amazonaws.com``, ``d1x2.cloudfront.net``) is attacker-specific
and remains an indicator.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

# Exact shared endpoints (and apexes that serve every tenant).
SHARED_HOSTS = frozenset(
    {
        # AWS
        "amazonaws.com",
        "s3.amazonaws.com",
        "s3-external-1.amazonaws.com",
        "cloudfront.net",
        "awsstatic.com",
        # Azure / Microsoft
        "core.windows.net",
        "blob.core.windows.net",
        "azureedge.net",
        "azurefd.net",
        "azurewebsites.net",
        "windows.net",
        "login.microsoftonline.com",
        "graph.microsoft.com",
        "outlook.office365.com",
        "outlook.office.com",
        "onedrive.live.com",
        "1drv.ms",
        "sharepoint.com",
        "windowsupdate.com",
        "ctldl.windowsupdate.com",
        # Google
        "googleapis.com",
        "www.googleapis.com",
        "storage.googleapis.com",
        "firebasestorage.googleapis.com",
        "ajax.googleapis.com",
        "fonts.googleapis.com",
        "googleusercontent.com",
        "drive.google.com",
        "docs.google.com",
        "gstatic.com",
        "www.gstatic.com",
        # CDNs
        "akamai.net",
        "akamaiedge.net",
        "akamaihd.net",
        "akamaized.net",
        "edgekey.net",
        "edgesuite.net",
        "fastly.net",
        "global.ssl.fastly.net",
        "cloudflare.com",
        "cloudflare.net",
        "cdnjs.cloudflare.com",
        "cdn.jsdelivr.net",
        "unpkg.com",
        # code, file and message services
        "github.com",
        "raw.githubusercontent.com",
        "objects.githubusercontent.com",
        "gist.githubusercontent.com",
        "dropbox.com",
        "www.dropbox.com",
        "dl.dropboxusercontent.com",
        "content.dropboxapi.com",
        "api.telegram.org",
        "discord.com",
        "cdn.discordapp.com",
        "slack.com",
        "hooks.slack.com",
    }
)
# Regional service endpoints: <service>.<region>.amazonaws.com, s3-<region>.amazonaws.com,
# s3.dualstack.<region>.amazonaws.com (one label before the region: no tenant in the name).
_SHARED_PATTERNS = (
    re.compile(
        r"(s3|s3-[a-z0-9-]+|[a-z0-9-]+)(\.dualstack)?\.[a-z]{2}(-gov)?-[a-z]+-\d\.amazonaws\.com(\.cn)?"
    ),
    re.compile(r"s3-[a-z]{2}(-gov)?-[a-z]+-\d\.amazonaws\.com"),
)


def host_of(kind: str, value: str) -> str | None:
    """The host name an indicator of ``kind`` (domain, url, email) names, lowercased."""
    text = value.strip().lower().rstrip(".")
    if kind == "domain":
        return text
    if kind == "url":
        try:
            return (urlsplit(text if "//" in text else "//" + text).hostname or "").rstrip(".")
        except ValueError:
            return None
    return None


def is_shared(host: str | None) -> bool:
    """Whether ``host`` is a well-known shared cloud or CDN endpoint (not a tenant's host)."""
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return False
    return host in SHARED_HOSTS or any(p.fullmatch(host) for p in _SHARED_PATTERNS)
