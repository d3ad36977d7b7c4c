"""A problem with part of an input that was skipped while the rest was read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IngestWarning:
    """One skipped record or file part: where it was and why."""

    source: str
    message: str
    offset: int | None = None  # byte offset in the file, when known
    line: int | None = None  # 1-based line number for line-oriented inputs
    record: int | None = None  # record number for record-oriented inputs (EVTX)

    def location(self) -> str:
        """Human form of where the problem is, e.g. ``a.jsonl line 3 (offset 120)``."""
        parts = [self.source]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.record is not None:
            parts.append(f"record {self.record}")
        if self.offset is not None:
            parts.append(f"offset {self.offset}")
        return " ".join(parts)
