"""Frozen domain objects shared by every stage. No I/O here."""

from __future__ import annotations

from spearhunt.model.detection import Detection, RuleInfo
from spearhunt.model.warnings import IngestWarning

__all__ = ["Detection", "IngestWarning", "RuleInfo"]
