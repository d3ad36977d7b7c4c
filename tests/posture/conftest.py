"""A simulated, investigated case with every posture input the simulator wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from spearhunt.correlate.config import CorrelateOptions, load_allowlist
from spearhunt.pipeline.case import CaseInputs, CaseOptions, build_case
from spearhunt.posture.run import PostureInputs
from spearhunt.simulate import demo_config, simulate


@pytest.fixture(scope="session")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], PostureInputs]:
    base = tmp_path_factory.mktemp("posture")
    sim = simulate(base / "sim", demo_config(7))
    store = base / "case.duckdb"
    build_case(
        CaseInputs.sniff([str(base / "sim" / d) for d in ("mail", "endpoint", "network")]),
        store,
        CaseOptions(CorrelateOptions(allowlist=load_allowlist(None))),
    )
    truth = orjson.loads(sim.truth_path.read_bytes())
    p = base / "sim"
    inputs = truth["posture"]["inputs"]
    full = PostureInputs(
        store=store,
        zones=p / inputs["zones"],
        signins=(p / inputs["signins"],),
        inventory=(p / inputs["inventory"],),
        kev=p / inputs["kev"],
        vulns=(p / inputs["vulns"],),
        traces=(p / inputs["message_trace"],),
    )
    return store, truth, full
