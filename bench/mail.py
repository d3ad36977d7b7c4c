"""Mail triage benchmark: flagged rates, confusion matrix and messages/s on the shared sets.

One process, one core, attachments deep-scanned (archives, office, PDF, HTML). Reads the
mail under SPEARHUNT_DATA or ../shared/data.

    python bench/mail.py
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from pathlib import Path

from spearhunt.detect.mail import MailAnalyzer, load_config
from spearhunt.detect.mail.run import Triaged, triage

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPEARHUNT_DATA", ROOT.parent / "shared" / "data")).resolve()


def half(file: str) -> str:
    """Development or holdout half of a file, by a hash of its name (signals are tuned on "dev" only)."""
    return "dev" if hashlib.sha1(Path(file).name.encode()).digest()[0] % 2 == 0 else "holdout"


def main() -> None:
    """Print the figures."""
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    analyzer = MailAnalyzer(load_config())
    matrix: dict[str, dict[str, int]] = {}
    halves: dict[str, list[int]] = {}
    elapsed = 0.0
    count = 0
    for label in ("phish", "ham"):
        start = time.perf_counter()
        verdicts = [
            t.verdict for t in triage([DATA / "mail" / label], analyzer) if isinstance(t, Triaged)
        ]
        for v in verdicts:
            key = f"{label} {half(v.file)}"
            halves.setdefault(key, [0, 0])
            halves[key][0] += v.verdict != "clean"
            halves[key][1] += 1
        if label == "phish":
            elapsed = time.perf_counter() - start
            count = len(verdicts)
        matrix[label] = {
            v: sum(x.verdict == v for x in verdicts) for v in ("malicious", "suspicious", "clean")
        }
    for label, row in matrix.items():
        total = sum(row.values())
        flagged = row["malicious"] + row["suspicious"]
        print(f"{label:<6} {flagged}/{total} flagged = {flagged / total:.1%}")
    for key, (flagged, total) in sorted(halves.items()):
        print(f"  {key:<14} {flagged}/{total} flagged = {flagged / total:.1%}")
    print("\nconfusion matrix (rows: truth, cols: verdict)")
    print(f"{'':<8}{'malicious':>11}{'suspicious':>11}{'clean':>8}")
    for label, row in matrix.items():
        print(f"{label:<8}{row['malicious']:>11}{row['suspicious']:>11}{row['clean']:>8}")
    tp = matrix["phish"]["malicious"] + matrix["phish"]["suspicious"]
    fp = matrix["ham"]["malicious"] + matrix["ham"]["suspicious"]
    print(
        f"\nflagged-vs-clean: TP {tp}  FN {matrix['phish']['clean']}  FP {fp}  TN {matrix['ham']['clean']}"
    )
    print(
        f"throughput (phish set, read + deep scan): {count / elapsed:.1f} messages/s over {count} mails"
    )


if __name__ == "__main__":
    main()
