"""CISA's Known Exploited Vulnerabilities catalog (JSON as CISA publishes it) and CVE JSON 5
records (``containers.cna.affected[].versions``, one record per file as in cvelistV5)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spearhunt.errors import IngestError
from spearhunt.ingest.posture.common import (
    WarningSink,
    files_under,
    load_json,
    parse_date,
    text_of,
)
from spearhunt.model import IngestWarning
from spearhunt.model.posture import KevEntry, VersionRange

MAX_CVE_FILE = 16 * 1024 * 1024
MAX_RANGES = 2_000  # per record; real records have a handful


def read_kev(path: Path, on_warning: WarningSink) -> list[KevEntry]:
    """The catalog's entries; raises ``IngestError`` when the file is not a KEV catalog."""
    doc = load_json(path)
    items = doc.get("vulnerabilities") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise IngestError("not a KEV catalog (no 'vulnerabilities' list)", where=str(path))
    out: list[KevEntry] = []
    for i, v in enumerate(items, 1):
        cve = text_of(v.get("cveID")) if isinstance(v, dict) else ""
        if not cve.upper().startswith("CVE-") or not isinstance(v, dict):
            on_warning(IngestWarning(str(path), "KEV entry without a cveID; skipped", record=i))
            continue
        out.append(
            KevEntry(
                cve=cve.upper(),
                vendor=text_of(v.get("vendorProject")),
                product=text_of(v.get("product")),
                name=text_of(v.get("vulnerabilityName")),
                date_added=parse_date(v.get("dateAdded")),
                due=parse_date(v.get("dueDate")),
                ransomware=text_of(v.get("knownRansomwareCampaignUse")).lower() == "known",
            )
        )
    return out


def read_cve_records(paths: list[Path], on_warning: WarningSink) -> Iterator[VersionRange]:
    """Affected version ranges of every CVE JSON 5 record in the files and folders given."""
    for path in files_under(paths, (".json",)):
        try:
            doc = load_json(path, MAX_CVE_FILE)
        except IngestError as exc:
            on_warning(IngestWarning(str(path), f"file skipped: {exc.message}"))
            continue
        docs = doc if isinstance(doc, list) else [doc]
        for i, rec in enumerate(docs, 1):
            if not isinstance(rec, dict) or rec.get("dataType") != "CVE_RECORD":
                on_warning(IngestWarning(str(path), "not a CVE JSON 5 record; skipped", record=i))
                continue
            yield from _ranges(path, rec, on_warning)


def _ranges(path: Path, rec: dict[str, Any], on_warning: WarningSink) -> Iterator[VersionRange]:
    meta = rec.get("cveMetadata")
    cve = text_of(meta.get("cveId")).upper() if isinstance(meta, dict) else ""
    containers = rec.get("containers")
    cna = containers.get("cna") if isinstance(containers, dict) else None
    affected = cna.get("affected") if isinstance(cna, dict) else None
    if not cve or not isinstance(affected, list):
        on_warning(
            IngestWarning(
                str(path), "CVE record without cveMetadata.cveId or affected list; skipped"
            )
        )
        return
    count = 0
    for a in affected:
        if not isinstance(a, dict):
            continue
        versions = a.get("versions")
        for v in versions if isinstance(versions, list) else ():
            if not isinstance(v, dict) or not text_of(v.get("version")):
                continue
            count += 1
            if count > MAX_RANGES:
                on_warning(
                    IngestWarning(
                        str(path), f"{cve}: more than {MAX_RANGES} version ranges; rest ignored"
                    )
                )
                return
            yield VersionRange(
                cve=cve,
                vendor=text_of(a.get("vendor")),
                product=text_of(a.get("product")),
                version=text_of(v.get("version")),
                less_than=text_of(v.get("lessThan")) or None,
                less_equal=text_of(v.get("lessThanOrEqual")) or None,
                status=text_of(v.get("status")) or "affected",
            )
