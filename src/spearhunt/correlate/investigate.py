"""Everything at once over a folder of evidence: mail triage, hunt, Zeek ingest, correlation."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from spearhunt.correlate.config import CorrelateOptions
from spearhunt.correlate.run import correlate_store
from spearhunt.errors import IngestError, StoreError
from spearhunt.ingest.archives import iter_sources
from spearhunt.ingest.sources import EVENT_KINDS, Kind, expand_paths, sniff
from spearhunt.ingest.zeek import read_zeek
from spearhunt.model import IngestWarning
from spearhunt.model.callbacks import Progress
from spearhunt.model.story import CorrelationResult
from spearhunt.store import network as net_store
from spearhunt.store.case import open_case

# the hunt opens archives and reads their event logs
EVENT_INPUTS = frozenset({*EVENT_KINDS, Kind.ARCHIVE})


def investigate(
    paths: Sequence[str],
    store: Path,
    opts: CorrelateOptions,
    rules: Sequence[Path] = (),
    on_progress: Progress | None = None,
    on_warning: Callable[[IngestWarning], None] | None = None,
) -> tuple[CorrelationResult, str]:
    """Sniff every input, run each stage on its files, correlate; returns the result and a summary line."""
    from spearhunt.detect.hunt import HuntOptions, hunt
    from spearhunt.detect.mail import MailAnalyzer, load_config
    from spearhunt.detect.mail.run import Triaged, triage
    from spearhunt.store import mail as mail_store

    sources = [sniff(p) for p in expand_paths(list(paths))]
    kinds = Counter(s.kind for s in sources)
    warn = on_warning or (lambda w: None)
    for s in sources:
        if s.problem:  # FIFO, dangling link, empty or damaged file: said, never silent
            warn(IngestWarning(s.name, s.problem))
    mails = [s.path for s in sources if s.kind == Kind.MAIL]
    verdicts = []
    if mails:
        verdicts = [
            t.verdict
            for t in triage(mails, MailAnalyzer(load_config(None), None), on_progress=on_progress)
            if isinstance(t, Triaged)
        ]
        mail_store.write(store, verdicts)
    events = [str(s.path) for s in sources if s.kind in EVENT_INPUTS]
    summary = None
    if events:
        summary = hunt(
            HuntOptions(paths=events, rules=list(rules), store=store, command="investigate"),
            None,
            on_progress=on_progress,
            on_warning=warn,
        )
    records = ingest_network(
        [s.path for s in sources if s.kind in (Kind.ZEEK_TSV, Kind.ARCHIVE)], store, warn
    )
    if not store.exists():
        raise StoreError("no input held mail, event logs or Zeek logs", where=", ".join(paths))
    result = correlate_store(store, opts, on_progress=on_progress)
    line = (
        f"{len(verdicts)} mails ({sum(v.verdict == 'malicious' for v in verdicts)} malicious), "
        f"{summary.events if summary else 0:,} events, {summary.detections if summary else 0:,} detections, "
        f"{records:,} network records from {len(sources)} files ({ {k.value: n for k, n in kinds.items()} }); "
        f"{len(result.stories)} stories"
    )
    return result, line


def ingest_network(
    paths: Sequence[Path], store: Path, on_warning: Callable[[IngestWarning], None] | None = None
) -> int:
    """Load the Zeek logs among ``paths`` (files or folders) into the store; records written."""
    warn = on_warning or (lambda w: None)
    # Archives are opened member by member, each read while it is current; only their Zeek
    # members are read here (the hunt reads their event logs and says what neither reads).
    zeek = (s for s in iter_sources(list(paths), lambda w: None) if s.kind == Kind.ZEEK_TSV)
    first = next(zeek, None)
    if first is None:
        return 0
    records = 0
    with open_case(store, write=True) as case:
        base = net_store.next_source(case)
        for i, s in enumerate(itertools.chain([first], zeek)):
            try:
                records += net_store.write(case, read_zeek(s, warn), base + i)
            except IngestError as exc:
                warn(IngestWarning(s.name, exc.message))
        case.checkpoint()
    return records
