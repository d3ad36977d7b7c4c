"""--memory-limit: a size checked before any work, shared between input chunks and DuckDB,
and an out-of-memory failure that names spearhunt's options."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import duckdb
import orjson
import pytest

from spearhunt.cli.main import run
from spearhunt.detect.engine import memory
from spearhunt.detect.engine.duck import DuckEngine
from spearhunt.detect.engine.memory import PER_THREAD, budget, parse_memory
from spearhunt.detect.hunt import HuntOptions, hunt
from spearhunt.errors import EngineError, UsageError


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        orjson.dumps(
            {
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "EventID": 1,
                "Computer": "ws1",
                "TimeCreated": "2024-05-01T10:00:00Z",
                "Image": "C:\\Windows\\System32\\whoami.exe",
            }
        )
        + b"\n"
    )
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "whoami.yml").write_text(
        textwrap.dedent(
            """
            title: Whoami
            id: 33333333-3333-3333-3333-333333333333
            level: high
            logsource: {category: process_creation, product: windows}
            detection:
              sel: {Image|endswith: '\\whoami.exe'}
              condition: sel
            """
        )
    )
    return path


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("768MB", 768_000_000),
        ("4GB", 4_000_000_000),
        ("512MiB", 512 * 2**20),
        ("1.5gb", 15 * 10**8),
    ],
)
def test_memory_sizes_read_as_duckdb_reads_them(text: str, value: int) -> None:
    assert parse_memory(text) == value


@pytest.mark.parametrize("text", ["lots", "", "12 parsecs", "1GB; DROP TABLE events", "-1GB"])
def test_a_memory_limit_that_is_not_a_size_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--memory-limit"):
        parse_memory(text)


@pytest.mark.parametrize(
    ("total", "limit"),
    [
        (None, 768_000_000),  # memory unknown: the laptop default
        (2 * 10**9, 768_000_000),  # a small machine: never below 768MB
        (8 * 10**9, 2 * 10**9),  # a quarter
        (64 * 10**9, 4 * 10**9),  # a workstation: at most 4GB
    ],
)
def test_auto_is_a_quarter_of_the_machine_within_768mb_and_4gb(
    monkeypatch, total: int | None, limit: int
) -> None:
    monkeypatch.setattr(memory, "machine_memory", lambda: total)
    assert parse_memory("auto") == parse_memory(" AUTO ") == limit


def test_machine_memory_takes_a_lower_container_limit(monkeypatch, tmp_path: Path) -> None:
    host = memory.machine_memory()
    assert host is not None and host > 0  # Linux: sysconf
    cgroup = tmp_path / "memory.max"
    cgroup.write_text("1000000000\n")
    monkeypatch.setattr(memory, "_CGROUP_LIMITS", (str(tmp_path / "missing"), str(cgroup)))
    assert memory.machine_memory() == min(host, 10**9)
    cgroup.write_text("max\n")  # cgroup v2's "no limit"
    assert memory.machine_memory() == host


def test_a_memory_limit_too_small_to_run_is_refused_up_front() -> None:
    with pytest.raises(UsageError, match="too small"):
        parse_memory("64MB")


def test_cli_memory_limit_lots_exits_2_with_a_message(events: Path, capsys) -> None:
    assert run(["-q", "hunt", str(events), "--memory-limit", "lots"]) == 2
    err = capsys.readouterr().err
    assert "--memory-limit" in err and "Traceback" not in err


def test_budget_keeps_chunks_small_and_threads_fed() -> None:
    small = budget(parse_memory("256MB"), None, cores=8)
    assert small.chunk_bytes * 8 <= small.limit
    assert small.duckdb_bytes + 4 * small.chunk_bytes < small.limit
    assert small.threads is not None and small.threads * PER_THREAD <= small.duckdb_bytes
    big = budget(parse_memory("8GB"), None, cores=8)
    assert big.threads is None  # DuckDB's default: every core
    assert budget(parse_memory("256MB"), 3, cores=8).threads == 3  # the user's word wins


def test_out_of_memory_names_spearhunts_options(events, monkeypatch) -> None:
    def oom(self, on_progress=None):
        raise duckdb.OutOfMemoryException("could not allocate block (SET threads=X)")

    monkeypatch.setattr(DuckEngine, "run_rules", oom)
    opts = HuntOptions(
        paths=[str(events)], rules=[events.parent / "rules"], with_pack=False, threads=2
    )
    with pytest.raises(EngineError) as err:
        hunt(opts, None)
    assert re.search(r"--memory-limit auto \([\d,]+MB\)", err.value.message)
    assert "--threads" in err.value.message and "SET threads" not in err.value.message


def test_a_hunt_at_a_small_limit_still_finds_what_it_finds_at_the_default(events) -> None:
    found: dict[str, list[str]] = {}
    for limit in ("192MB", "768MB"):
        got: list[str] = []
        opts = HuntOptions(
            paths=[str(events)],
            rules=[events.parent / "rules"],
            with_pack=False,
            memory_limit=limit,
        )
        hunt(opts, lambda d, got=got: got.append(d.rule.rule_id))
        found[limit] = got
    assert found["192MB"] == found["768MB"] == ["33333333-3333-3333-3333-333333333333"]
