"""How spearhunt writes a point in time: ISO 8601 in UTC with a ``Z``, to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(ts: datetime | None) -> str | None:
    """``2026-12-04T18:30:00.000000Z``; naive datetimes are UTC (as everywhere in spearhunt),
    aware ones are converted to UTC first; None stays None.

    The DuckDB engine writes the same text in SQL (``model.detection.SQL_ISO_FORMAT``).
    """
    if ts is None:
        return None
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.isoformat(timespec="microseconds") + "Z"
