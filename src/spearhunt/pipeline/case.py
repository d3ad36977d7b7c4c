"""Build a case from evidence: mail triage, hunt, network logs, correlation, in that order,
into one case store, with a frozen summary of what each stage did."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spearhunt.correlate.config import CorrelateOptions
from spearhunt.correlate.run import correlate_store
from spearhunt.errors import IngestError, StoreError
from spearhunt.ingest.archives import iter_sources
from spearhunt.ingest.sources import EVENT_KINDS, Kind, expand_paths, sniff
from spearhunt.ingest.zeek import read_zeek
from spearhunt.model import Detection, IngestWarning
from spearhunt.model.callbacks import OnWarning, Progress
from spearhunt.model.mail import MailVerdict
from spearhunt.model.story import CorrelationResult
from spearhunt.store import network as net_store
from spearhunt.store import runs
from spearhunt.store.case import open_case

# the hunt opens archives and reads their event logs; network ingest reads their Zeek logs
EVENT_INPUTS = frozenset({*EVENT_KINDS, Kind.ARCHIVE})
NETWORK_INPUTS = frozenset({Kind.ZEEK_TSV, Kind.ARCHIVE})


@dataclass(frozen=True, slots=True)
class CaseInputs:
    """What goes into a case, by stage: mail files, event logs, network logs (files or
    folders). :meth:`sniff` sorts a mixed bag of paths."""

    mail: tuple[Path, ...] = ()
    events: tuple[str, ...] = ()
    network: tuple[Path, ...] = ()
    files: int = 0  # input files found (for the summary)
    kinds: tuple[tuple[str, int], ...] = ()  # (kind, files)

    @classmethod
    def sniff(cls, paths: Sequence[str], on_warning: OnWarning | None = None) -> CaseInputs:
        """Every file the paths name, sniffed and given to the stage that reads its kind;
        files that cannot be read (FIFO, dangling link, empty, damaged) are warned."""
        sources = [sniff(p) for p in expand_paths(list(paths))]
        for s in sources:
            if s.problem and on_warning:
                on_warning(IngestWarning(s.name, s.problem))
        kinds = Counter(s.kind.value for s in sources)
        return cls(
            tuple(s.path for s in sources if s.kind == Kind.MAIL),
            tuple(str(s.path) for s in sources if s.kind in EVENT_INPUTS),
            tuple(s.path for s in sources if s.kind in NETWORK_INPUTS),
            len(sources),
            tuple(kinds.items()),
        )


@dataclass(frozen=True, slots=True)
class CaseOptions:
    """How to build the case."""

    correlate: CorrelateOptions = field(default_factory=CorrelateOptions)
    rules: tuple[Path, ...] = ()  # extra Sigma rule folders (detection and correlation rules)
    command: str = "investigate"  # recorded with the case's runs (``investigate: hunt`` ...)
    time_offsets: tuple[tuple[str, int], ...] = ()  # (source glob, seconds): --time-offset


@dataclass(frozen=True, slots=True)
class StageDone:
    """One stage finished: its name (mail, hunt, network, correlate) and what it gave."""

    name: str
    seconds: float
    verdicts: tuple[MailVerdict, ...] = ()
    events: int = 0
    detections: int = 0
    rules: int = 0
    records: int = 0
    result: CorrelationResult | None = None


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What building the case did."""

    store: Path
    result: CorrelationResult
    verdicts: tuple[MailVerdict, ...]
    events: int
    detections: int
    rules: int
    network_records: int
    files: int
    kinds: tuple[tuple[str, int], ...]
    stages: tuple[StageDone, ...]
    unreadable_mails: int = 0  # mails that could not be read (each a warning in the case)

    @property
    def malicious_mails(self) -> int:
        """Mails judged malicious."""
        return sum(v.verdict == "malicious" for v in self.verdicts)

    def line(self) -> str:
        """One line for the end of the run."""
        return (
            f"{len(self.verdicts)} mails ({self.malicious_mails} malicious"
            + (f", {self.unreadable_mails} unreadable" if self.unreadable_mails else "")
            + "), "
            f"{self.events:,} events, {self.detections:,} detections, "
            f"{self.network_records:,} network records from {self.files} files "
            f"({dict(self.kinds)}); {len(self.result.stories)} stories"
        )


