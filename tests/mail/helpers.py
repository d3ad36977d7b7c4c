"""Helpers for the mail tests: build fixtures, judge bytes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from spearhunt.detect.mail import MailAnalyzer, load_config
from spearhunt.detect.mail.attachments import report
from spearhunt.ingest.mail import DEFAULT_LIMITS, read_bytes
from spearhunt.ingest.mail.archive import Budget, expand
from spearhunt.ingest.mail.blob import make_blob
from spearhunt.model.mail import AttachmentReport, MailFailure, MailVerdict

_SPEC = importlib.util.spec_from_file_location(
    "make_fixtures", Path(__file__).resolve().parents[1] / "fixtures" / "mail" / "make_fixtures.py"
)
assert _SPEC and _SPEC.loader
fx = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(fx)

CONFIG = load_config()
ANALYZER = MailAnalyzer(CONFIG)


def judge(data: bytes, source: str = "test.eml") -> MailVerdict:
    """The single verdict for one mail's bytes."""
    items = list(read_bytes(data, source, DEFAULT_LIMITS))
    assert len(items) == 1, items
    assert not isinstance(items[0], MailFailure), items[0]
    return ANALYZER.analyze(items[0])


def ids(verdict: MailVerdict) -> set[str]:
    """Reason ids of a verdict."""
    return {r.id for r in verdict.reasons}


def file_report(name: str, data: bytes, passwords: tuple[str, ...] = ()) -> AttachmentReport:
    """Report for one attachment, containers opened."""
    blob = expand(make_blob(name, data), passwords, Budget(DEFAULT_LIMITS))
    return report(blob, CONFIG, passwords)


def finding_ids(rep: AttachmentReport) -> set[str]:
    """Every finding id in a report tree."""
    return {f.id for part in rep.walk() for f in part.findings}
