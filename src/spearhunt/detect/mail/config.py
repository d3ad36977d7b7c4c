"""Mail triage configuration: shipped defaults (default.yaml) with an optional user override."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from spearhunt.errors import UsageError


@dataclass(frozen=True, slots=True)
class MailConfig:
    """What the checks compare against; built once per run."""

    protected_domains: frozenset[str]
    vips: tuple[str, ...]
    org_names: tuple[str, ...]
    suspicious: int
    malicious: int
    brands: dict[str, frozenset[str]]
    free_email: frozenset[str]
    shorteners: frozenset[str]
    file_sharing: frozenset[str]
    free_hosting: frozenset[str]
    suspicious_tlds: frozenset[str]
    phrases: dict[str, re.Pattern[str]]
    archive_passwords: tuple[str, ...]
    scores: dict[str, int]
    brand_pattern: re.Pattern[str] | None = field(default=None)

    def score(self, reason_id: str) -> int:
        """Configured score of a reason (10 when not listed)."""
        return self.scores.get(reason_id, 10)


def _default_data() -> dict[str, Any]:
    text = resources.files("spearhunt.detect.mail").joinpath("default.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def load_config(path: Path | None = None) -> MailConfig:
    """The shipped config, overridden by ``path`` when given (lists replace, mappings merge)."""
    data = _default_data()
    if path is not None:
        try:
            override = yaml.safe_load(path.read_text("utf-8")) or {}
        except OSError as exc:
            raise UsageError(f"cannot read config: {exc.strerror or exc}", where=str(path)) from exc
        except yaml.YAMLError as exc:
            raise UsageError(f"config is not valid YAML: {exc}", where=str(path)) from exc
        if not isinstance(override, dict):
            raise UsageError("config must be a mapping of settings", where=str(path))
        unknown = set(override) - set(data)
        if unknown:
            raise UsageError(f"unknown config keys: {', '.join(sorted(unknown))}", where=str(path))
        for key, value in override.items():
            if isinstance(data[key], dict) and isinstance(value, dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
    return _build(data, str(path) if path else "default.yaml")


_PHRASE_START = r"(?<![0-9A-Za-z_\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff])"


def _build(data: dict[str, Any], where: str) -> MailConfig:
    try:
        phrases = {
            family: re.compile(
                # a phrase starts at a word boundary in alphabetic scripts; Chinese has no spaces
                _PHRASE_START + "(?:" + "|".join(f"(?:{p})" for p in patterns) + ")",
                re.IGNORECASE,
            )
            for family, patterns in (data.get("phrases") or {}).items()
            if patterns
        }
        brands = {
            name.lower(): frozenset(d.lower() for d in domains or ())
            for name, domains in (data.get("brands") or {}).items()
        }
        names = sorted(brands, key=len, reverse=True)
        brand_pattern = (
            re.compile(
                r"(?<![\w])(" + "|".join(re.escape(n) for n in names) + r")(?![\w])", re.IGNORECASE
            )
            if names
            else None
        )
        thresholds = data.get("thresholds") or {}
        return MailConfig(
            protected_domains=frozenset(d.lower() for d in data.get("protected_domains") or ()),
            vips=tuple(str(v) for v in data.get("vips") or ()),
            org_names=tuple(str(v) for v in data.get("org_names") or ()),
            suspicious=int(thresholds.get("suspicious", 35)),
            malicious=int(thresholds.get("malicious", 70)),
            brands=brands,
            free_email=frozenset(d.lower() for d in data.get("free_email_providers") or ()),
            shorteners=frozenset(d.lower() for d in data.get("url_shorteners") or ()),
            file_sharing=frozenset(d.lower() for d in data.get("file_sharing") or ()),
            free_hosting=frozenset(d.lower() for d in data.get("free_hosting") or ()),
            suspicious_tlds=frozenset(
                t.lower().lstrip(".") for t in data.get("suspicious_tlds") or ()
            ),
            phrases=phrases,
            archive_passwords=tuple(str(p) for p in data.get("archive_passwords") or ()),
            scores={str(k): int(v) for k, v in (data.get("scores") or {}).items()},
            brand_pattern=brand_pattern,
        )
    except (TypeError, ValueError, AttributeError, re.error) as exc:
        raise UsageError(f"invalid mail config: {exc}", where=where) from exc
