"""Every row of the shared attachments MANIFEST: the office facts we report match the expected ones."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import pyzipper

from spearhunt.detect.mail import office
from spearhunt.ingest.mail.blob import make_blob
from tests.conftest import shared_data

COLUMNS = (
    "has_vba",
    "has_xlm",
    "autoexec",
    "ole_embedded",
    "external_rel",
    "dde",
    "encrypted",
    "rtf_objects",
)


def _rows() -> list[dict[str, str]]:
    from tests.conftest import DATA

    path = DATA / "attachments" / "MANIFEST.tsv"
    if not path.exists():
        return [{"file": "<missing>"}]
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.mark.shared_data
@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["file"])
def test_manifest_row_properties(row: dict[str, str]) -> None:
    root = shared_data("attachments")
    data = (root / row["file"]).read_bytes()
    name = row["file"]
    if row["zip_wrapped"] == "1":
        with pyzipper.AESZipFile(io.BytesIO(data)) as zf:
            name = zf.namelist()[0]
            data = zf.read(name, pwd=b"infected-test")
    blob = make_blob(Path(name).name, data)
    facts = office.analyse(blob) if office.is_office(blob) else office.OfficeFacts()
    got = {
        "has_vba": int(facts.has_vba),
        "has_xlm": int(facts.has_xlm),
        "autoexec": int(bool(facts.autoexec)),
        "ole_embedded": int(bool(facts.ole_objects)),
        "external_rel": int(bool(facts.external)),
        "dde": int(bool(facts.dde)),
        "encrypted": int(facts.encrypted),
        "rtf_objects": int(bool(facts.rtf_objects)),
    }
    assert got == {c: int(row[c]) for c in COLUMNS}
