"""Values for Sigma placeholders (``%Admins_Workstations%`` and the like) from a YAML file.

The file maps placeholder names to a value or a list of values::

    Admins_Workstations: [adm-ws-01, adm-ws-02]
    Domain_Controllers: dc01.corp.example

A rule whose placeholders are not all defined is reported as not runnable, never run with a
guess (a wildcard would make it fire on everything).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from spearhunt.errors import UsageError


def load_placeholders(path: Path | None) -> dict[str, list[str]]:
    """Placeholder values from the file, or none."""
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read placeholders file: {exc}", where=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError("placeholders file must map names to values", where=str(path))
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        values = value if isinstance(value, list) else [value]
        out[str(key).strip("%")] = [str(v) for v in values]
    return out
