"""Rates on mail the triage was not built on (../shared/data/mail-outside, issue #13), per half.

The weights were tuned looking at the "dev" half of each corpus only (a hash of the file name
decides, as in bench/mail.py); the "holdout" half tells whether that tuning generalises, so both
halves are held to a floor and both are reported.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from spearhunt.detect.mail.run import Triaged, triage
from tests.conftest import shared_data
from tests.mail.helpers import ANALYZER


def half(file: str) -> str:
    """The half a file belongs to (same rule as bench/mail.py)."""
    return "dev" if hashlib.sha1(Path(file).name.encode()).digest()[0] % 2 == 0 else "holdout"


@pytest.fixture(scope="module")
def outside() -> dict[tuple[str, str], list[str]]:
    """Verdicts per (label, half) and per (label, 'all')."""
    out: dict[tuple[str, str], list[str]] = {}
    for label in ("phish", "ham"):
        for t in triage([shared_data("mail-outside", label)], ANALYZER):
            if isinstance(t, Triaged):
                for key in ((label, "all"), (label, half(t.verdict.file))):
                    out.setdefault(key, []).append(t.verdict.verdict)
    return out


def share(verdicts: list[str], *kinds: str) -> float:
    return sum(v in kinds for v in verdicts) / len(verdicts)


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("which", ["all", "dev", "holdout"])
def test_outside_phish_and_ham_rates(outside: dict[tuple[str, str], list[str]], which: str) -> None:
    phish, ham = outside[("phish", which)], outside[("ham", which)]
    assert len(phish) >= 150 and len(ham) >= 150
    flagged = share(phish, "suspicious", "malicious")
    malicious = share(phish, "malicious")
    ham_flagged = share(ham, "suspicious", "malicious")
    report = f"{which}: phish flagged {flagged:.1%}, malicious {malicious:.1%}; ham flagged {ham_flagged:.1%}"
    # reached: 90.7% / 77.9% / 0.0% on all (dev 91.2% / holdout 90.1% flagged); the bar is
    # 90% / 60% / 1%; floors keep a margin of a few mails for parser changes, wider per half
    assert flagged >= (0.89 if which == "all" else 0.86), report
    assert malicious >= 0.60, report
    assert ham_flagged <= 0.01, report
    assert share(ham, "malicious") == 0.0, report
