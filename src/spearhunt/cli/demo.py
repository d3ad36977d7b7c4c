"""``spearhunt demo``: simulate an intrusion, then run every stage spearhunt has on it."""

from __future__ import annotations

import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from spearhunt.cli.console import STATE, err, out, progress_bar
from spearhunt.cli.main import app
from spearhunt.errors import UsageError
from spearhunt.model.attack import TACTIC_ORDER
from spearhunt.model.hosts import short_host
from spearhunt.store.files import private_open

if TYPE_CHECKING:
    from spearhunt.model import Detection
    from spearhunt.model.mail import MailVerdict
    from spearhunt.pipeline import StageDone


@app.command("demo")
def demo(
    out_dir: Path | None = typer.Option(
        None,
        "--out",
        help="Keep everything in this folder (default: a temporary folder, kept and printed).",
    ),
    seed: int = typer.Option(
        7, "--seed", help="Simulation seed: the same seed gives the same intrusion."
    ),
    variant: str | None = typer.Option(
        None,
        "--variant",
        help="Attack variant, e.g. macro+runkey+psexec+https (default: drawn from the seed).",
    ),
    rules: list[Path] = typer.Option(
        [],
        "--rules",
        "-r",
        help="Extra Sigma rule folders (e.g. SigmaHQ's rules/windows) besides spearhunt's pack.",
    ),
) -> None:
    """Run the whole chain on a simulated intrusion: mail, hunt, correlation, report.

    Simulates a spear-phishing intrusion into a small defence contractor (mail, Sysmon and
    Security logs, Zeek logs), triages its mail, hunts its endpoint logs with spearhunt's pack
    (and any --rules), correlates everything into campaign stories, writes the HTML report,
    ATT&CK Navigator layers, STIX bundle and timelines, and prints what was found beside the
    simulator's answer key. Needs no data and no network; about ten seconds."""
    from spearhunt.correlate.config import CorrelateOptions, load_allowlist
    from spearhunt.pipeline import CaseInputs, CaseOptions, build_case
    from spearhunt.report import mail as mail_render
    from spearhunt.report.detections import DetectionWriter
    from spearhunt.simulate import demo_config, simulate

    started = time.perf_counter()
    base = out_dir or Path(tempfile.mkdtemp(prefix="spearhunt-demo-"))
    if out_dir and out_dir.exists() and any(out_dir.iterdir()):
        raise UsageError(f"{out_dir} is not empty; give an empty or new folder")
    sim_dir = base / "simulation"
    store = base / "case.duckdb"

    # the intrusion
    with progress_bar("simulating") as bar:
        sim = simulate(sim_dir, demo_config(seed, variant), on_progress=bar)
    out.print(
        f"[bold]spearhunt demo[/]: a simulated intrusion, variant [cyan]{sim.variant.name}[/], "
        f"seed {seed}"
    )
    out.print(
        f"  {sim.mails} mails, {sim.endpoint_events:,} endpoint events, "
        f"{sum(sim.network_records.values()):,} network records in {sim_dir}"
    )
    truth = orjson.loads(sim.truth_path.read_bytes()).get("story", {})

    # mail triage, hunt, network logs and correlation into the case; each stage is printed
    # as it ends, beside the simulator's answer key
    by_tactic: dict[str, list[Detection]] = defaultdict(list)
    printers: dict[str, Callable[[StageDone], None]] = {
        "mail": _print_mail,
        "hunt": lambda stage: _print_hunt(stage, by_tactic),
        "network": lambda stage: None,
        "correlate": lambda stage: _print_story(stage, truth),
    }
    with (
        progress_bar("building the case") as bar,
        private_open(base / "mail.jsonl", "wb") as mail_sink,
        private_open(base / "detections.jsonl", "w") as fh,
    ):
        writer = DetectionWriter("jsonl", fh)

        def keep(d: Detection) -> None:
            writer.write(d)
            for tactic in d.rule.tactics or ("other",):
                by_tactic[tactic].append(d)

        def on_stage(stage: StageDone) -> None:
            printers[stage.name](stage)

        def on_verdict(v: MailVerdict) -> None:
            mail_sink.write(mail_render.to_jsonl_line(v))

        build_case(
            CaseInputs(
                mail=(sim_dir / "mail",),
                events=(str(sim_dir / "endpoint"),),
                network=(sim_dir / "network",),
            ),
            store,
            CaseOptions(CorrelateOptions(allowlist=load_allowlist(None)), tuple(rules), "demo"),
            on_stage,
            on_progress=bar,
            on_verdict=on_verdict,
            on_detection=keep,
        )
    # the defences, from the simulation's posture inputs, saved in the case for the report
    _posture(sim.out_dir, store)
    # the report, from what the store now holds
    from spearhunt.report.render import write_report

    written = write_report(store, base / "report", ("html", "navigator", "stix", "timeline"))
    html_path = written.path("html")
    out.print(
        f"\n[bold]5. Report[/]: {html_path} (open it in a browser; ATT&CK Navigator layers, "
        f"STIX bundle and Timesketch timeline beside it)"
    )
    out.print(
        "\nOutputs: "
        + ", ".join(
            str(p) for p in (base / "mail.jsonl", base / "detections.jsonl", store, base / "report")
        )
    )
    out.print(f"See one story in full: spearhunt story --store {store} STORY_ID")
    if not STATE.quiet:
        err.print(f"demo finished in {time.perf_counter() - started:.1f}s")


