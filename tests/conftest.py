"""Shared test settings: where the public data set lives, and how to treat its absence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# One setting for the shared public data; CI has it beside the project root.
DATA = Path(os.environ.get("SPEARHUNT_DATA", ROOT.parent / "shared" / "data")).resolve()
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_data(*parts: str) -> Path:
    """Path under the shared data folder; skip (locally) or fail (CI) when it is missing."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        reason = f"shared data not found at {path} (set SPEARHUNT_DATA)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared public data folder (../shared/data by default)."""
    return shared_data()
