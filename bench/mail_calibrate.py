"""Calibrate the mail scoring weights on the shared mail, with a held-out half to check them.

Run: python bench/mail_calibrate.py [--rounds N] [--write]   (SPEARHUNT_DATA or ../shared/data)

Every mail of the bench corpora (bench/mail.py) is judged once; the reasons found are kept, and
the verdict is recomputed for other weights without judging again. A coordinate search changes
one reason's weight at a time, on the "dev" half only, and keeps a change when it flags more
phish without flagging more ham:

  objective = phish flagged + phish malicious (share over the dev phish of both phish corpora)
  bounds    = no more dev ham flagged than the shipped weights (at most 0.5%), no ham malicious;
              a change must win at least three dev phish verdicts (fewer is noise)

Then it prints the rates of the shipped weights and of the fitted ones on both halves, and the
precision/recall curve of the suspicious threshold on each half: the holdout columns tell whether
a weight learned something about phishing or about these files. `--write` prints the fitted
weights as a `scores:` block for a `--config` file; the shipped default.yaml is changed by hand,
only where the holdout agrees.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mail import CORPORA, files_of, half  # type: ignore[import-not-found]
from spearhunt.detect.mail import MailAnalyzer, load_config
from spearhunt.detect.mail.config import MailConfig
from spearhunt.detect.mail.run import Triaged, triage
from spearhunt.detect.mail.scoring import total, weak_combo
from spearhunt.model.mail import Reason

HAM_FLAGGED_MAX = 0.005
MIN_GAIN = 3  # a change must win this many dev phish verdicts: one or two is noise of these files
STEPS = (-10, -5, 5, 10)
THRESHOLDS = (15, 20, 25, 30, 35, 40, 45, 50, 60, 70, 80, 100)


@dataclass(frozen=True, slots=True)
class Judged:
    """One mail's reasons, its truth and its half."""

    corpus: str
    phish: bool
    half: str
    reasons: tuple[Reason, ...]


def judge_all() -> list[Judged]:
    """Every bench mail judged once with the shipped config (the combo bonus left out: recomputed)."""
    analyzer = MailAnalyzer(load_config())
    out = []
    for name, folder, label, prefix in CORPORA:
        for t in triage(files_of(folder, prefix), analyzer):
            if isinstance(t, Triaged):
                kept = tuple(r for r in t.verdict.reasons if r.id != "mix.independent_tells")
                out.append(Judged(name, label == "phish", half(t.verdict.file), kept))
    return out


def rescore(mail: Judged, weights: dict[str, int], config: MailConfig) -> int:
    """The score of a mail under other weights (a reason scored below its default keeps its ratio)."""
    reasons = []
    for r in mail.reasons:
        base = config.score(r.id)
        new = weights.get(r.id, base)
        score = r.score if base == 0 else round(r.score * new / base)
        reasons.append(replace(r, score=score))
    combo = weak_combo(reasons, config)
    if combo is not None:
        reasons.append(replace(combo, score=weights.get(combo.id, combo.score)))
    return total(reasons)


def rates(
    mails: list[Judged], weights: dict[str, int], config: MailConfig, which: str
) -> dict[str, float]:
    """Flagged and malicious shares of phish and ham on one half ('all' for both)."""
    counts = {
        "phish": 0,
        "ham": 0,
        "phish_flagged": 0,
        "phish_mal": 0,
        "ham_flagged": 0,
        "ham_mal": 0,
    }
    for m in mails:
        if which != "all" and m.half != which:
            continue
        score = rescore(m, weights, config)
        kind = "phish" if m.phish else "ham"
        counts[kind] += 1
        counts[f"{kind}_flagged"] += score >= config.suspicious
        counts[f"{kind}_mal"] += score >= config.malicious
    return {k: counts[k] / max(1, counts[k.split("_")[0]]) for k in counts if "_" in k}


