"""Timely patching: the software inventory against CISA's KEV catalog and, for version ranges,
CVE JSON 5 records; endpoint logs add components with a known exploited CVE seen running.

KEV names products, not versions: a product on the KEV list whose installed version no CVE
record checks is reported as not verified, never as vulnerable.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from spearhunt.model.posture import (
    ControlResult,
    Finding,
    HostEvent,
    KevEntry,
    Software,
    VersionRange,
    unknown,
)
from spearhunt.model.story import Story
from spearhunt.posture.common import merge, pct, plural, stories_of_host

CONTROL = "patching"
_WORD = re.compile(r"[a-z0-9]+")
ANY_VERSION = ("", "*", "0", "-", "n/a", "unspecified", "all")


@cache
def components() -> dict[str, dict[str, Any]]:
    """Watched process images (``components.yaml``)."""
    data = yaml.safe_load(files("spearhunt.posture").joinpath("components.yaml").read_text("utf-8"))
    return {str(k).lower(): v for k, v in data.items()}


def words(text: str) -> tuple[str, ...]:
    """Lowercase alphanumeric words."""
    return tuple(_WORD.findall(text.lower()))


def product_matches(vendor: str, product: str, sw: Software) -> bool:
    """Whether an installed item is the vendor's product: the vendor's first word is in the
    item's vendor or name, and every word of the product name is in the item's name."""
    have = set(words(sw.name))
    vendor_words = words(vendor)
    if vendor_words and vendor_words[0] not in have | set(words(sw.vendor)):
        return False
    want = words(product)
    return bool(want) and all(w in have for w in want)


def version_key(text: str) -> tuple[int, ...]:
    """A version as numbers (``16.0.4266.1001`` -> (16, 0, 4266, 1001)); non-numbers ignored."""
    return tuple(int(x) for x in re.findall(r"\d+", text)[:8])


def in_range(version: str, r: VersionRange) -> bool | None:
    """Whether ``version`` falls in the range (None: the range cannot be compared)."""
    v = version_key(version)
    if not v:
        return None
    lo = () if r.version.lower() in ANY_VERSION else version_key(r.version)
    if r.version.lower() not in ANY_VERSION and not lo:
        return None
    if r.less_than:
        hi = version_key(r.less_than)
        return bool(hi) and lo <= v < hi if hi else None
    if r.less_equal:
        hi = version_key(r.less_equal)
        return bool(hi) and lo <= v <= hi if hi else None
    return v[: len(lo)] == lo if lo else None


def assess(
    software: Sequence[Software] | None,
    kev: Sequence[KevEntry] | None,
    ranges: Sequence[VersionRange],
    running: Sequence[HostEvent],
    stories: Sequence[Story],
    as_of: date,
) -> ControlResult:
    """Judge patching as of ``as_of`` (the end of the case)."""
    inputs = tuple(
        x
        for x, given in (
            ("inventory", software),
            ("KEV", kev),
            ("CVE records", ranges),
            ("case process starts", running),
        )
        if given
    )
    if not kev or (not software and not running):
        needs = []
        if not software:
            needs.append(
                "--inventory (osquery programs/os_version results or a host,vendor,product,version CSV)"
            )
        if not kev:
            needs.append("--kev (CISA's known_exploited_vulnerabilities.json)")
        return unknown(CONTROL, "give " + " and ".join(needs), inputs)
    kev_by_cve = {k.cve: k for k in kev}
    ranges_by_cve: dict[str, list[VersionRange]] = defaultdict(list)
    for r in ranges:
        ranges_by_cve[r.cve].append(r)
    findings: list[Finding] = []
    vulnerable_hosts: set[str] = set()
    overdue_hosts: set[str] = set()
    unverified: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    hosts = sorted({s.host for s in software or ()})
    # KEV entries by the first word of their vendor, so each installed item meets only its
    # vendors' products (the catalog has ~1,400 entries, a fleet tens of thousands of items)
    by_vendor: dict[str, dict[tuple[str, ...], list[KevEntry]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for k in kev:
        vw = words(k.vendor)
        if vw and words(k.product):
            by_vendor[vw[0]][words(k.product)].append(k)
    for sw in software or ():
        name_words = set(words(sw.name))
        for word in name_words | set(words(sw.vendor)):
            for product, entries in by_vendor.get(word, {}).items():
                if not all(w in name_words for w in product):
                    continue
                for k in entries:
                    _match(
                        sw,
                        k,
                        ranges_by_cve.get(k.cve, ()),
                        as_of,
                        stories,
                        findings,
                        vulnerable_hosts,
                        overdue_hosts,
                        unverified,
                    )
    for ev in running:
        comp = components().get(ev.detail.replace("\\", "/").rsplit("/", 1)[-1].lower())
        if not comp:
            continue
        known = [c for c in comp.get("cves", ()) if c in kev_by_cve]
        if not known:
            continue
        k = kev_by_cve[known[0]]
        overdue = (as_of - k.due).days if k.due else None
        findings.append(
            Finding(
                "critical" if overdue and overdue > 0 else "high",
                f"{comp['name']} ran on {ev.host}"
                + (f" (version {ev.version})" if ev.version else "")
                + f": known exploited {', '.join(known)}",
                host=ev.host,
                account=ev.user or None,
                evidence=(
                    f"{ev.time.isoformat(timespec='seconds') + 'Z' if ev.time else '?'} {ev.detail}",
                    f"KEV due {k.due or '?'}"
                    + (f", {overdue} days overdue" if overdue and overdue > 0 else ""),
                ),
                stories=stories_of_host(stories, ev.host),
                kind="exploitable_component_running",
            )
        )
        vulnerable_hosts.add(ev.host)
    for (host, name, version), cves in sorted(unverified.items()):
        findings.append(
            Finding(
                "info",
                f"{host}: {name} {version} has {plural(len(cves), 'KEV entry', 'KEV entries')}; "
                "version not verified (give --vulns with their CVE records)",
                host=host,
                evidence=tuple(sorted(cves)[:10]),
                stories=stories_of_host(stories, host),
                kind="kev_unverified",
            )
        )
    findings.sort(key=lambda f: ("critical", "high", "medium", "low", "info").index(f.severity))
    n_hosts = len(hosts) or len({e.host for e in running})
    score = pct(n_hosts - len(vulnerable_hosts), n_hosts)
    if overdue_hosts or any(
        f.kind == "exploitable_component_running" and f.severity == "critical" for f in findings
    ):
        status = "fail"
    elif vulnerable_hosts or unverified:
        status = "partial"
    else:
        status = "pass"
    summary = (
        f"{plural(n_hosts, 'host')} inventoried against {len(kev):,} KEV entries: "
        f"{len(vulnerable_hosts)} with a known exploited vulnerability ({len(overdue_hosts)} past the KEV due date), "
        f"{plural(len(unverified), 'product')} on the KEV list not version-checked"
    )
    figures = (
        ("hosts", str(n_hosts)),
        ("vulnerable_hosts", str(len(vulnerable_hosts))),
        ("overdue_hosts", str(len(overdue_hosts))),
        ("unverified_products", str(len(unverified))),
        ("as_of", as_of.isoformat()),
    )
    return ControlResult(CONTROL, status, score, summary, inputs, tuple(findings), figures)


def _match(
    sw: Software,
    k: KevEntry,
    ranges: Sequence[VersionRange],
    as_of: date,
    stories: Sequence[Story],
    findings: list[Finding],
    vulnerable_hosts: set[str],
    overdue_hosts: set[str],
    unverified: dict[tuple[str, str, str], list[str]],
) -> None:
    """One installed item against one KEV entry: vulnerable (a CVE range holds its version),
    not (ranges exist and none holds it) or not verified (no comparable range)."""
    full = Software(sw.host, f"{sw.vendor} {sw.name}", sw.version)
    verdicts = [
        in_range(sw.version, r)
        for r in ranges
        if r.status == "affected"
        and (product_matches(r.vendor, r.product, sw) or product_matches(r.vendor, r.product, full))
    ]
    if any(v is True for v in verdicts):
        f = _vulnerable(sw, k, as_of, stories)
        findings.append(f)
        vulnerable_hosts.add(sw.host)
        if f.kind == "kev_overdue":
            overdue_hosts.add(sw.host)
    elif all(v is None for v in verdicts):
        unverified[(sw.host, sw.name, sw.version)].append(k.cve)


def _vulnerable(sw: Software, k: KevEntry, as_of: date, stories: Sequence[Story]) -> Finding:
    overdue = (as_of - k.due).days if k.due else None
    late = overdue is not None and overdue > 0
    return Finding(
        "critical" if late and k.ransomware else "high" if late else "medium",
        f"{sw.host}: {sw.name} {sw.version} is affected by {k.cve} ({k.name or k.product})"
        + (f", {overdue} days past the KEV due date" if late else ""),
        host=sw.host,
        evidence=(
            f"KEV added {k.date_added or '?'}, due {k.due or '?'}",
            "known ransomware use" if k.ransomware else "ransomware use unknown",
            f"inventory {sw.source or '?'}",
        ),
        stories=merge(stories_of_host(stories, sw.host)),
        kind="kev_overdue" if late else "kev_vulnerable",
    )
