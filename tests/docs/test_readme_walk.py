"""Walk README.md as a new user would: every ``spearhunt ...`` line of its shell blocks, in
order, in one fresh folder beside a copy of ``../shared/data``; an example that exits with
another status than it says fails the test.

The README is read when the test runs, so examples added to it are walked too. To stay fast
the walk changes the inputs, never the commands:

- ``../shared/data/X`` is a cut-down copy of the shared folder (links to a few of its files,
  spread over its subfolders: a handful of logs or mails, a few dozen rules);
- ``spearhunt simulate`` without ``--hosts`` gets the simulator's smallest organisation, and
  ``--scale`` is 1;
- an absolute path is taken inside the walk's folder;
- a ``yaml`` block whose first line is ``# NAME...`` is written to ``NAME`` first (the
  allow-list and assets files the Correlate section shows).

A command the walk has run already (the same words) is not run again. An example states an
exit status other than 0 in its comment (``# exit status 3``). Lines
that are not ``spearhunt`` commands (``pip``, ``spark-submit`` on a cluster) are not run; the
Spark examples run in tests/spark/test_readme_spark.py, on the Spark tests' session.
"""

from __future__ import annotations

import itertools
import re
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from spearhunt.cli.main import run
from tests.conftest import DATA, shared_data

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SHELL = {"sh", "bash", "shell", "console", ""}
RULES_KEPT = 40  # rule files per rule folder
FILES_KEPT = 6  # log or mail files per folder
SMALL_SIMULATION = ("--hosts", "6", "--users", "4", "--days", "4", "--noise", "20")
EXIT = re.compile(r"#.*\bexit(?: status)? (\d+)")


@dataclass(frozen=True, slots=True)
class Example:
    """One ``spearhunt`` command of the README."""

    line: int  # where it starts in README.md
    block: int  # which fenced block it is in
    argv: tuple[str, ...]  # without the leading "spearhunt"
    expect: int

    @property
    def spark(self) -> bool:
        return any(pair == ("--engine", "spark") for pair in itertools.pairwise(self.argv))

    def __str__(self) -> str:
        return f"README.md line {self.line}: spearhunt {shlex.join(self.argv)}"


def blocks(text: str) -> Iterator[tuple[str, int, list[str]]]:
    """(info string, first line number, lines) of every fenced block."""
    info, start, body = None, 0, []
    for n, line in enumerate(text.splitlines(), 1):
        fence = re.match(r"^\s*```(.*)$", line)
        if fence and info is None:
            info, start, body = fence.group(1).strip().lower(), n + 1, []
        elif fence:
            yield info, start, body
            info = None
        elif info is not None:
            body.append(line)


def examples(text: str) -> list[Example]:
    """Every ``spearhunt`` command of the shell blocks, continuation lines joined."""
    found = []
    for index, (info, start, body) in enumerate(blocks(text)):
        if (info.split()[0] if info else "") not in SHELL:
            continue
        logical: list[tuple[int, str]] = []
        pending: tuple[int, str] | None = None
        for n, line in enumerate(body, start):
            if pending:
                pending = (pending[0], pending[1] + " " + line.strip())
            else:
                pending = (n, line.strip())
            if pending[1].endswith("\\"):
                pending = (pending[0], pending[1][:-1].rstrip())
                continue
            logical.append(pending)
            pending = None
        for n, line in logical:
            line = line.removeprefix("$ ")
            if not line or line.startswith("#"):
                continue
            m = EXIT.search(line)
            for part in re.split(r"\s*&&\s*|\s*;\s*", line):
                words = shlex.split(part, comments=True)
                if words and words[0] == "spearhunt":
                    found.append(Example(n, index, tuple(words[1:]), int(m.group(1)) if m else 0))
    return found


def files(text: str) -> dict[str, str]:
    """The yaml blocks that name their file in their first line (``# allow.yml: ...``)."""
    out = {}
    for info, _start, body in blocks(text):
        if info in ("yaml", "yml") and body:
            m = re.match(r"^#\s*([\w.-]+\.ya?ml)\b", body[0])
            if m:
                out[m.group(1)] = "\n".join(body) + "\n"
    return out


