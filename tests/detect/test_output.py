"""The engine's own JSON of detections (``DuckEngine.output``) against the Python one."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import orjson
import pytest
from tests.conftest import shared_data

from spearhunt.cli.main import run
from spearhunt.detect.hunt import HuntOptions, hunt
from spearhunt.model import Detection

OFFICE_SHELL = {
    "EventID": 1,
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Computer": "ws9",
    "EventRecordID": 9,
    "Image": "C:\\Windows\\System32\\cmd.exe",
    "ParentImage": "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
    "CommandLine": "cmd /c whoami",
}


class Sink:
    """Takes the engine's JSON texts (as DetectionWriter does for jsonl) into one list with
    the detections that come the Python way."""

    json_frame = ("", "\n")

    def __init__(self, out: list[dict]) -> None:
        self.out, self.texts = out, 0

    def write_json(self, data: bytes, count: int) -> None:
        lines = data.decode().split("\n")
        assert lines.pop() == "" and len(lines) == count
        self.texts += count
        self.out.extend(orjson.loads(t) for t in lines)  # strict JSON, or this raises


def _run(
    paths: list[str], engine_json: bool, store: Path | None = None
) -> tuple[list[dict], dict, int]:
    out: list[dict] = []
    sink = Sink(out)

    def on_detection(d: Detection) -> None:
        out.append(orjson.loads(orjson.dumps(d.to_dict(), default=str)))

    summary = hunt(
        HuntOptions(paths=paths, rules=[], store=store, replace=store is not None),
        on_detection,
        on_json=sink if engine_json else None,
    )
    doc = summary.to_dict()
    for key in ("seconds", "events_per_second", "engine", "store"):
        doc.pop(key)
    return out, doc, sink.texts


def test_engine_json_is_the_python_json_in_the_same_order(tmp_path: Path):
    evtx = shared_data("evtx-attack-samples", "Credential Access")
    # JSON input goes the Python way (its fields may hold NaN): one event between the
    # EVTX ones in time, one with NaN, so the two kinds interleave in one ordered stream.
    events = [
        {**OFFICE_SHELL, "TimeCreated": "2019-06-01T00:00:00Z"},
        {**OFFICE_SHELL, "TimeCreated": "2020-01-01T00:00:00Z", "EventRecordID": 10},
    ]
    jsonl = tmp_path / "more.jsonl"
    jsonl.write_bytes(
        b"\n".join(orjson.dumps(e) for e in events).replace(
            b'"EventRecordID":10', b'"EventRecordID":10,"Score":NaN'
        )
        + b"\n"
    )
    paths = [str(evtx), str(jsonl)]
    reference, ref_summary, _ = _run(paths, engine_json=False)
    built, summary, texts = _run(paths, engine_json=True)
    assert texts >= 15, "the EVTX detections were not written by the engine"
    assert len(reference) == texts + 1  # the event with NaN goes through Python
    assert built == reference
    assert summary == ref_summary
    assert [d["computer"] for d in built].count("ws9") == 2
    nan = next(d for d in built if d["record_id"] == 10)
    assert nan["event"]["Score"] is None


def test_store_gets_every_detection_while_the_engine_thread_is_busy(tmp_path: Path, monkeypatch):
    # The case store shares the engine's connection. The engine thread, slowed down here,
    # used to be still on the last chunk when the store wrote the run's sources ("connection
    # is busy"); and writing detections in batches while their result was being read
    # replaced that result (a crash past 50k detections).
    from spearhunt.detect.engine import chunks, duck

    evtx = shared_data("evtx-attack-samples", "Credential Access")
    reference, _, _ = _run([str(evtx)], engine_json=False)
    slow_check, slow_drain = duck.DuckEngine._check_keys, duck.DuckEngine._drain

    def slow(step):  # type: ignore[no-untyped-def]
        def run(self, *args):  # type: ignore[no-untyped-def]
            time.sleep(0.3)
            step(self, *args)

        return run

    monkeypatch.setattr(chunks, "CHUNK_EVENTS", 200)
    monkeypatch.setattr(duck, "CHUNK_EVENTS", 200)
    monkeypatch.setattr(duck.DuckEngine, "_check_keys", slow(slow_check))
    monkeypatch.setattr(duck.DuckEngine, "_drain", slow(slow_drain))
    store = tmp_path / "case.duckdb"
    for engine_json in (True, False):
        out, summary, _ = _run([str(evtx)], engine_json, store)
        assert summary["detections"] == len(reference)
        # event keys are case-wide: the second run's continue from the first's
        assert [{**d, "event_key": 0} for d in out] == [{**d, "event_key": 0} for d in reference]
    con = duckdb.connect(str(store), read_only=True)
    rows = con.execute("SELECT run_id, rule_id, source FROM detections").fetchall()
    # The second run re-read the same files (replace): its detections took the first's place.
    assert {r[0] for r in rows} == {2}
    stored = [(r[1], r[2]) for r in rows]
    # Every output detection is stored, and so are those of rules that only feed a
    # correlation (generate: false), which are not output.
    output = sorted((d["rule_id"], d["source"]) for d in reference)
    assert sorted(x for x in stored if x in set(output)) == output
    assert len(stored) > len(output)
    assert con.execute("SELECT count(DISTINCT rule_id) FROM rules").fetchone()[0] == len(
        {x[0] for x in stored}
    )


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_cli_writes_the_engine_json_into_the_output(tmp_path: Path, fmt: str):
    evtx = shared_data("evtx-attack-samples", "Credential Access")
    jsonl = tmp_path / "more.jsonl"
    jsonl.write_bytes(orjson.dumps({**OFFICE_SHELL, "TimeCreated": "2019-06-01T00:00:00Z"}))
    reference, _, _ = _run([str(evtx), str(jsonl)], engine_json=False)
    out = tmp_path / f"out.{fmt}"
    assert run(["-q", "hunt", str(evtx), str(jsonl), "-f", fmt, "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        doc = orjson.loads(text)
        got, summary = doc["detections"], doc["summary"]
        assert summary["detections"] == len(reference)
    else:
        got = [orjson.loads(x) for x in text.splitlines()]
    assert got == reference


@pytest.mark.parametrize("kind", ["string", "large_string"])
def test_utf8_run_takes_the_texts_of_a_sliced_array_from_its_buffer(kind: str):
    import pyarrow as pa

    from spearhunt.model.detection import utf8_run as _utf8_run

    texts = ['{"a":1}\n', '{"b":"é"}\n', '{"c":[]}\n', "{}\n"]
    arr = pa.array(texts, getattr(pa, kind)())
    assert _utf8_run(arr) == "".join(texts).encode()
    assert _utf8_run(arr.slice(1, 2)) == "".join(texts[1:3]).encode()


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ('{"a": NaN, "b": 1,}', {"a": None, "b": 1}),
        ('{"a":nan,"s":"x: nan, y,}"}', {"a": None, "s": "x: nan, y,}"}),  # strings untouched
        ('{"a":[1,-inf,],"b":-Infinity, "c": INF }', {"a": [1, None], "b": None, "c": None}),
        (
            '{"q":"say \\"nan\\", inf", "inference": "inf", "ninf": 1}',
            {"q": 'say "nan", inf', "inference": "inf", "ninf": 1},
        ),
        ('{"big":1e999}', {"big": float("inf")}),  # orjson writes it back as null
        (
            '{"n":123456789012345678901234567890,"m":-9223372036854775809,"k":18446744073709551615,'
            '"x":nan}',
            {
                "n": "123456789012345678901234567890",
                "m": "-9223372036854775809",
                "k": 18446744073709551615,
                "x": None,
            },
        ),  # too big to write: kept as digits
        ('{"a": 1}', {"a": 1}),
    ],
)
def test_event_fields_reads_what_duckdb_reads_beyond_json(text: str, fields: dict):
    import duckdb

    from spearhunt.normalize.windows import event_fields

    assert duckdb.connect().execute("SELECT json_valid($1)", [text]).fetchone()[0]
    assert event_fields(text) == fields


def test_event_fields_gives_none_for_what_is_not_an_object():
    from spearhunt.normalize.windows import LENIENT_MAX, event_fields

    assert event_fields("[1, 2]") == {} and event_fields("{bad") == {}
    assert (
        event_fields('{"a": nan, "pad": "' + "x" * LENIENT_MAX + '"}') == {}
    )  # too big to rewrite


def test_jsonl_event_with_lowercase_nan_and_trailing_comma_keeps_its_fields(tmp_path: Path):
    line = (
        '{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", '
        '"Computer": "ws9", "TimeCreated": "2024-05-01T12:00:00Z", "EventRecordID": 9, '
        '"Image": "C:\\\\Windows\\\\System32\\\\cmd.exe", "ParentImage": "C:\\\\Program Files'
        '\\\\Microsoft Office\\\\root\\\\Office16\\\\WINWORD.EXE", "Score": nan, "Tags": [1,],}'
    )
    path = tmp_path / "x.jsonl"
    path.write_text(line + "\n")
    out, _, _ = _run([str(path)], engine_json=True)
    assert len(out) == 1
    assert out[0]["event"]["Image"].endswith("cmd.exe")
    assert out[0]["event"]["Score"] is None and out[0]["event"]["Tags"] == [1]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "table"])
def test_jsonl_event_with_an_integer_past_64_bits_does_not_crash_the_output(
    tmp_path: Path, fmt: str, capsys
):
    # With something orjson refuses to read (1e999), Python read the event, and orjson then
    # refused to write the integer: the JSON output ended in a traceback.
    path = tmp_path / "x.jsonl"
    path.write_bytes(
        orjson.dumps({**OFFICE_SHELL, "TimeCreated": "2020-01-01T00:00:00Z"})[:-1]
        + b', "Big": 123456789012345678901234567890, "Huge": 1e999}\n'
    )
    assert run(["-q", "hunt", str(path), "-f", fmt]) == 0
    out = capsys.readouterr().out
    assert "cmd.exe" in out or "Office" in out
    if fmt == "jsonl":
        event = orjson.loads(out)["event"]
        assert event["Big"] == "123456789012345678901234567890" and event["Huge"] is None


@pytest.mark.parametrize(
    ("extra", "by_engine"),
    [
        (b'"Score": NaN', 0),
        (b'"Score": -inf', 0),
        (b'"Score": nAn', 0),
        (b'"L": [1, 2, ]', 0),
        (b'"Big": 1E400', 0),
        (b'"Id": 123456789012345678901234', 0),
        (b'"Note": "x: nan, y,}"', 0),  # inside a string: harmless, but the check errs safe
        (b'"U": "\\u00e9\\ud83d\\ude00"', 1),
        (b'"Dup": 1, "Dup": 2', 1),
        (b'"N": -0, "F": 1.5e-7, "T": true, "Z": null, "Info": "inference"', 1),
    ],
)
def test_json_input_gives_the_same_objects_either_way(tmp_path: Path, extra: bytes, by_engine: int):
    # Text DuckDB took but that is not strict JSON (or that orjson reads otherwise) must go
    # through Python; the rest is written by the engine: both give the same objects.
    base = orjson.dumps({**OFFICE_SHELL, "TimeCreated": "2020-01-01T00:00:00Z"})
    path = tmp_path / "x.jsonl"
    path.write_bytes(base[:-1] + b", " + extra + b"}\n")
    reference, _, _ = _run([str(path)], engine_json=False)
    built, _, texts = _run([str(path)], engine_json=True)
    assert len(reference) == 1 and built == reference
    assert texts == by_engine
    assert reference[0]["event"]["Image"].endswith("cmd.exe")


def _engine_on(paths: list[Path]):
    from spearhunt.detect.engine.duck import DuckEngine
    from spearhunt.detect.sigma.compiler import RuleCompiler, find_rule_files
    from spearhunt.ingest.events import read_events
    from spearhunt.ingest.sources import sniff

    rules = (
        RuleCompiler()
        .compile_all(find_rule_files([shared_data("sigma", "rules", "windows", "builtin")]))
        .rules
    )
    engine = DuckEngine(rules, on_warning=lambda w: None)
    for f in paths:
        i = engine.source(str(f))
        for b in read_events(sniff(f), lambda w: None):
            engine.add(i, b)
    engine.run_rules()
    return engine


@pytest.mark.shared_data
def test_the_sql_and_python_forms_of_the_serializer_give_the_same_bytes():
    from spearhunt.model.detection import EVENT_JSON_SQL, json_bytes, json_runs

    files = sorted(shared_data("evtx-attack-samples", "Lateral Movement").glob("*.evtx"))
    engine = _engine_on(files)
    infos = [r.info for r in engine.rules]
    sql_form = b"".join(
        item[0] if isinstance(item, tuple) else json_bytes(item) + b"\n"
        for item in json_runs(engine, infos, engine.sources, 0)
    )
    python = [json_bytes(d) + b"\n" for d in engine.detections() if d.rule.output]
    assert len(python) > 20
    assert sql_form == b"".join(python)
    assert b"\\u000F" in sql_form  # a control character, escaped the same way by both forms
    d = next(d for d in engine.detections() if d.rule.output)
    assert tuple(d.event_dict()) == tuple(k for k, _ in EVENT_JSON_SQL)


def test_the_sql_form_frames_each_text_as_asked():
    from spearhunt.model.detection import json_text_sql

    text = duckdb.execute(
        "SELECT " + json_text_sql("'<'", "'>'") + ' FROM (SELECT \'{"rule_id":"r",\' AS head, '
        "TIMESTAMP '2024-05-01 10:00:00.5' AS ts, 'ws\"1' AS computer, NULL AS channel, "
        "4624 AS event_id, NULL AS record_id, '\"a.evtx\"' AS source_json, 7 AS eid, "
        "'{\"x\":1}' AS fields)"
    ).fetchone()[0]  # type: ignore[index]
    assert text.startswith("<{") and text.endswith("}>")
    assert orjson.loads(text[1:-1]) == {
        "rule_id": "r",
        "timestamp": "2024-05-01T10:00:00.500000Z",
        "computer": 'ws"1',
        "channel": None,
        "event_id": 4624,
        "record_id": None,
        "source": "a.evtx",
        "event_key": 7,
        "event": {"x": 1},
    }


def test_python_form_escapes_strings_as_duckdb_does():
    from spearhunt.model.detection import source_json_text

    texts = [chr(i) for i in range(128)] + ["\\u000f", "a\\" + chr(31), "é😀\u2028", "C:\\x\\"]
    con = duckdb.connect()
    for t in texts:
        assert source_json_text(t) == con.execute("SELECT to_json($1)", [t]).fetchone()[0]  # type: ignore[index]
