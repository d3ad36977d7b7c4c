"""The reasons a mail can be flagged for name current ATT&CK techniques (v19)."""

from __future__ import annotations

import re

from spearhunt.detect.mail.catalogue import CATALOGUE
from spearhunt.model.attack import REVOKED


def test_every_reason_names_a_current_technique_or_none():
    ids = {attack for _, attack in CATALOGUE.values() if attack}
    assert ids, "the catalogue names techniques"
    assert all(re.fullmatch(r"T\d{4}(\.\d{3})?", i) for i in ids), ids
    revoked = sorted(i for i in ids if i in REVOKED)
    assert revoked == [], f"revoked in ATT&CK v19: {revoked} (now {[REVOKED[i] for i in revoked]})"


def test_impersonation_and_spoofing_use_their_v19_ids():
    assert CATALOGUE["hdr.vip_impersonation"][1] == "T1684.001"  # Impersonation
    assert CATALOGUE["auth.brand_unauthenticated"][1] == "T1684.002"  # Email Spoofing
