"""The simulator's answer key (truth.json) beside its logs is never read as evidence."""

from __future__ import annotations

import orjson
import pytest

from spearhunt.cli.main import run
from spearhunt.ingest.sources import Kind, sniff


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("sim") / "sim"
    small = ["--hosts", "6", "--users", "4", "--days", "4", "--noise", "5", "--only", "endpoint"]
    assert run(["-q", "simulate", "--out", str(out), *small]) == 0
    return out


def test_truth_json_is_sniffed_as_the_answer_key(sim, tmp_path):
    assert sniff(sim / "truth.json").kind is Kind.ANSWER_KEY
    compact = tmp_path / "truth.json"
    compact.write_bytes(orjson.dumps(orjson.loads((sim / "truth.json").read_bytes())))
    assert sniff(compact).kind is Kind.ANSWER_KEY
    # an event that merely has a "schema" field is still an event
    other = tmp_path / "events.jsonl"
    other.write_bytes(b'{"EventID": 1, "schema": "spearhunt.simulate.truth/1"}\n')
    assert sniff(other).kind is Kind.JSON_LINES


def test_hunting_a_simulation_folder_reads_its_logs_not_its_answer_key(sim, capsys):
    assert run(["-q", "hunt", str(sim), "-f", "json"]) == 0
    summary = orjson.loads(capsys.readouterr().out)["summary"]
    logs = sorted((sim / "endpoint").glob("*.jsonl"))
    assert summary["files"] == len(logs)
    assert summary["warnings"] == 0