def fit(mails: list[Judged], config: MailConfig, rounds: int) -> dict[str, int]:
    """Coordinate search over the reason weights on the dev half."""
    weights = dict(config.scores)
    ids = sorted({r.id for m in mails for r in m.reasons if r.score > 0 and r.id in weights})
    dev = [m for m in mails if m.half == "dev"]

    start = rates(dev, weights, config, "dev")
    ham_max = min(HAM_FLAGGED_MAX, start["ham_flagged"])  # never more ham flagged than shipped
    phish_dev = sum(m.phish for m in dev)
    min_gain = MIN_GAIN / max(1, phish_dev)

    def value(w: dict[str, int]) -> float:
        r = rates(dev, w, config, "dev")
        if r["ham_flagged"] > ham_max or r["ham_mal"] > 0:
            return -1.0
        return r["phish_flagged"] + r["phish_mal"]

    best = value(weights)
    for _ in range(rounds):
        improved = False
        for rid in ids:
            for step in STEPS:
                trial = {**weights, rid: max(0, weights[rid] + step)}
                v = value(trial)
                if v >= best + min_gain:
                    weights, best, improved = trial, v, True
        if not improved:
            break
    return weights


def curve(mails: list[Judged], weights: dict[str, int], config: MailConfig, which: str) -> None:
    """Precision, recall and ham flagged at each suspicious threshold, on one half."""
    scored = [
        (rescore(m, weights, config), m.phish) for m in mails if which == "all" or m.half == which
    ]
    phish = sum(p for _, p in scored)
    ham = len(scored) - phish
    print(f"  {which:<8}{'threshold':>10}{'recall':>9}{'precision':>11}{'ham flagged':>13}")
    for t in THRESHOLDS:
        tp = sum(1 for s, p in scored if p and s >= t)
        fp = sum(1 for s, p in scored if not p and s >= t)
        precision = tp / (tp + fp) if tp + fp else 1.0
        print(f"  {'':<8}{t:>10}{tp / phish:>9.1%}{precision:>11.1%}{fp / ham:>13.2%}")


def main() -> None:
    """Fit, then print rates and curves for both halves."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="coordinate-search rounds (3)")
    parser.add_argument("--write", action="store_true", help="print the fitted weights as YAML")
    args = parser.parse_args()
    config = load_config()
    mails = judge_all()
    fitted = fit(mails, config, args.rounds)
    shipped = dict(config.scores)
    for title, weights in (("shipped weights", shipped), ("fitted on dev", fitted)):
        print(f"\n{title}:")
        for which in ("dev", "holdout"):
            r = rates(mails, weights, config, which)
            print(
                f"  {which:<8} phish flagged {r['phish_flagged']:6.1%}  malicious {r['phish_mal']:6.1%}"
                f"   ham flagged {r['ham_flagged']:6.2%}  malicious {r['ham_mal']:6.2%}"
            )
    changed = {k: (shipped[k], v) for k, v in fitted.items() if shipped.get(k) != v}
    print("\nweights the fit changed (shipped -> fitted), each alone on the holdout half:")
    base = rates(mails, shipped, config, "holdout")
    for k, (old, new) in sorted(changed.items()):
        r = rates(mails, {**shipped, k: new}, config, "holdout")
        print(
            f"  {k:<32}{old:>4} -> {new:<4} phish flagged {r['phish_flagged'] - base['phish_flagged']:+6.1%}"
            f"  malicious {r['phish_mal'] - base['phish_mal']:+6.1%}"
            f"  ham flagged {r['ham_flagged'] - base['ham_flagged']:+6.2%}"
        )
    print("\nprecision/recall of the suspicious threshold, shipped weights (all corpora):")
    for which in ("dev", "holdout"):
        curve(mails, shipped, config, which)
    if args.write:
        print("\nscores:")
        for k, v in sorted(fitted.items()):
            print(f"  {k}: {v}")


if __name__ == "__main__":
    main()