class Sandbox:
    """The walk's folder: ``work/`` (the current folder) beside ``shared/data``, a cut-down
    copy of the shared data made of links."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.work = root / "work"
        self.data = root / "shared" / "data"
        self.work.mkdir(parents=True)
        self.data.mkdir(parents=True)

    def adapt(self, ex: Example) -> list[str]:
        """The example's arguments with the walk's inputs (see the module docstring)."""
        argv = []
        for arg in ex.argv:
            if arg.startswith("../shared/data/"):
                self.mirror(arg.removeprefix("../shared/data/"))
            elif arg.startswith("/") and not arg.startswith("//"):
                path = self.root / "abs" / arg.lstrip("/")
                path.parent.mkdir(parents=True, exist_ok=True)
                arg = str(path)
            argv.append(arg)
        if argv and argv[0] == "simulate":
            if "--scale" in argv:
                argv[argv.index("--scale") + 1] = "1"
            if "--hosts" not in argv:
                argv += SMALL_SIMULATION
        return argv

    def mirror(self, rel: str) -> None:
        """Link a few files of ``../shared/data/rel`` (a file, a folder or a glob)."""
        parts = Path(rel).parts
        magic = next((i for i, p in enumerate(parts) if re.search(r"[*?\[]", p)), len(parts))
        source = shared_data(*parts[:magic])
        if source.is_file():
            self._link(source)
            return
        every = sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith("."))
        rules = [p for p in every if p.suffix in (".yml", ".yaml")]
        chosen = rules if len(rules) * 2 > len(every) else every
        keep = RULES_KEPT if chosen is rules else FILES_KEPT
        step = max(1, len(chosen) // keep)
        for path in chosen[::step][:keep]:
            self._link(path)

    def _link(self, path: Path) -> None:
        target = self.data / path.relative_to(DATA)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)


def walk(sandbox: Sandbox, steps: list[Example], capsys: pytest.CaptureFixture[str]) -> None:
    for name, content in files(README.read_text(encoding="utf-8")).items():
        (sandbox.work / name).write_text(content, encoding="utf-8")
    done: set[tuple[str, ...]] = set()
    timings: list[str] = []  # shown when an example fails: what ran before it, how long
    for ex in steps:
        if ex.argv in done:
            continue
        done.add(ex.argv)
        started = time.perf_counter()
        code = run(sandbox.adapt(ex))
        out = capsys.readouterr()
        timings.append(f"{time.perf_counter() - started:6.1f}s  {ex}")
        assert code == ex.expect, (
            f"{ex} exited {code}, not {ex.expect}:\n{out.err[-3000:]}\n" + "\n".join(timings)
        )


def test_the_readme_names_its_examples():
    found = examples(README.read_text(encoding="utf-8"))
    commands = {ex.argv[0] for ex in found if ex.argv}
    # each stage the README documents has at least one example to walk
    assert {"demo", "hunt", "mail", "investigate", "correlate", "story", "report"} <= commands
    assert {"allow.yml", "assets.yml"} <= set(files(README.read_text(encoding="utf-8")))


def test_example_parsing_joins_lines_and_reads_the_expected_status():
    text = (
        "```sh\n# a comment\nspearhunt hunt a \\\n  -r b   # exit status 3\n"
        "pip install x && spearhunt demo\nspark-submit x.py\n```\n```python\nspearhunt x\n```\n"
    )
    found = examples(text)
    assert [(e.argv, e.expect, e.line) for e in found] == [
        (("hunt", "a", "-r", "b"), 3, 3),
        (("demo",), 0, 5),
    ]


@pytest.mark.shared_data
def test_every_readme_example_runs_in_order(tmp_path, monkeypatch, capsys):
    steps = [ex for ex in examples(README.read_text(encoding="utf-8")) if not ex.spark]
    sandbox = Sandbox(tmp_path)
    monkeypatch.chdir(sandbox.work)
    walk(sandbox, steps, capsys)
