"""Timelines: Timesketch JSONL and CSV (message, datetime, timestamp_desc + spearhunt fields)
and a Hayabusa-like CSV (its standard profile's columns) for people who diff against it.

CSV cells are defused against formula injection (``detections.csv_safe``); JSONL is exact.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from typing import Any, TextIO

import orjson

from spearhunt.model.times import iso_utc
from spearhunt.report.detections import csv_safe
from spearhunt.report.document import TimelineRow

EPOCH = dt.datetime(1970, 1, 1)
TIMESKETCH_COLUMNS = (
    "message",
    "datetime",
    "timestamp",
    "timestamp_desc",
    "host",
    "kind",
    "level",
    "rule_title",
    "rule_id",
    "tactics",
    "techniques",
    "details",
    "channel",
    "event_id",
    "record_id",
    "source",
    "story_ids",
    "ref",
    "data_type",
)
HAYABUSA_COLUMNS = (
    "Timestamp",
    "RuleTitle",
    "Level",
    "Computer",
    "Channel",
    "EventID",
    "RecordID",
    "Details",
    "ExtraFieldInfo",
    "RuleFile",
    "EvtxFile",
)
HAYABUSA_LEVEL = {
    "critical": "crit",
    "high": "high",
    "medium": "med",
    "low": "low",
    "informational": "info",
}
DESC = {
    "detection": "Event Recorded",
    "mail": "Mail Sent",
    "network": "Connection Seen",
    "correlation": "Correlation Window Start",
    "event": "Event Recorded",
}


def _iso(ts: dt.datetime | None) -> str:
    """A row's time; the epoch for a row without one (Timesketch requires a time)."""
    return iso_utc(ts or EPOCH) or ""


def _micros(ts: dt.datetime | None) -> int:
    ts = (ts or EPOCH).replace(tzinfo=dt.UTC)
    return int(ts.timestamp() * 1_000_000)


def timesketch_record(r: TimelineRow) -> dict[str, Any]:
    """One Timesketch event."""
    what = f"[{r.level}] {r.title}" if r.kind == "detection" else f"[{r.kind}] {r.title}"
    message = f"{what} on {r.host}" + (f": {r.detail}" if r.detail else "")
    return {
        "message": message[:4000],
        "datetime": _iso(r.ts),
        "timestamp": _micros(r.ts),
        "timestamp_desc": DESC.get(r.kind, "Event Recorded"),
        "host": r.host,
        "kind": r.kind,
        "level": r.level,
        "rule_title": r.title if r.kind in ("detection", "correlation") else "",
        "rule_id": r.rule_id,
        "tactics": ",".join(r.tactics),
        "techniques": ",".join(r.techniques),
        "details": r.detail,
        "channel": r.channel,
        "event_id": r.event_id,
        "record_id": r.record_id,
        "source": r.source,
        "story_ids": ",".join(r.stories),
        "ref": r.ref,
        "data_type": f"spearhunt:{r.kind}",
    }


def write_timesketch(rows: Iterable[TimelineRow], jsonl: TextIO, csv_out: TextIO) -> int:
    """Write both Timesketch files in one pass; returns the number of events."""
    writer = csv.DictWriter(csv_out, fieldnames=TIMESKETCH_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    n = 0
    for r in rows:
        rec = timesketch_record(r)
        jsonl.write(orjson.dumps(rec).decode() + "\n")
        writer.writerow({k: csv_safe(v) if isinstance(v, str) else v for k, v in rec.items()})
        n += 1
    return n


def write_hayabusa(rows: Iterable[TimelineRow], out: TextIO) -> int:
    """Detections (and correlation hits) in Hayabusa's standard CSV columns."""
    writer = csv.writer(out)
    writer.writerow(HAYABUSA_COLUMNS)
    n = 0
    for r in rows:
        if r.kind not in ("detection", "correlation"):
            continue
        ts = (r.ts or EPOCH).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " +00:00"
        extra = " ¦ ".join(
            x
            for x in (
                f"Tactics: {', '.join(r.tactics)}" if r.tactics else "",
                f"Techniques: {', '.join(r.techniques)}" if r.techniques else "",
                f"Stories: {', '.join(r.stories)}" if r.stories else "",
            )
            if x
        )
        writer.writerow(
            [
                csv_safe(v)
                for v in (
                    ts,
                    r.title,
                    HAYABUSA_LEVEL.get(r.level, r.level),
                    r.host,
                    r.channel,
                    "" if r.event_id is None else r.event_id,
                    "" if r.record_id is None else r.record_id,
                    r.detail or "-",
                    extra or "-",
                    r.rule_file,
                    r.source,
                )
            ]
        )
        n += 1
    return n
