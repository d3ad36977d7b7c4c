"""Correlation results in the case (table ``correlation_results``): each correlation run saves
its frozen result document; the report renders the latest."""

from __future__ import annotations

import datetime as dt

import orjson

from spearhunt import __version__
from spearhunt.model.story import CorrelationResult
from spearhunt.store.case import Case
from spearhunt.store.db import one


def save(
    case: Case, result: CorrelationResult, created: dt.datetime | None = None, version: str = ""
) -> None:
    """Append ``result`` as the case's latest correlation result (made now by this version
    unless ``created`` and ``version`` say otherwise)."""
    case.con.execute(
        "INSERT INTO correlation_results VALUES (?, ?, ?, ?)",
        [
            created or dt.datetime.now(dt.UTC).replace(tzinfo=None),
            version or __version__,
            len(result.stories),
            orjson.dumps(result.to_dict()).decode(),
        ],
    )


def latest(case: Case) -> tuple[CorrelationResult, dt.datetime] | None:
    """The latest saved result and when it was made, if any."""
    if not case.has("correlation_results"):
        return None
    row = one(
        case.con, "SELECT doc, created FROM correlation_results ORDER BY created DESC LIMIT 1"
    )
    return (CorrelationResult.from_dict(orjson.loads(row[0])), row[1]) if row else None
