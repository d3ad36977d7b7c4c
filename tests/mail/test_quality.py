"""Detection rates on the shared phish and ham sets (../shared/data/mail)."""

from __future__ import annotations

import pytest

from spearhunt.detect.mail.run import Triaged, triage
from tests.conftest import shared_data
from tests.mail.helpers import ANALYZER


def _flagged(label: str) -> tuple[int, int]:
    verdicts = [
        t.verdict for t in triage([shared_data("mail", label)], ANALYZER) if isinstance(t, Triaged)
    ]
    return sum(v.verdict != "clean" for v in verdicts), len(verdicts)


@pytest.fixture(scope="module")
def rates() -> dict[str, float]:
    out = {}
    for label in ("phish", "ham"):
        flagged, total = _flagged(label)
        assert total >= 100
        out[label] = flagged / total
    return out


@pytest.mark.shared_data
@pytest.mark.slow
def test_rates_do_not_regress(rates: dict[str, float]) -> None:
    # the figures reached so far (93.7% / 0.5%), less a small margin
    assert rates["phish"] >= 0.92
    assert rates["ham"] <= 0.01


@pytest.mark.shared_data
@pytest.mark.slow
def test_issue_quality_bar(rates: dict[str, float]) -> None:
    assert rates["phish"] >= 0.90
    assert rates["ham"] <= 0.02
