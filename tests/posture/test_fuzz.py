"""The posture readers under the project's mutation fuzzer (tests/fuzz/harness.py), seeded with
the real-shaped fixtures: every mutated file is records or warnings or a spearhunt error for
that file, never another exception. ``SPEARHUNT_FUZZ=N`` runs N cases per reader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spearhunt.errors import SpearhuntError
from spearhunt.ingest.posture.inventory import read_inventory
from spearhunt.ingest.posture.signins import read_signins
from spearhunt.ingest.posture.trace import read_traces
from spearhunt.ingest.posture.vulns import read_cve_records, read_kev
from spearhunt.ingest.posture.zones import read_zones
from tests.conftest import FIXTURES
from tests.fuzz.harness import examples, run

HERE = FIXTURES / "posture"


def _target(folder: Path, name: str, read: Callable[[Path], Any]) -> Callable[[bytes], None]:
    path = folder / name

    def target(data: bytes) -> None:
        path.write_bytes(data)
        read(path)

    return target


def _all(reader: Any) -> Callable[[Path], Any]:
    return lambda p: list(reader([p], lambda w: None))


@pytest.mark.parametrize(
    ("name", "seeds", "read"),
    [
        (
            "signins.json",
            ["entra-graph-signins.json", "okta-system-log.json"],
            _all(read_signins),
        ),
        ("signins.csv", ["entra-portal-signins.csv"], _all(read_signins)),
        ("inventory.log", ["osqueryd.results.log", "ws-101.json"], _all(read_inventory)),
        ("inventory.csv", ["inventory.csv"], _all(read_inventory)),
        (
            "trace.csv",
            ["exchange-trace.csv", "exchange-historical.csv"],
            _all(read_traces),
        ),
        ("mail.log", ["postfix.maillog", "sendmail.maillog"], _all(read_traces)),
        ("cve.json", ["CVE-2017-11882.json"], _all(read_cve_records)),
        ("kev.json", ["kev-excerpt.json"], lambda p: read_kev(p, lambda w: None)),
        ("zones.yml", ["zones.yml"], read_zones),
    ],
)
def test_fuzz_posture_readers(
    tmp_path: Path, name: str, seeds: list[str], read: Callable[[Path], Any]
) -> None:
    data = [(HERE / s).read_bytes() for s in seeds]
    assert run(data, _target(tmp_path, name, read), (SpearhuntError,), examples(60)) > 0
