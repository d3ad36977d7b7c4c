"""Mail triage benchmark: rates per corpus (beside SpamAssassin's when installed) and messages/s.

Run: python bench/mail.py [--no-spamassassin] [--misses CORPUS]   (SPEARHUNT_DATA or ../shared/data)

Corpora: mail-outside phish and ham (the independent set of issue #13), the phishing_pot sample and
the project's own ham (../shared/data/mail). Every corpus is also split in two halves by a hash of
the file name: weights were tuned looking at the "dev" half only, the "holdout" half tells whether
that tuning generalises.

SpamAssassin: when `spamassassin` is on PATH, each message is also scored by it with local tests
only (`spamassassin -L`, no network, no Bayes), in the same run, and its rate printed beside ours
(score >= 5 is spam). CI does not install it; without it the column is left out.

Throughput: one process, one core, read + deep scan of attachments (archives, office, PDF, HTML),
against a baseline measured in the same run: reading and MIME-parsing the same files without
judging them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from spearhunt.detect.mail import MailAnalyzer, load_config
from spearhunt.detect.mail.run import Triaged, triage
from spearhunt.ingest.mail import DEFAULT_LIMITS, iter_files, read_file

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPEARHUNT_DATA", ROOT.parent / "shared" / "data")).resolve()

# (name, folder under DATA, label, file-name prefix or "")
CORPORA = (
    ("outside-phish", "mail-outside/phish", "phish", ""),
    ("outside-ham-sa", "mail-outside/ham", "ham", "sa_"),
    ("outside-ham-list", "mail-outside/ham", "ham", "usrp_"),
    ("phishing_pot", "mail/phish", "phish", ""),
    ("project-ham", "mail/ham", "ham", ""),
)


def half(file: str) -> str:
    """Development or holdout half of a file, by a hash of its name (signals are tuned on "dev" only)."""
    return "dev" if hashlib.sha1(Path(file).name.encode()).digest()[0] % 2 == 0 else "holdout"


@dataclass
class Tally:
    """Verdict counts of one corpus (or one half of it)."""

    total: int = 0
    malicious: int = 0
    suspicious: int = 0
    sa_spam: int = 0
    sa_total: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> int:
        """Suspicious or malicious."""
        return self.malicious + self.suspicious


def files_of(folder: str, prefix: str) -> list[Path]:
    """The message files of one corpus, sorted."""
    base = DATA / folder
    return sorted(
        p
        for p in iter_files([base])
        if p.name.startswith(prefix) and p.suffix.lower() in (".eml", ".msg", ".mbox", "")
    )


def spamassassin_spam(paths: list[Path]) -> dict[str, bool] | None:
    """Whether SpamAssassin (local tests only) calls each file spam; None when it is not installed."""
    exe = shutil.which("spamassassin")
    if exe is None:
        return None
    out: dict[str, bool] = {}
    # one process per message would spend seconds loading rules each time: feed an mbox instead
    with tempfile.TemporaryDirectory() as tmp:
        for start in range(0, len(paths), 200):
            chunk = paths[start : start + 200]
            mbox = Path(tmp) / "chunk.mbox"
            with mbox.open("wb") as fh:
                for n, path in enumerate(chunk):
                    data = path.read_bytes()
                    if data.startswith(b"From "):
                        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
                    fh.write(f"From {SEPARATOR}{n}@localhost Thu Jan  1 00:00:00 2004\n".encode())
                    body = data.replace(b"\r\n", b"\n").replace(b"\nFrom ", b"\n>From ")
                    fh.write(body.rstrip(b"\n") + b"\n\n")
            proc = subprocess.run(
                [exe, "-L", "--mbox", "-t", "--cf=use_bayes 0"],
                input=mbox.read_bytes(),
                capture_output=True,
                check=False,
                timeout=3600,
            )
            verdicts = _sa_verdicts(proc.stdout, len(chunk))
            for n, path in enumerate(chunk):
                if n in verdicts:
                    out[str(path)] = verdicts[n]
    return out


SEPARATOR = "spearhunt-bench-"


def _sa_verdicts(output: bytes, count: int) -> dict[int, bool]:
    """Spam or not per message number, read from the X-Spam-Status header of each output message
    (only the header block: quoted spam reports in bodies carry the same header)."""
    found: dict[int, bool] = {}
    marker = f"From {SEPARATOR}".encode()
    for block in output.split(b"\n" + marker)[: count + 1]:
        block = block.removeprefix(marker)
        number, _, rest = block.partition(b"@")
        if not number.isdigit():
            continue
        head = rest.split(b"\n\n", 1)[0]
        for line in head.splitlines():
            if line.lower().startswith(b"x-spam-status:"):
                found[int(number)] = line.split(b":", 1)[1].strip().lower().startswith(b"yes")
                break
    return found


def pct(part: int, whole: int) -> str:
    """Percentage with one decimal, or '-' for an empty set."""
    return f"{part / whole:6.1%}" if whole else "     -"


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-spamassassin", action="store_true", help="skip SpamAssassin")
    parser.add_argument(
        "--misses",
        metavar="CORPUS",
        help="list the files of CORPUS judged wrongly (phish clean, ham flagged), dev half only",
    )
    parser.add_argument("--only", metavar="CORPUS", action="append", help="run only these corpora")
    args = parser.parse_args()
    analyzer = MailAnalyzer(load_config())
    rows: dict[str, dict[str, Tally]] = {}
    judged = 0
    judge_time = 0.0
    read_time = 0.0
    sa_available = False
    sa_time = 0.0
    sa_count = 0
    for name, folder, label, prefix in CORPORA:
        if args.only and name not in args.only:
            continue
        paths = files_of(folder, prefix)
        if not paths:
            print(f"{name}: no files under {DATA / folder}")
            continue
        start = time.process_time()
        for path in paths:
            for _ in read_file(path, DEFAULT_LIMITS):
                pass
        read_time += time.process_time() - start
        start = time.process_time()
        results = [t for t in triage(paths, analyzer) if isinstance(t, Triaged)]
        judge_time += time.process_time() - start
        judged += len(results)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        sa = None if args.no_spamassassin else spamassassin_spam(paths)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if sa:
            sa_time += (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            sa_count += len(sa)
        sa_available = sa is not None
        tallies = {"all": Tally(), "dev": Tally(), "holdout": Tally()}
        for t in results:
            v = t.verdict
            for key in ("all", half(v.file)):
                row = tallies[key]
                row.total += 1
                row.malicious += v.verdict == "malicious"
                row.suspicious += v.verdict == "suspicious"
                wrong = (v.verdict == "clean") if label == "phish" else (v.verdict != "clean")
                if wrong and key == "dev":
                    row.misses.append(f"{v.score:4d} {v.verdict:<10} {Path(v.file).name}")
                if sa is not None and v.file in sa:
                    row.sa_total += 1
                    row.sa_spam += sa[v.file]
        rows[name] = tallies
    head = f"{'corpus':<18}{'half':<9}{'n':>5}{'flagged':>9}{'malicious':>11}"
    print(head + (f"{'SpamAssassin':>14}" if sa_available else ""))
    for name, tallies in rows.items():
        for key, tally in tallies.items():
            line = (
                f"{name:<18}{key:<9}{tally.total:>5}{pct(tally.flagged, tally.total):>9}"
                f"{pct(tally.malicious, tally.total):>11}"
            )
            if sa_available:
                line += f"{pct(tally.sa_spam, tally.sa_total):>14}"
            print(line)
    print(
        "\n(phish: flagged = suspicious or malicious, higher is better; ham: lower is better;"
        " SpamAssassin: score >= 5 with local tests only)"
    )
    if judged:
        print(
            f"throughput (read + deep scan, one core): {judged / judge_time:.1f} messages/s over"
            f" {judged} mails; reading alone {judged / read_time:.1f} messages/s"
            f" (judging costs {judge_time / read_time:.1f}x reading)"
        )
    if sa_count and sa_time:
        print(
            f"SpamAssassin (-L, its own CPU time): {sa_count / sa_time:.1f} messages/s over"
            f" {sa_count} mails; spearhunt is {(judged / judge_time) / (sa_count / sa_time):.1f}x faster"
        )
    if args.misses and args.misses in rows:
        print(f"\nwrongly judged in {args.misses} (dev half):")
        for line in rows[args.misses]["dev"].misses:
            print(" ", line)


if __name__ == "__main__":
    main()
