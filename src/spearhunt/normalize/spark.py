"""The Windows event shapes -> event schema, as one Spark SQL query (``normalize_sql``'s twin).

Same mapping data (``windows.PATHS``, ``OBJECTS``, ``EVTX_SYSTEM_FIELDS``), same decisions
per record: the shape is sniffed from the record's own keys, EventData's unnamed ``<Data>``
list becomes one ``Data`` field with its items on lines, UserData's single child holds the
fields. Output columns are those of the Parquet dataset (``detect.engine.parquet``), so a
Spark hunt reads JSON Lines and Parquet alike.

Differences with DuckDB, by design of Spark's JSON functions: a field value that is a JSON
number is kept as the number's text either way, but when EventData is rebuilt from a
``<Data>`` list the other EventData values are written back as JSON strings.
"""

from __future__ import annotations

import re

from spearhunt.normalize.windows import EVTX_SYSTEM_FIELDS, FLAT_SHADOWED, OBJECTS, PATHS

_SEGMENT = re.compile(r'\."([^"]*)"|\.([A-Za-z0-9_]+)')


def spark_path(duck_path: str) -> str:
    """A DuckDB JSON path (``$.a."#b".c``) in Spark's ``get_json_object`` syntax."""
    out = ["$"]
    for quoted, plain in _SEGMENT.findall(duck_path[1:]):
        key = quoted or plain
        out.append(f".{key}" if plain else "['" + key.replace("'", "\\'") + "']")
    return "".join(out)


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _get(doc: str, duck_path: str) -> str:
    return f"get_json_object({doc}, {_lit(spark_path(duck_path))})"


def _lines(array_json: str) -> str:
    """JSON array text -> its items joined by newlines (NULL when not an array)."""
    arr = f"from_json({array_json}, 'array<string>')"
    return f"CASE WHEN startswith(ltrim({array_json}), '[') THEN concat_ws(char(10), {arr}) END"


# The fields of an event as a map (a JSON object's values as their text).
FIELDS_MAP = "from_json(fields, 'map<string,string>')"
_KEYS = "json_object_keys(fields)"
# ``fields`` with the last value of each key a JSON object gives twice, as DuckDB's engine and
# the output read it (get_json_object reads the first: a rule would match what no one sees).
# from_json keeps both keys in its map; map_from_arrays applies mapKeyDedupPolicy=LAST_WIN.
LAST_VALUE_FIELDS = (
    f"CASE WHEN fields IS NOT NULL AND size({_KEYS}) > size(array_distinct({_KEYS})) "
    f"THEN to_json(map_from_arrays(map_keys({FIELDS_MAP}), map_values({FIELDS_MAP}))) "
    "ELSE fields END"
)


def normalize_spark_sql(raw: str, time_from: str | None = None, time_to: str | None = None) -> str:
    """SELECT turning ``raw(eid, source, pos, j)`` rows into the Parquet event schema.

    A record that is not a JSON object gets ``fields`` NULL (the caller counts and drops it).
    """
    picks: dict[str, str] = {}
    for col, entries in PATHS.items():
        by_shape: dict[int, list[str]] = {}
        for shape, path in entries:
            by_shape.setdefault(shape, []).append(_get("j", path))
        picks[col] = (
            "CASE shape "
            + " ".join(
                f"WHEN {shape} THEN " + (f"coalesce({', '.join(v)})" if len(v) > 1 else v[0])
                for shape, v in by_shape.items()
            )
            + " END"
        )
    ed, ud, ecs = "ed", "ud", "ecs"
    data = _get(ed, "$.Data")
    text = _get(ed, '$.Data."#text"')
    data_text = (
        f"CASE WHEN startswith(ltrim({text}), '[') THEN {_lines(text)} "
        f"ELSE coalesce({text}, {_lines(data)}) END"
    )
    rest = f"map_filter(from_json({ed}, 'map<string,string>'), (k, v) -> k <> 'Data')"
    data_list = (
        f"to_json(CASE WHEN ({data_text}) IS NULL THEN {rest} "
        f"ELSE map_concat({rest}, map('Data', {data_text})) END)"
    )
    evtx_fields = (
        f"CASE WHEN startswith({ed}, '{{') THEN "
        f"CASE WHEN contains({ed}, '\"Data\":') AND (startswith({data}, '{{') OR startswith({data}, '[')) "
        f"THEN {data_list} ELSE {ed} END "
        f"WHEN startswith({ud}, '{{') THEN "
        f"coalesce(element_at(map_values(from_json({ud}, 'map<string,string>')), 1), '{{}}') "
        "ELSE '{}' END"
    )
    # Flat records: an EventData field shadowed by a System value comes from the message
    # (windows.FLAT_SHADOWED); the record's other values are kept as their text.
    flat_fix = "".join(
        f"WHEN shape = 3 AND try_cast({picks['event_id']} AS INT) = {eid} THEN to_json("
        f"map_concat(map_filter(from_json(j, 'map<string,string>'), (k, v) -> k <> {_lit(key)}), "
        f"map({_lit(key)}, nullif(regexp_extract(coalesce({_get('j', '$.' + src)}, ''), "
        f"{_lit(pattern)}, 1), '')))) "
        for (eid, key), (src, pattern) in FLAT_SHADOWED.items()
    )
    filters = []
    if time_from:
        filters.append(f"ts >= TIMESTAMP_NTZ {_lit(time_from)}")
    if time_to:
        filters.append(f"ts <= TIMESTAMP_NTZ {_lit(time_to)}")
    sys_select = ", ".join(
        f"CASE WHEN shape = 1 THEN {_get('j', path)} END AS sys_{name.lower()}"
        for name, path in EVTX_SYSTEM_FIELDS.items()
    )
    return f"""
SELECT * FROM (
SELECT eid,
  CAST(try_cast({picks["ts"]} AS TIMESTAMP) AS TIMESTAMP_NTZ) AS ts,
  {picks["computer"]} AS computer,
  {picks["channel"]} AS channel,
  {picks["provider"]} AS provider,
  try_cast({picks["event_id"]} AS INT) AS event_id,
  try_cast({picks["record_id"]} AS BIGINT) AS record_id,
  source, pos,
  CASE WHEN NOT valid THEN NULL
    WHEN shape = 1 THEN {evtx_fields}
    WHEN shape = 2 THEN coalesce({ecs}, {_get("j", OBJECTS["ecs_user"])}, '{{}}')
    {flat_fix}ELSE j END AS fields,
  {sys_select}
FROM (
  SELECT *,
    CASE WHEN {_get("j", PATHS["channel"][0][1])} IS NOT NULL
              OR {_get("j", PATHS["event_id"][1][1])} IS NOT NULL
              OR {ed} IS NOT NULL OR {ud} IS NOT NULL THEN 1
         WHEN {ecs} IS NOT NULL OR {_get("j", "$.winlog.channel")} IS NOT NULL
              OR {_get("j", "$.winlog.event_id")} IS NOT NULL THEN 2
         ELSE 3 END AS shape
  FROM (
    SELECT eid, source, pos, j,
      startswith(ltrim(j), '{{') AND json_object_keys(j) IS NOT NULL AS valid,
      {_get("j", OBJECTS["eventdata"])} AS ed, {_get("j", OBJECTS["userdata"])} AS ud,
      {_get("j", OBJECTS["ecs"])} AS ecs
    FROM {raw}
  )
)) {("WHERE " + " AND ".join(filters)) if filters else ""}
"""
