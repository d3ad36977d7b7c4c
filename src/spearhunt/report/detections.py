"""Write detections as CSV, JSON Lines or one JSON document, streaming.

Every value came from an attacker-controlled log. CSV cells that a spreadsheet would take for
a formula (starting with = + - @ or a tab/CR) are prefixed with a quote; JSON is exact.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from typing import Any, TextIO

import orjson

from spearhunt.model import Detection
from spearhunt.model.detection import json_bytes

# Fields shown in the short "details" of a detection, in this order, when the event has them.
KEY_FIELDS = (
    "Image",
    "NewProcessName",
    "CommandLine",
    "ParentImage",
    "ParentProcessName",
    "ParentCommandLine",
    "OriginalFileName",
    "TargetFilename",
    "TargetObject",
    "Details",
    "TargetImage",
    "GrantedAccess",
    "SourceImage",
    "QueryName",
    "DestinationIp",
    "DestinationHostname",
    "DestinationPort",
    "SourceIp",
    "ImageLoaded",
    "ServiceName",
    "ImagePath",
    "ScriptBlockText",
    "TaskName",
    "TargetUserName",
    "SubjectUserName",
    "IpAddress",
    "WorkstationName",
    "LogonType",
    "ShareName",
    "RelativeTargetName",
    "PipeName",
    "Hashes",
    "User",
    "Data",
)
DETAIL_VALUE_MAX = 300

CSV_COLUMNS = (
    "timestamp",
    "computer",
    "channel",
    "event_id",
    "record_id",
    "level",
    "rule_title",
    "rule_id",
    "tactics",
    "techniques",
    "details",
    "source",
)


def details(event: Mapping[str, Any], limit: int = 6) -> str:
    """The event's key fields as ``Field: value ¦ ...``, long values cut."""
    lower = {k.lower(): (k, v) for k, v in event.items()}
    parts = []
    for name in KEY_FIELDS:
        hit = lower.get(name.lower())
        if hit is None or hit[1] in (None, "", "-"):
            continue
        text = str(hit[1]).replace("\r", " ").replace("\n", " ")
        if len(text) > DETAIL_VALUE_MAX:
            text = text[:DETAIL_VALUE_MAX] + "…"
        parts.append(f"{hit[0]}: {text}")
        if len(parts) >= limit:
            break
    return " ¦ ".join(parts)


# Characters that make Excel, LibreOffice or Sheets read a cell as a formula (with their
# full-width forms, which some locales also accept), also after leading blanks.
_FORMULA_START = "=+-@\uff1d\uff0b\uff0d\uff20"


def csv_safe(value: Any) -> str:
    """A cell a spreadsheet will not evaluate as a formula (OWASP CSV injection guidance)."""
    text = "" if value is None else str(value)
    if not text:
        return text
    if text[0] in "\t\r\n" or text.lstrip(" \t\r\n")[:1] in tuple(_FORMULA_START):
        return "'" + text
    return text


def row(d: Detection) -> dict[str, Any]:
    """The flat CSV/table form of one detection."""
    doc = d.to_dict()
    return {
        "timestamp": doc["timestamp"],
        "computer": d.computer,
        "channel": d.channel,
        "event_id": d.event_id,
        "record_id": d.record_id,
        "level": d.rule.level,
        "rule_title": d.rule.title,
        "rule_id": d.rule.rule_id,
        "tactics": ",".join(d.rule.tactics),
        "techniques": ",".join(d.rule.techniques),
        "details": details(d.event),
        "source": d.source,
    }


class DetectionWriter:
    """Streams detections to a text stream in one format."""

    def __init__(self, fmt: str, stream: TextIO) -> None:
        self.fmt = fmt
        self.stream = stream
        self.count = 0
        self._heads: dict[int, tuple[bytes, Any]] = {}  # id(rule) -> (JSON of its part, rule)
        self._csv: Any = None
        if fmt == "csv":
            self._csv = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, extrasaction="ignore")
            self._csv.writeheader()
        elif fmt == "json":
            stream.write('{"detections": [')

    def write(self, d: Detection) -> None:
        """Write one detection."""
        if self.fmt == "csv":
            self._csv.writerow({k: csv_safe(v) for k, v in row(d).items()})
        elif self.fmt == "jsonl":
            self.stream.write(self._json(d) + "\n")
        elif self.fmt == "json":
            self.stream.write(("," if self.count else "") + "\n  " + self._json(d))
        self.count += 1

    @property
    def json_frame(self) -> tuple[str, str]:
        """What goes before and after each detection's JSON text (``write_json``)."""
        if self.fmt == "jsonl":
            return "", "\n"
        if self.fmt == "json":
            return ",\n  ", ""
        raise ValueError(f"{self.fmt} output is not written from JSON texts")

    def write_json(self, data: bytes, count: int) -> None:
        """Write ``count`` detections given as their JSON texts, each framed as
        ``json_frame`` says, in UTF-8 (the engine builds them so)."""
        if not count:
            return
        if self.fmt == "json" and self.count == 0:
            data = data[1:]  # the first one has no comma before it
        self.count += count
        buffer = getattr(self.stream, "buffer", None)
        if buffer is None:
            self.stream.write(data.decode())
        else:  # straight to the bytes below the text layer, after what is pending in it
            self.stream.flush()
            buffer.write(data)

    def _json(self, d: Detection) -> str:
        """``d.to_dict()`` as JSON; the rule's part is serialized once per rule, not per
        detection (a big hunt writes hundreds of thousands of detections of a few rules)."""
        head = self._heads.get(id(d.rule))
        if head is None:
            head = self._heads[id(d.rule)] = (d.rule.output_head(), d.rule)
        return json_bytes(d, head[0]).decode()

    def close(self, summary: Mapping[str, Any] | None = None) -> None:
        """Finish the document (JSON needs its summary and closing brackets)."""
        if self.fmt == "json":
            self.stream.write('\n], "summary": ')
            self.stream.write(orjson.dumps(summary or {}, default=str).decode())
            self.stream.write("}\n")
        self.stream.flush()
