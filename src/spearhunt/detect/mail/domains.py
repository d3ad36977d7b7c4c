"""Domain helpers: offline public-suffix parsing, look-alikes, punycode, random-looking names."""

from __future__ import annotations

import contextlib
import functools
import math
import re
import unicodedata
from collections import Counter

import tldextract

_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


@functools.lru_cache(maxsize=8192)
def split(host: str) -> tuple[str, str, str]:
    """(subdomain, label, suffix) of a host name using the bundled public-suffix list (no network)."""
    host = host.strip().strip(".").lower()
    try:
        r = _EXTRACT(host)
    except (ValueError, UnicodeError):
        return ("", host, "")
    return (r.subdomain, r.domain, r.suffix)


@functools.lru_cache(maxsize=8192)
def root(host: str) -> str:
    """Registrable domain (``mail.google.com`` -> ``google.com``); the host itself when none."""
    _sub, label, suffix = split(host)
    if label and suffix:
        return f"{label}.{suffix}"
    return host.strip(".").lower()


def within(host: str, domains: frozenset[str]) -> str | None:
    """The listed domain that ``host`` is or sits under, if any."""
    host = host.lower().strip(".")
    parts = host.split(".")
    for i in range(len(parts) - 1):
        candidate = ".".join(parts[i:])
        if candidate in domains:
            return candidate
    return None


def to_unicode(host: str) -> str:
    """Punycode labels decoded for display and comparison."""
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError, ValueError):
                label = label[4:].encode("ascii").decode("punycode")
        labels.append(label)
    return ".".join(labels)


def is_punycode(host: str) -> bool:
    """Whether any label is an IDN (xn--) or non-ASCII."""
    return any(label.startswith("xn--") for label in host.lower().split(".")) or not host.isascii()


def skeleton(text: str) -> str:
    """Confusable skeleton: homoglyphs folded to the ASCII letter they imitate."""
    from confusable_homoglyphs import confusables

    out = []
    for ch in unicodedata.normalize("NFKC", text.lower()):
        if ch.isascii():
            out.append(ch)
            continue
        hit = confusables.is_confusable(ch, preferred_aliases=["latin"], greedy=True)
        if hit:
            latin = [h["c"] for h in hit[0]["homoglyphs"] if h["c"].isascii()]
            out.append(latin[0].lower() if latin else ch)
        else:
            base = unicodedata.normalize("NFKD", ch)[0]
            out.append(base if base.isascii() else ch)
    return "".join(out).replace("rn", "m").replace("vv", "w").replace("0", "o").replace("1", "l")


def distance(a: str, b: str, cap: int = 3) -> int:
    """Damerau-Levenshtein distance, stopping early above ``cap``."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > cap:
            return cap + 1
        prev2, prev = prev, cur
    return prev[-1]


def lookalike_of(
    host: str, targets: frozenset[str], near: frozenset[str] = frozenset()
) -> tuple[str, str] | None:
    """(target, how) when ``host``'s registrable domain imitates one of ``targets`` without being it:
    homoglyphs for every target, edit distance only for the ``near`` ones (the org's own domains:
    real words sit one letter away from big brands, "lindows" from "windows")."""
    mine = root(to_unicode(host))
    if not mine or mine in targets or within(host, targets):
        return None
    label = split(mine)[1]
    skel = skeleton(label)
    for target in targets:
        t_label = split(target)[1]
        if not t_label or len(t_label) < 4:
            continue
        if skel == t_label and label != t_label:
            return (target, "homoglyphs")
        if label == t_label or target not in near:
            continue  # same label on another suffix is the brand checks' business
        d = distance(label, t_label, 2)
        if d <= (1 if len(t_label) < 7 else 2) and len(label) >= 4:
            return (target, f"edit distance {d}")
    return None


def entropy(text: str) -> float:
    """Shannon entropy per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


_CONSONANTS = re.compile(r"[bcdfghjklmnpqrstvwxz]{5,}")


def looks_random(label: str) -> bool:
    """A domain label or local part that reads like machine output, not a word or name."""
    label = label.lower()
    letters = re.sub(r"[^a-z]", "", label)
    if len(label) < 8:
        return False
    digits = sum(ch.isdigit() for ch in label)
    if _CONSONANTS.search(letters):
        return True
    if digits >= 4 and len(letters) >= 4 and re.search(r"[a-z]\d+[a-z]", label):
        return True
    vowels = sum(ch in "aeiouy" for ch in letters)
    return len(letters) >= 10 and vowels / max(len(letters), 1) < 0.2


def brand_in_host(host: str, brands: dict[str, frozenset[str]]) -> str | None:
    """The brand whose name is the registrable label or a hyphen-part of it ("paypal-secure.com"), or
    whose own domain is spelled out in front of another one ("paypal.com.verify.example"); None when
    the brand owns ``host``. Product names in a vendor's sub-domain ("outlook.vendor.biz") do not count."""
    host = host.lower().strip(".")
    owned_by = {b: ds for b, ds in brands.items() if ds}
    if any(within(host, ds) for ds in owned_by.values()):
        return None
    sub, label, _suffix = split(host)
    parts = {label, *label.split("-")}
    for brand, owned in owned_by.items():
        key = re.sub(r"[^a-z0-9]", "", brand)
        if len(key) >= 5 and key in parts:
            return brand
        if sub and any(f"{d}." in f"{sub}." for d in owned if "." in d and len(d) >= 8):
            return brand
    return None
