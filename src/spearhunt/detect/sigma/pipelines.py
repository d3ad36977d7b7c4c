"""Which pySigma processing pipelines map a rule's logsource onto Windows channels.

A rule is compiled once per *variant*: Sysmon (generic categories -> Sysmon event ids) plus
channel conditions for every service, and, for the categories Windows' own audit log also
records (process creation 4688, registry 4657), a second time with the audit pipeline and its
field renames. The engine keeps both variants and reports one detection per event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pySigma is imported when a rule is compiled, not to compute the cache key
    from sigma.processing.pipeline import ProcessingPipeline

# Categories the audit pipeline knows (pysigma-pipeline-windows); others only have a Sysmon form.
AUDIT_CATEGORIES = frozenset({"process_creation", "registry_event", "registry_set", "registry_add"})
PIPELINE_VERSION = "3"  # bump when the mapping below changes: it keys the compiled-rule cache


@dataclass(frozen=True, slots=True)
class Variant:
    """A named way of mapping a rule's logsource: its name and the pipeline that does it."""

    name: str
    pipeline: ProcessingPipeline


def _placeholders(values: Mapping[str, Sequence[str]]) -> ProcessingPipeline:
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import ValueListPlaceholderTransformation

    if not values:
        return ProcessingPipeline()
    return ProcessingPipeline(
        name="spearhunt placeholders",
        priority=5,
        items=[
            ProcessingItem(
                identifier="spearhunt_placeholders",
                transformation=ValueListPlaceholderTransformation(include=list(values)),
            )
        ],
        vars={k: list(v) for k, v in values.items()},
    )


# A rule's own ``Channel`` is the event's field of that name when the event has one (event 104
# names the log it cleared, EVTX UserData ``Channel``), the System channel otherwise; the
# channel condition a logsource adds is always the System channel. Both are ``Channel`` once
# the logsource pipeline ran, so the rule's own is set aside before it and the added one
# renamed after it: the engine folds ``SYSTEM_CHANNEL`` to the slice's channel, and ``Channel``
# only when no event of the slice has a field of that name (plan.specialize).
SYSTEM_CHANNEL = "SystemChannel"
_OWN_CHANNEL = "spearhunt_own_channel"


def _rename(identifier: str, mapping: dict[str | None, str | list[str]]) -> ProcessingPipeline:
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import FieldMappingTransformation

    return ProcessingPipeline(
        name=f"spearhunt {identifier}",
        priority=5,
        items=[
            ProcessingItem(
                identifier=f"spearhunt_{identifier}",
                transformation=FieldMappingTransformation(mapping),
            )
        ],
    )


def variants_for(category: str | None, placeholders: Mapping[str, Sequence[str]]) -> list[Variant]:
    """The variants a rule with this logsource category is compiled in."""
    from sigma.pipelines.sysmon.sysmon import sysmon_pipeline
    from sigma.pipelines.windows.windows import (
        windows_audit_pipeline,
        windows_logsource_pipeline,
    )

    ph = _placeholders(placeholders) + _rename("own_channel", {"Channel": _OWN_CHANNEL})
    after = _rename("system_channel", {"Channel": SYSTEM_CHANNEL, _OWN_CHANNEL: "Channel"})
    out = [Variant("sysmon", ph + sysmon_pipeline() + windows_logsource_pipeline() + after)]
    if category in AUDIT_CATEGORIES:
        out.append(
            Variant("audit", ph + windows_audit_pipeline() + windows_logsource_pipeline() + after)
        )
    return out


def config_digest(placeholders: Mapping[str, Sequence[str]]) -> str:
    """A digest of everything besides the rule text that changes how a rule compiles."""
    h = hashlib.sha256(f"pipelines={PIPELINE_VERSION}".encode())
    for key in sorted(placeholders):
        h.update(f"\0{key}=".encode() + "\x1f".join(placeholders[key]).encode())
    return h.hexdigest()[:16]