def _print_mail(stage: StageDone) -> None:
    counts: Counter[str] = Counter(v.verdict for v in stage.verdicts)
    out.print(
        f"\n[bold]1. Mail triage[/]: {len(stage.verdicts)} mails: "
        + ", ".join(f"{counts[k]} {k}" for k in ("malicious", "suspicious", "clean"))
    )
    for v in sorted(stage.verdicts, key=lambda v: -v.score):
        if v.verdict != "malicious":
            continue
        reasons = "; ".join(
            f"{r.title}" + (f" ({r.attack})" if r.attack else "")
            for r in sorted(v.reasons, key=lambda r: -r.score)[:4]
        )
        line = Text("  MALICIOUS ", style="bold red")
        line.append(f"{v.subject!r} from {v.sender} to {', '.join(v.to)}: {reasons}")
        out.print(line)


def _print_hunt(stage: StageDone, by_tactic: dict[str, list[Detection]]) -> None:
    out.print(
        f"\n[bold]2. Hunt[/]: {stage.events:,} events, {stage.detections:,} detections "
        f"from {stage.rules:,} rules"
    )
    table = Table(box=None, title="First detection per ATT&CK tactic", title_justify="left")
    # At 80 columns the tactic, time and hosts stay on one line; the rule title wraps.
    table.add_column("tactic", no_wrap=True)
    table.add_column("first seen (UTC)", no_wrap=True)
    table.add_column("hosts", no_wrap=True)
    table.add_column("rule", ratio=1)
    for tactic in (*TACTIC_ORDER, "other"):
        hits = by_tactic.get(tactic)
        if not hits:
            continue
        first = min(hits, key=lambda d: (d.timestamp is None, d.timestamp))
        hosts = sorted({short_host(d.computer) or "?" for d in hits})
        where = short_host(first.computer) or "?"
        others = len(hosts) - 1
        table.add_row(
            tactic,
            str(first.timestamp)[:16] if first.timestamp else "?",
            Text(where + (f" +{others}" if others else "")),
            Text(first.rule.title),
        )
    out.print(table)


def _print_story(stage: StageDone, truth: dict[str, Any]) -> None:
    pz = truth.get("patient_zero", {})
    out.print("\n[bold]Answer key[/] (truth.json, written by the simulator):")
    out.print(
        f"  patient zero {pz.get('host')} ({pz.get('user')}); lateral movement to "
        + ", ".join(h.get("host", "?") for h in truth.get("lateral_hosts", []))
        + "; exfiltration to "
        + ", ".join(_dest(x.get("destination")) for x in truth.get("exfiltration", []))
    )
    stories = stage.result.stories if stage.result else ()
    out.print(f"\n[bold]3. Correlation[/]: {len(stories)} stories; the top one:")
    if not stories:
        return
    s = stories[0]
    top = s.patient_zero
    out.print(Text(f"  {s.id} score {s.score:.1f}: {s.title}"))
    out.print(
        Text(
            f"  patient zero {top.host} ({top.user or '?'})"
            + (f", mail {top.message_id} {top.mail_subject!r}" if top.message_id else "")
        )
    )
    for h in s.hosts[1:]:
        out.print(
            Text(
                f"  reached {h.host} from {h.reached_from} via {h.via} as {h.account} "
                f"at {str(h.first_seen)[:19]}"
            )
        )
    if s.staged:
        out.print(Text("  staged " + ", ".join(s.staged[:4])))
    for x in s.exfiltration:
        out.print(
            Text(
                f"  exfiltration {x.host} -> {x.destination} ({x.bytes:,} bytes, "
                f"{str(x.first_seen)[:19]})"
            )
        )
    out.print("  score: " + ", ".join(f"{p.name} {p.points:.0f}" for p in s.score_parts))


def _posture(sim_dir: Path, store: Path) -> None:
    """Run ``spearhunt posture`` on the case with every input the simulator wrote; print the
    five defences."""
    from spearhunt.posture.run import PostureInputs, assess_case
    from spearhunt.report.posture import controls_table
    from spearhunt.store.posture import save_result

    truth = orjson.loads((sim_dir / "truth.json").read_bytes()).get("posture")
    if not truth:
        return
    given = {k: sim_dir / v for k, v in truth["inputs"].items()}
    result = assess_case(
        PostureInputs(
            store=store,
            zones=given["zones"],
            signins=(given["signins"],),
            inventory=(given["inventory"],),
            kev=given["kev"],
            vulns=(given["vulns"],),
            traces=(given["message_trace"],),
        )
    )
    save_result(store, result.to_dict())
    out.print(
        "\n[bold]4. Defences[/] (spearhunt posture, from the simulated sign-ins, inventory, "
        "zones and message trace):"
    )
    out.print(controls_table(result))
    for s in [s for s in result.steps if s.verdict == "would have stopped"][:4]:
        why = s.why if len(s.why) <= 140 else s.why[:139].rsplit(" ", 1)[0] + "…"
        out.print(Text(f"  {s.step}: {s.control} would have stopped it ({why})"))


def _dest(d: object) -> str:
    if isinstance(d, dict):
        return f"{d.get('domain') or '?'} ({d.get('ip') or '?'})"
    return str(d)
