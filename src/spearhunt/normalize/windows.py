"""Windows event shapes (evtx_dump JSON, flat Sigma-field JSON, Winlogbeat/ECS) -> events.

The mapping is data: for each column of the event schema, the JSON paths that fill it, by
shape. ``normalize_sql`` turns it into one SQL statement that the engine runs in its native
JSON code, parsing each record once; no record is parsed in Python. Each record's shape is
sniffed from its own keys, so files mixing shapes still work.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# The event schema shared by the engine and the case store.
EVENT_COLUMNS = (
    ("eid", "BIGINT"),  # spearhunt's event key, unique in a store
    ("ts", "TIMESTAMP"),  # UTC
    ("computer", "VARCHAR"),
    ("channel", "VARCHAR"),
    ("provider", "VARCHAR"),
    ("event_id", "INTEGER"),
    ("record_id", "BIGINT"),
    ("src", "INTEGER"),  # index of the source file
    ("pos", "BIGINT"),  # line (JSON) or record number (EVTX) in the source
    # The event's own fields with Sigma names, a flat JSON object. Stored as VARCHAR, not
    # JSON: DuckDB's JSON functions read it alike, and the cast would parse every event again.
    ("fields", "VARCHAR"),
    ("slice", "UBIGINT"),  # hash of (channel, provider, event id): the engine's slice key
    (
        "sys",
        "STRUCT("
        + ", ".join(
            f"{n.lower()} VARCHAR"
            for n in (
                "Provider_Name",
                "Level",
                "Task",
                "Keywords",
                "Version",
                "Opcode",
                "ProcessID",
                "ThreadID",
                "UserID",
            )
        )
        + ")",
    ),  # System values of EVTX-shaped events (else NULL)
)

SHAPE_EVTX, SHAPE_ECS, SHAPE_FLAT = 1, 2, 3

# column -> (shape, JSON path) in the order tried
PATHS: dict[str, list[tuple[int, str]]] = {
    "channel": [
        (SHAPE_EVTX, "$.Event.System.Channel"),
        (SHAPE_ECS, "$.winlog.channel"),
        (SHAPE_FLAT, "$.Channel"),
    ],
    "provider": [
        (SHAPE_EVTX, '$.Event.System.Provider."#attributes".Name'),
        (SHAPE_ECS, "$.winlog.provider_name"),
        (SHAPE_FLAT, "$.Provider_Name"),
        (SHAPE_FLAT, "$.SourceName"),
    ],
    "event_id": [
        (SHAPE_EVTX, '$.Event.System.EventID."#text"'),
        (SHAPE_EVTX, "$.Event.System.EventID"),
        (SHAPE_ECS, "$.winlog.event_id"),
        (SHAPE_FLAT, "$.EventID"),
    ],
    "computer": [
        (SHAPE_EVTX, "$.Event.System.Computer"),
        (SHAPE_ECS, "$.winlog.computer_name"),
        (SHAPE_ECS, "$.host.name"),
        (SHAPE_FLAT, "$.Computer"),
        (SHAPE_FLAT, "$.Hostname"),
    ],
    "ts": [
        (SHAPE_EVTX, '$.Event.System.TimeCreated."#attributes".SystemTime'),
        (SHAPE_ECS, '$."@timestamp"'),
        (SHAPE_FLAT, "$.TimeCreated"),
        (SHAPE_FLAT, "$.SystemTime"),
        # the event's own time before a collector's receive time (seconds later); NXLog's
        # EventTime is local time, which normalize.timefix corrects against UTC fields
        (SHAPE_FLAT, "$.EventTime"),
        (SHAPE_FLAT, '$."@timestamp"'),
        (SHAPE_FLAT, "$.UtcTime"),
        (SHAPE_FLAT, "$.timestamp"),
    ],
    "record_id": [
        (SHAPE_EVTX, "$.Event.System.EventRecordID"),
        (SHAPE_ECS, "$.winlog.record_id"),
        (SHAPE_FLAT, "$.EventRecordID"),
        (SHAPE_FLAT, "$.RecordNumber"),
    ],
}
# Flat records put the System values and the EventData fields under one set of keys, so an
# EventData field named like a System value is lost under it (event 104's ``Channel``, the
# log that was cleared, becomes the System channel the event was written to). For these
# (event id, field) pairs the flat shape's key is not the event's field: its value comes back
# from the rendered message when the record has one, else the field is absent.
FLAT_SHADOWED: dict[tuple[int, str], tuple[str, str]] = {
    (104, "Channel"): ("Message", r"^The (.+) log file was cleared"),
}
# Sub-objects holding the event's own fields, by shape.
OBJECTS = {
    "eventdata": "$.Event.EventData",
    "userdata": "$.Event.UserData",
    "ecs": "$.winlog.event_data",
    # Winlogbeat puts UserData (event 104's cleared log, 1102's user) here, without event_data
    "ecs_user": "$.winlog.user_data",
}
# System values of the evtx shape that rules may name as fields (the flat shape has them
# inline). Kept as chunk columns ``sys:<Field>``, read only by slices whose rules name them.
EVTX_SYSTEM_FIELDS = {
    "Provider_Name": '$.Event.System.Provider."#attributes".Name',
    "Level": "$.Event.System.Level",
    "Task": "$.Event.System.Task",
    "Keywords": "$.Event.System.Keywords",
    "Version": "$.Event.System.Version",
    "Opcode": "$.Event.System.Opcode",
    "ProcessID": '$.Event.System.Execution."#attributes".ProcessID',
    "ThreadID": '$.Event.System.Execution."#attributes".ThreadID',
    "UserID": '$.Event.System.Security."#attributes".UserID',
}


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def normalize_sql(
    raw: str, eid_base: int, time_from: str | None, time_to: str | None, shape: int | None = None
) -> str:
    """SELECT turning ``raw(i, src, pos, j)`` rows into the event schema (``EVENT_COLUMNS``).

    ``j`` is a record's JSON text with no leading blanks (the readers strip them: an
    ltrim() here copied every record). ``i`` numbers the rows from 1; an event's key is
    ``eid_base + i`` (a window function would number them too, but on one thread, and this
    statement is most of a run's work).

    Each record's shape is sniffed from its keys, unless ``shape`` says what every record is
    (a chunk read from EVTX files): then only that shape's paths are extracted, which is
    what a record costs. A record that is not a JSON object gets ``fields`` NULL (the
    engine reports and drops it). A time outside years 1-9999 (DuckDB takes BC and
    five-digit years, which nothing downstream can print) counts as no time.
    """
    flat: list[str] = []

    def at(path: str, of: int = SHAPE_EVTX) -> str:
        if shape is not None and of != shape:
            return "NULL"
        if path not in flat:
            flat.append(path)
        return f"s[{flat.index(path) + 1}]"

    picks = {}
    for col, entries in PATHS.items():
        by_shape: dict[int, list[str]] = {}
        for of, path in entries:
            by_shape.setdefault(of, []).append(at(path, of))
        picks[col] = (
            "CASE shape "
            + " ".join(
                f"WHEN {of} THEN " + (f"coalesce({', '.join(v)})" if len(v) > 1 else v[0])
                for of, v in by_shape.items()
            )
            + " END"
        )
    ed, ud = at(OBJECTS["eventdata"]), at(OBJECTS["userdata"])
    # Whether EventData has a Data item, from the one parse (a text search for it in every
    # record's EventData cost ~10% of this statement).
    data = at(OBJECTS["eventdata"] + ".Data")
    ecs = at(OBJECTS["ecs"], SHAPE_ECS)
    ecs_user = at(OBJECTS["ecs_user"], SHAPE_ECS)
    sys_cols = {name: at(path) for name, path in EVTX_SYSTEM_FIELDS.items()}
    evtx_channel, evtx_eid = at(PATHS["channel"][0][1]), at(PATHS["event_id"][1][1])
    ecs_channel, ecs_eid = at("$.winlog.channel", SHAPE_ECS), at("$.winlog.event_id", SHAPE_ECS)
    plist = "[" + ", ".join(_lit(p) for p in flat) + "]"
    # EventData holds named fields (kept as text, not re-parsed) except in classic logs, where
    # it is an unnamed <Data> list: that becomes one 'Data' field with the items on lines.
    data_list = (
        f"json_merge_patch({ed}, json_object('Data', CASE json_type({ed}, '$.Data.\"#text\"') "
        f"WHEN 'ARRAY' THEN array_to_string(json_extract_string({ed}, '$.Data.\"#text\"[*]'), chr(10)) "
        f"WHEN 'NULL' THEN NULL ELSE coalesce(json_extract_string({ed}, '$.Data.\"#text\"'), "
        f"array_to_string(json_extract_string({ed}, '$.Data[*]'), chr(10))) END))"
    )
    evtx_fields = (
        f"CASE WHEN {ed} IS NOT NULL AND starts_with({ed}, '{{') THEN "
        f"CASE WHEN {data} IS NOT NULL AND json_type({ed}, '$.Data') IN ('OBJECT', 'ARRAY') "
        f"THEN {data_list} ELSE {ed} END "
        f"WHEN {ud} IS NOT NULL AND starts_with({ud}, '{{') THEN "
        f"coalesce(json_extract({ud}, '$.*')[1]::VARCHAR, '{{}}') ELSE '{{}}' END"
    )
    shape_expr = (
        str(shape)
        if shape is not None
        else (
            f"CASE WHEN {evtx_channel} IS NOT NULL OR {evtx_eid} IS NOT NULL OR {ed} IS NOT NULL "
            f"OR {ud} IS NOT NULL THEN 1 WHEN {ecs} IS NOT NULL OR {ecs_channel} IS NOT NULL "
            f"OR {ecs_eid} IS NOT NULL THEN 2 ELSE 3 END"
        )
    )
    flat_fix = (
        ""
        if shape not in (None, SHAPE_FLAT)
        else "".join(
            f"WHEN shape = 3 AND event_id = {eid} THEN json_merge_patch(j, json_object("
            f"{_lit(key)}, nullif(regexp_extract(json_extract_string(j, {_lit('$.' + src)}), "
            f"{_lit(pattern)}, 1), ''))) "
            for (eid, key), (src, pattern) in FLAT_SHADOWED.items()
        )
    )
    filters = []
    if time_from:
        filters.append(f"ts >= TIMESTAMP {_lit(time_from)}")
    if time_to:
        filters.append(f"ts <= TIMESTAMP {_lit(time_to)}")
    cond = ("WHERE " + " AND ".join(filters)) if filters else ""
    sys_select = (
        "CASE WHEN shape = 1 THEN {"
        + ", ".join(f"'{name.lower()}': {i}" for name, i in sys_cols.items())
        + "} END AS sys"
    )
    return f"""
SELECT * EXCLUDE (ts_any) FROM (
SELECT {eid_base} + i AS eid,
  CAST(TRY_CAST({picks["ts"]} AS TIMESTAMPTZ) AS TIMESTAMP) AS ts_any,
  CASE WHEN ts_any >= TIMESTAMP '0001-01-01' AND ts_any < TIMESTAMP '10000-01-01'
    THEN ts_any END AS ts,
  {picks["computer"]} AS computer,
  {picks["channel"]} AS channel,
  {picks["provider"]} AS provider,
  TRY_CAST({picks["event_id"]} AS INTEGER) AS event_id,
  TRY_CAST({picks["record_id"]} AS BIGINT) AS record_id,
  src, pos,
  CAST(CASE WHEN s IS NULL OR NOT starts_with(j, '{{') THEN NULL
    WHEN shape = 1 THEN {evtx_fields}
    WHEN shape = 2 THEN coalesce({ecs}, {ecs_user}, '{{}}') {flat_fix}ELSE j END AS VARCHAR) AS fields,
  hash(channel, provider, event_id) AS slice,
  {sys_select}
FROM (
  SELECT i, src, pos, j, s,
    {shape_expr} AS shape
  FROM (SELECT i, src, pos, j, try(json_extract_string(j, {plist})) AS s FROM {raw})
)) {cond}
"""


SYSTEM_FIELD_COLUMNS = {name.lower(): f"sys.{name.lower()}" for name in EVTX_SYSTEM_FIELDS}


# A JSON string, or one of what DuckDB's JSON reader (yyjson) takes beyond JSON: NaN and
# infinities in any case (nan, -Infinity, inf ...), and a comma before a closing bracket.
# Strings come first in the alternation, so nothing inside one is ever touched.
_LENIENT = re.compile(
    r'"(?:[^"\\]|\\.)*+"|(?<![\w.])[-+]?(?:nan|inf(?:inity)?)(?![\w.])'
    r"|,(?=\s*[}\]])",
    re.IGNORECASE,
)


LENIENT_MAX = 1 << 20


def _int64(digits: str) -> int | str:
    """An integer JSON writers take (orjson: -2**63 to 2**64-1), else its digits as text."""
    value = int(digits)
    return value if -(1 << 63) <= value < (1 << 64) else digits


def _strict(match: re.Match[str]) -> str:
    token = match.group()
    if token.startswith('"'):
        return token
    return "" if token == "," else "null"


def _loads(text: str) -> Any:
    """``text`` read as the engines' JSON readers take it (see ``event_fields``); None if not."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        if len(text) > LENIENT_MAX:  # the rewrite scans the text from every quote it cannot pair
            return None
        try:  # Python's reader also takes numbers past a double's range (1e999: infinity)
            return json.loads(_LENIENT.sub(_strict, text), parse_int=_int64)
        except (ValueError, RecursionError):
            return None


def last_values(text: str) -> str | None:
    """A JSON record whose objects repeat a key, rewritten with each key once holding its last
    value (what orjson, Python and most JSON readers take); None when it cannot be read."""
    value = _loads(text)
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):  # nested past orjson's depth limit
        return None


def event_fields(text: str | None) -> dict[str, Any]:
    """An event's ``fields`` text (a JSON object) as a dict, as either engine stores it.

    The engines' JSON readers accept NaN and infinities (in any case), trailing commas and
    integers past 64 bits, which orjson refuses: such an event is rewritten as JSON (those
    numbers become null, the commas go) and read again, so it keeps its fields (an integer
    too big to write back keeps its digits as text); anything else unreadable gives none.
    """
    if not text:
        return {}
    value = _loads(text)
    return value if isinstance(value, dict) else {}