def build_case(
    inputs: CaseInputs,
    store: Path,
    options: CaseOptions,
    on_stage: Callable[[StageDone], None] | None = None,
    *,
    on_progress: Progress | None = None,
    on_warning: OnWarning | None = None,
    on_verdict: Callable[[MailVerdict], None] | None = None,
    on_detection: Callable[[Detection], None] | None = None,
) -> RunSummary:
    """Triage the mail, hunt the event logs, load the network logs and correlate, into
    ``store``; ``on_stage`` hears of each stage as it ends (a command prints there)."""
    warn = on_warning or (lambda w: None)
    stages: list[StageDone] = []

    def done(stage: StageDone) -> None:
        stages.append(stage)
        if on_stage:
            on_stage(stage)

    t0 = time.perf_counter()
    verdicts, unreadable = (
        _triage(inputs.mail, store, f"{options.command}: mail", on_progress, on_verdict, warn)
        if inputs.mail
        else ((), 0)
    )
    done(StageDone("mail", time.perf_counter() - t0, verdicts=verdicts))

    t0 = time.perf_counter()
    events = detections = rules = 0
    if inputs.events:
        from spearhunt.detect.hunt import HuntOptions, hunt

        summary = hunt(
            HuntOptions(
                paths=list(inputs.events),
                rules=list(options.rules),
                store=store,
                command=f"{options.command}: hunt",
                time_offsets=options.time_offsets,
            ),
            on_detection,
            on_progress=on_progress,
            on_warning=warn,
        )
        events, detections, rules = summary.events, summary.detections, summary.rules_loaded
    done(
        StageDone(
            "hunt", time.perf_counter() - t0, events=events, detections=detections, rules=rules
        )
    )

    t0 = time.perf_counter()
    records = (
        ingest_network(inputs.network, store, warn, command=f"{options.command}: network")
        if inputs.network
        else 0
    )
    done(StageDone("network", time.perf_counter() - t0, records=records))

    if not store.exists():
        raise StoreError(
            "no input held mail, event logs or Zeek logs",
            where=", ".join(str(p) for p in (*inputs.mail, *inputs.events, *inputs.network)),
        )
    t0 = time.perf_counter()
    result = correlate_store(store, options.correlate, on_progress=on_progress)
    done(StageDone("correlate", time.perf_counter() - t0, result=result))
    return RunSummary(
        store,
        result,
        verdicts,
        events,
        detections,
        rules,
        records,
        inputs.files,
        inputs.kinds,
        tuple(stages),
        unreadable,
    )


def _triage(
    paths: Sequence[Path],
    store: Path,
    command: str,
    on_progress: Progress | None,
    on_verdict: Callable[[MailVerdict], None] | None,
    on_warning: OnWarning,
) -> tuple[tuple[MailVerdict, ...], int]:
    from spearhunt.detect.mail import MailAnalyzer, load_config
    from spearhunt.detect.mail.run import Triaged, triage
    from spearhunt.store import mail as mail_store

    verdicts = []
    dropped: list[IngestWarning] = []
    for item in triage(paths, MailAnalyzer(load_config(None), None), on_progress=on_progress):
        if isinstance(item, Triaged):
            verdicts.append(item.verdict)
            if on_verdict:
                on_verdict(item.verdict)
        else:  # unreadable (too deep, over a cap, broken): said, and kept in the case
            dropped.append(IngestWarning(item.file, f"mail not analysed: {item.error}"))
            on_warning(dropped[-1])
    mail_store.write(store, verdicts, on_warning=on_warning, command=command, warnings=dropped)
    return tuple(verdicts), len(dropped)


def ingest_network(
    paths: Sequence[Path],
    store: Path,
    on_warning: OnWarning | None = None,
    replace: bool = False,
    command: str = "network",
) -> int:
    """Load the Zeek logs among ``paths`` (files or folders) into the store, as one run;
    files the case holds already are skipped with a warning (or replaced with ``replace``);
    returns the records written."""
    warn = on_warning or (lambda w: None)
    files = expand_paths(list(paths))
    if not files:
        return 0
    records = 0
    with open_case(store, write=True) as case:
        run_id = runs.begin(case, command)
        admission = runs.admit(case, run_id, "network", files, replace)
        for where, message in admission.messages():
            warn(IngestWarning(where, message))
        src = net_store.next_source(case)
        # Archives are opened member by member, each read while it is current; only their
        # Zeek members are read here (the hunt reads their event logs).
        for s in iter_sources(list(admission.read), lambda w: None):
            if s.kind != Kind.ZEEK_TSV:
                continue
            net_store.add_source(case, src, s.name, run_id, str(s.path))
            try:
                records += net_store.write(case, read_zeek(s, warn), src, run_id)
            except IngestError as exc:
                warn(IngestWarning(s.name, exc.message))
            src += 1
        runs.finish(case, run_id)
        case.checkpoint()
    return records
