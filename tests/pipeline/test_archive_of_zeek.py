"""investigate hands archives to the hunt because they may hold event logs; one that holds only
Zeek logs is not a usage error (the README's APT29 example, found by the README walk)."""

from __future__ import annotations

import zipfile

import pytest
from tests.conftest import shared_data

from spearhunt.cli.main import run


@pytest.mark.shared_data
def test_investigate_a_folder_whose_only_archive_holds_zeek_logs(tmp_path, capsys):
    zeek = shared_data("otrf", "datasets", "compound", "apt29", "day1", "zeek", "combined_zeek.log")
    lines = zeek.read_bytes().splitlines(keepends=True)[:50]
    folder = tmp_path / "in"
    folder.mkdir()
    with zipfile.ZipFile(folder / "zeek_logs.zip", "w") as z:
        z.writestr("conn.log", b"".join(lines))
    assert run(["-q", "investigate", str(folder), "-f", "json"]) == 0
    assert '"stories"' in capsys.readouterr().out
