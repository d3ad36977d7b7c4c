"""The report document: the frozen correlation result plus aggregates read from the case store.

Renderers (html, navigator, stix, timeline) only read a :class:`CaseReport`, or stream rows
with :func:`timeline_rows`; nothing here re-runs detection or correlation. Everything that
came from logs or mail is kept exact: escaping and defanging are the renderers' business.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import orjson

from spearhunt import __version__
from spearhunt.errors import StoreError
from spearhunt.model.detection import LEVEL_RANK
from spearhunt.model.hosts import short_host
from spearhunt.model.mail import MailVerdict
from spearhunt.model.posture import PostureResult
from spearhunt.model.story import CorrelationResult, Evidence, Story
from spearhunt.report.attack import is_technique, matrix, technique_score
from spearhunt.report.detections import details
from spearhunt.report.shared_infra import host_of, is_shared
from spearhunt.store import detections, events, results
from spearhunt.store import mail as mail_store
from spearhunt.store.case import Case, open_case

log = logging.getLogger(__name__)

# Levels given to story evidence that did not come from a rule, for scoring techniques.
KIND_LEVEL = {"mail": "high", "network": "medium", "event": "low"}
# Which evidence an HTML table keeps first when a story has more than it shows.
KIND_PRIORITY = {"mail": 0, "correlation": 1, "network": 1, "alert": 2, "event": 3}
FETCH = 5000


def host_label(name: str | None) -> str:
    """A host as reports show it: its key (``model.hosts.short_host``), ``?`` when unknown."""
    return short_host(name) or "?"


def max_level(levels: list[str]) -> str:
    """The worst of some rule levels."""
    return max(levels, key=lambda v: LEVEL_RANK.get(v, 0)) if levels else "informational"


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """One line of a story's evidence table, with the event's key fields when it has an event."""

    ts: dt.datetime | None
    host: str
    kind: str
    level: str
    what: str
    ref: str
    tactics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TechniqueUse:
    """A technique under one tactic: how often, how bad, which rules and evidence."""

    technique: str
    tactic: str
    count: int
    level: str
    rules: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        """Frequency and severity in one number (see ``attack.technique_score``)."""
        return technique_score(self.level, self.count)


@dataclass(frozen=True, slots=True)
class HostTactics:
    """Detections on one host counted by tactic, with its most frequent rules."""

    host: str
    total: int
    level: str
    by_tactic: tuple[tuple[str, int], ...]
    top_rules: tuple[tuple[str, int], ...] = ()

    def count(self, tactic: str) -> int:
        """Detections of this tactic on the host."""
        return dict(self.by_tactic).get(tactic, 0)


@dataclass(frozen=True, slots=True)
class Indicator:
    """An IOC worth sharing: kind (email, url, domain, ipv4, ipv6, file, filename) and value.

    File indicators carry their hashes (``(("SHA-256", ...), ("MD5", ...))``) with the
    value being the strongest one."""

    kind: str
    value: str
    context: tuple[str, ...] = ()
    stories: tuple[str, ...] = ()
    hashes: tuple[tuple[str, str], ...] = ()
    name: str | None = None


@dataclass(frozen=True, slots=True)
class StoryReport:
    """One story and what the report shows with it."""

    story: Story
    mail: MailVerdict | None
    evidence: tuple[EvidenceRow, ...]
    evidence_total: int
    techniques: tuple[TechniqueUse, ...]
    hosts: tuple[HostTactics, ...]
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True, slots=True)
class CaseReport:
    """Everything every report format of one case (or one story of it) reads."""

    name: str
    generated: dt.datetime
    correlated: bool
    stories: tuple[StoryReport, ...]
    stories_total: int
    techniques: tuple[TechniqueUse, ...]
    hosts: tuple[HostTactics, ...]
    mails: tuple[MailVerdict, ...]
    mail_counts: tuple[tuple[str, int], ...]
    indicators: tuple[Indicator, ...]
    detections: int
    rules: int
    hosts_total: int
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    result: CorrelationResult = field(compare=False)
    story_id: str | None = None
    result_created: dt.datetime | None = None
    warnings: int = 0
    version: str = __version__
    # With no story to show, the worst detections (one per rule and host) with their event's
    # details: an incident lead must still see what fired and on what command line.
    top_detections: tuple[EvidenceRow, ...] = ()
    # Well-known shared cloud/CDN hosts seen in the case: context, not indicators (blocking
    # s3.<region>.amazonaws.com breaks S3), unless a rule of the case names them.
    shared_infrastructure: tuple[Indicator, ...] = ()
    posture: PostureResult | None = None  # the last ``spearhunt posture`` result saved

    @property
    def scope(self) -> str:
        """``case`` or the story id the report is limited to."""
        return self.story_id or "case"


def load(
    store: Path, story_id: str | None = None, *, max_stories: int = 10, max_evidence: int = 300
) -> CaseReport:
    """Build the report document of ``store`` (limited to one story when ``story_id`` is given).

    ``max_stories`` stories get a full section, each with at most ``max_evidence`` evidence rows
    (the timeline files carry everything)."""
    with open_case(store) as case, case.errors("cannot read case store"):
        return _Loader(case, store, max_evidence).build(story_id, max_stories)


class _Loader:
    def __init__(self, case: Case, store: Path, max_evidence: int) -> None:
        self.case = case
        self.store = store
        self.max_evidence = max_evidence
        self._rule_text: str | None = None

    def build(self, story_id: str | None, max_stories: int) -> CaseReport:
        result, created = self._result()
        stories = result.stories
        if story_id is not None:
            story = result.story(story_id)
            if story is None:
                ids = ", ".join(s.id for s in result.stories[:10]) or "none"
                raise StoreError(
                    f"no story {story_id!r} in the saved correlation result (ids: {ids})",
                    where=str(self.store),
                )
            stories = (story,)
        shown = tuple(self._story(s) for s in stories[:max_stories])
        hosts_filter = {short_host(h.host) for h in stories[0].hosts} if story_id else None
        context: tuple[Indicator, ...] = ()
        if story_id:
            techniques = shown[0].techniques
            host_rows = shown[0].hosts
            indicators = shown[0].indicators
            mails: tuple[MailVerdict, ...] = (shown[0].mail,) if shown[0].mail else ()
        else:
            techniques = self._case_techniques(result)
            host_rows = self._host_tactics(None)
            mails = self._mails()
            indicators, context = self._indicators(result.stories, mails, with_context=True)
        counts = detections.counts(self.case, hosts_filter)
        warnings = detections.warning_count(self.case)
        return CaseReport(
            name=self.store.name,
            generated=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            correlated=created is not None or bool(result.stories),
            stories=shown,
            stories_total=len(stories),
            techniques=techniques,
            hosts=host_rows,
            mails=mails,
            mail_counts=self._mail_counts(),
            indicators=indicators,
            detections=counts.detections,
            rules=counts.rules,
            hosts_total=counts.hosts,
            first_seen=counts.first_seen,
            last_seen=counts.last_seen,
            result=result,
            story_id=stories[0].id if story_id else None,
            result_created=created,
            warnings=warnings,
            top_detections=self._top_detections() if not shown else (),
            shared_infrastructure=context,
            posture=self._posture(story_id and stories[0].id),
        )

    def _posture(self, story_id: str | None) -> PostureResult | None:
        from spearhunt.store.posture import saved_result

        doc = saved_result(self.case)
        if doc is None:
            return None
        result = PostureResult.from_dict(doc)
        if story_id:  # a story's report shows that story's steps only
            result = replace(result, steps=tuple(s for s in result.steps if s.story == story_id))
        return result

    # -- store reads ---------------------------------------------------------------------------
    def _result(self) -> tuple[CorrelationResult, dt.datetime | None]:
        saved = results.latest(self.case)
        if saved is None:
            log.info("%s has no correlation result; the report has no stories", self.store)
            return CorrelationResult(stories=()), None
        return saved

    def _host_tactics(self, hosts: set[str] | None) -> tuple[HostTactics, ...]:
        per_host: dict[str, Counter[str]] = defaultdict(Counter)
        for host, tactic, n in detections.host_tactics(self.case, hosts):
            per_host[host_label(host)][tactic] += n
        rules: dict[str, Counter[str]] = defaultdict(Counter)
        levels: dict[str, list[str]] = defaultdict(list)
        totals: Counter[str] = Counter()
        for host, title, level, n in detections.host_rules(self.case, hosts):
            key = host_label(host)
            rules[key][title] += n
            levels[key].append(level)
            totals[key] += n
        order = matrix().order
        out = [
            HostTactics(
                host,
                totals[host],
                max_level(levels[host]),
                tuple(sorted(per_host[host].items(), key=lambda kv: order(kv[0]))),
                tuple(rules[host].most_common(3)),
            )
            for host in totals
        ]
        out.sort(key=lambda h: (-LEVEL_RANK.get(h.level, 0), -h.total, h.host))
        return tuple(out)

    def _case_techniques(self, result: CorrelationResult) -> tuple[TechniqueUse, ...]:
        acc = _TechniqueAcc()
        for tech, tactics, level, title, host, n, first in detections.technique_uses(self.case):
            acc.add(
                tech,
                tactics,
                level,
                n,
                rule=title,
                host=host_label(host),
                example=f"{host_label(host)} {_hhmm(first)} {title}",
            )
        for story in result.stories:
            for e in story.evidence:
                if e.kind not in ("alert",):  # alerts are the detections counted above
                    acc.add_evidence(e, story.id)
        return acc.done()

    def _mails(self) -> tuple[MailVerdict, ...]:
        return tuple(mail_store.top_verdicts(self.case, 50))

    def _mail(self, message_id: str | None) -> MailVerdict | None:
        return mail_store.verdict(self.case, message_id) if message_id else None

    def _mail_counts(self) -> tuple[tuple[str, int], ...]:
        counts = mail_store.verdict_counts(self.case)
        if not counts:
            return ()
        return tuple((v, counts.get(v, 0)) for v in ("malicious", "suspicious", "clean"))

    def _top_detections(self, limit: int = 25) -> tuple[EvidenceRow, ...]:
        top = detections.top_detections(self.case, limit)
        detail = self._event_details([d.eid for d in top])
        return tuple(
            EvidenceRow(
                d.ts,
                short_host(d.computer) if d.computer else "-",
                "alert",
                d.level or "informational",
                (d.title or d.rule_id or "?") + (f" (x{d.count:,})" if d.count > 1 else ""),
                f"alert:{d.eid}",
                d.tactics,
                d.techniques,
                detail.get(d.eid, ""),
            )
            for d in top
        )

    def _event_details(self, eids: list[int]) -> dict[int, str]:
        out = {}
        for eid, (fields, *_) in events.event_fields(self.case, eids).items():
            try:
                event = orjson.loads(fields) if fields else {}
            except orjson.JSONDecodeError:
                continue
            if isinstance(event, dict):
                out[int(eid)] = details(event, limit=4)
        return out

    # -- one story -----------------------------------------------------------------------------
    def _story(self, story: Story) -> StoryReport:
        evidence = list(story.evidence)
        if len(evidence) > self.max_evidence:
            keep = sorted(
                evidence,
                key=lambda e: (KIND_PRIORITY.get(e.kind, 3), -LEVEL_RANK.get(e.level or "", 0)),
            )[: self.max_evidence]
            evidence = sorted(keep, key=lambda e: (e.ts is None, e.ts or dt.datetime.min))
        detail = self._event_details(
            [eid for e in evidence if (eid := event_id(e.ref)) is not None]
        )
        mail = self._mail(story.patient_zero.message_id)
        rows = tuple(
            EvidenceRow(
                e.ts,
                short_host(e.host) if e.host else "-",
                e.kind,
                e.level or KIND_LEVEL.get(e.kind, "informational"),
                e.what,
                e.ref,
                e.tactics,
                e.techniques,
                detail.get(event_id(e.ref) or -1, ""),
            )
            for e in evidence
        )
        acc = _TechniqueAcc()
        for e in story.evidence:
            acc.add_evidence(e, story.id)
        hosts = {short_host(h.host) for h in story.hosts}
        return StoryReport(
            story,
            mail,
            rows,
            len(story.evidence),
            acc.done(),
            self._host_tactics(hosts),
            self._indicators((story,), (mail,) if mail else ())[0],
        )

    # -- indicators ----------------------------------------------------------------------------
    def _indicators(
        self,
        stories: tuple[Story, ...],
        mails: tuple[MailVerdict, ...],
        *,
        with_context: bool = False,
    ) -> tuple[tuple[Indicator, ...], tuple[Indicator, ...]]:
        """(indicators, shared-infrastructure context) of some stories and mails."""
        found = self._collect_indicators(stories, mails)
        if self._rule_text is None:
            self._rule_text = detections.rule_text(self.case)
        named = self._rule_text
        shared = [
            i
            for i in found
            if i.kind == "domain"
            and is_shared(host := host_of(i.kind, i.value))
            and (host or "") not in named
        ]
        keep = tuple(i for i in found if i not in shared)
        return keep, tuple(shared) if with_context else ()

    def _collect_indicators(
        self, stories: tuple[Story, ...], mails: tuple[MailVerdict, ...]
    ) -> tuple[Indicator, ...]:
        acc = _IndicatorAcc()
        by_mail: dict[str, list[str]] = defaultdict(list)
        for s in stories:
            if s.patient_zero.message_id:
                by_mail[s.patient_zero.message_id].append(s.id)
        story_mails = [m for m in (self._mail(mid) for mid in by_mail) if m]
        seen: set[str | None] = set()
        for mail in [*story_mails, *mails]:
            if mail.message_id in seen:
                continue
            seen.add(mail.message_id)
            sids = tuple(by_mail.get(mail.message_id or "", ()))
            where = f"{mail.verdict} mail {mail.message_id or mail.file}"
            grouped: set[str | None] = set()
            for att in mail.all_attachments():
                acc.file(att.sha256, att.md5, att.sha1, att.name, f"attachment of {where}", sids)
                grouped.update((att.sha256, att.md5, att.sha1))
            for ioc in mail.iocs:
                if ioc.value in grouped:
                    continue
                acc.mail_ioc(ioc.kind, ioc.value, where, sids)
        for s in stories:
            for x in s.exfiltration:
                why = f"exfiltration from {short_host(x.host)} ({x.bytes:,} bytes)"
                if x.domain:
                    acc.add("domain", x.domain, why, (s.id,))
                if x.ip:
                    acc.add_ip(x.ip, why, (s.id,))
                if not x.domain and not x.ip:
                    acc.add_host(x.destination, why, (s.id,))
            for b in s.beacons:
                why = f"beaconing from {short_host(b.host)} every ~{b.interval_s:.0f}s"
                acc.add_host(b.destination, why, (s.id,))
                if b.ip:
                    acc.add_ip(b.ip, why, (s.id,))
        return acc.done()


def event_id(ref: str) -> int | None:
    """The event row id in ``alert:<eid>:<rule>`` and ``event:<eid>`` refs."""
    kind, _, rest = ref.partition(":")
    if kind not in ("alert", "event"):
        return None
    head = rest.split(":", 1)[0]
    return int(head) if head.isdigit() else None


def _hhmm(ts: dt.datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M") if ts else "-"


class _TechniqueAcc:
    """Adds up technique uses per (technique, tactic)."""

    def __init__(self) -> None:
        self.count: Counter[tuple[str, str]] = Counter()
        self.levels: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.rules: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.hosts: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.examples: dict[tuple[str, str], list[str]] = defaultdict(list)

    def add(
        self,
        technique: str,
        tactics: tuple[str, ...],
        level: str,
        n: int,
        *,
        rule: str | None = None,
        host: str | None = None,
        example: str | None = None,
    ) -> None:
        if not is_technique(technique):
            log.debug("not an ATT&CK technique id, left out: %r", technique[:40])
            return
        m = matrix()
        for tactic in m.place(technique, tactics) or ("other",):
            key = (technique.upper(), tactic)
            self.count[key] += n
            self.levels[key].append(level)
            if rule:
                self.rules[key][rule] += n
            if host:
                self.hosts[key].add(host)
            if example and len(self.examples[key]) < 3:
                self.examples[key].append(example)

    def add_evidence(self, e: Evidence, story_id: str) -> None:
        level = e.level or KIND_LEVEL.get(e.kind, "informational")
        host = short_host(e.host) if e.host else None
        label = e.what if e.kind in ("alert", "correlation") else f"{e.kind}: {e.what}"
        for tech in e.techniques:
            self.add(
                tech,
                e.tactics,
                level,
                1,
                rule=e.what if e.kind in ("alert", "correlation") else None,
                host=host,
                example=f"{story_id} {host or '-'} {_hhmm(e.ts)} {label}"[:200],
            )

    def done(self) -> tuple[TechniqueUse, ...]:
        m = matrix()
        out = [
            TechniqueUse(
                t,
                tac,
                n,
                max_level(self.levels[(t, tac)]),
                tuple(r for r, _ in self.rules[(t, tac)].most_common(5)),
                tuple(self.examples[(t, tac)]),
                tuple(sorted(self.hosts[(t, tac)]))[:20],
            )
            for (t, tac), n in self.count.items()
        ]
        out.sort(key=lambda u: (m.order(u.tactic), -u.score, u.technique))
        return tuple(out)


class _IndicatorAcc:
    """Collects indicators, merging contexts and stories of the same value."""

    MAIL_KINDS: ClassVar[dict[str, str]] = {
        "sender": "email",
        "reply_to": "email",
        "return_path": "email",
        "url": "url",
        "domain": "domain",
        "filename": "filename",
    }
    HASHES: ClassVar[dict[str, str]] = {"sha256": "SHA-256", "sha1": "SHA-1", "md5": "MD5"}

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def add(
        self,
        kind: str,
        value: str,
        context: str,
        stories: tuple[str, ...],
        hashes: tuple[tuple[str, str], ...] = (),
        name: str | None = None,
    ) -> None:
        value = value.strip()
        if not value:
            return
        key = (kind, value.lower() if kind in ("domain", "email") else value)
        item = self.items.setdefault(
            key,
            {
                "kind": kind,
                "value": value,
                "context": [],
                "stories": [],
                "hashes": hashes,
                "name": name,
            },
        )
        if context not in item["context"] and len(item["context"]) < 5:
            item["context"].append(context)
        item["stories"].extend(s for s in stories if s not in item["stories"])

    def add_ip(self, value: str, context: str, stories: tuple[str, ...]) -> None:
        try:
            ip = ipaddress.ip_address(value.strip())
        except ValueError:
            return
        self.add("ipv4" if ip.version == 4 else "ipv6", str(ip), context, stories)

    def add_host(self, value: str, context: str, stories: tuple[str, ...]) -> None:
        try:
            ipaddress.ip_address(value.strip())
        except ValueError:
            self.add("domain", value, context, stories)
        else:
            self.add_ip(value, context, stories)

    def file(
        self, sha256: str, md5: str, sha1: str, name: str, context: str, stories: tuple[str, ...]
    ) -> None:
        hashes = tuple(
            (alg, v) for alg, v in (("SHA-256", sha256), ("MD5", md5), ("SHA-1", sha1)) if v
        )
        if hashes:
            self.add("file", hashes[0][1], context, stories, hashes, name)

    def mail_ioc(self, kind: str, value: str, context: str, stories: tuple[str, ...]) -> None:
        if kind in self.HASHES:
            self.add("file", value, context, stories, ((self.HASHES[kind], value),))
        elif kind == "ip":
            self.add_ip(value, context, stories)
        elif kind in self.MAIL_KINDS:
            self.add(self.MAIL_KINDS[kind], value, context, stories)

    def done(self) -> tuple[Indicator, ...]:
        order = {"file": 0, "url": 1, "domain": 2, "ipv4": 3, "ipv6": 3, "email": 4, "filename": 5}
        out = [
            Indicator(
                i["kind"],
                i["value"],
                tuple(i["context"]),
                tuple(i["stories"]),
                i["hashes"],
                i["name"],
            )
            for i in self.items.values()
        ]
        out.sort(key=lambda i: (not i.stories, order.get(i.kind, 9), i.value))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One line of a timeline: a detection, or story evidence that is not a detection."""

    ts: dt.datetime | None
    host: str
    kind: str  # detection, mail, network, correlation, event
    level: str
    title: str
    rule_id: str = ""
    rule_file: str = ""
    tactics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    detail: str = ""
    channel: str = ""
    event_id: int | None = None
    record_id: int | None = None
    source: str = ""
    stories: tuple[str, ...] = ()
    ref: str = ""


def timeline_rows(store: Path, report: CaseReport) -> Iterator[TimelineRow]:
    """Every detection of the case (or the story's evidence) and the stories' other evidence,
    in time order, streamed from the store."""
    stories = (
        report.result.stories if report.story_id is None else tuple(s.story for s in report.stories)
    )
    refs: dict[str, list[str]] = defaultdict(list)
    extra: list[TimelineRow] = []
    for s in stories:
        for e in s.evidence:
            refs[e.ref].append(s.id)
    for s in stories:
        for e in s.evidence:
            if e.kind == "alert" and report.story_id is None:
                continue  # the detection row below carries it
            extra.append(
                TimelineRow(
                    e.ts,
                    short_host(e.host) if e.host else "-",
                    e.kind if e.kind != "alert" else "detection",
                    e.level or KIND_LEVEL.get(e.kind, "informational"),
                    e.what,
                    tactics=e.tactics,
                    techniques=e.techniques,
                    stories=tuple(refs[e.ref]),
                    ref=e.ref,
                )
            )
    extra.sort(key=_row_key)
    with open_case(store) as case:
        rows: Iterator[TimelineRow] = iter(())
        if report.story_id is None:
            rows = _detection_rows(case, refs)
        yield from _merge(rows, iter(extra), case)


def _row_key(r: TimelineRow) -> tuple[bool, dt.datetime]:
    return (r.ts is None, r.ts or dt.datetime.min)


def _detection_rows(case: Case, refs: dict[str, list[str]]) -> Iterator[TimelineRow]:
    for d in detections.timeline(case):
        detail = ""
        if d.fields:
            try:
                event = orjson.loads(d.fields)
            except orjson.JSONDecodeError:
                event = None
            if isinstance(event, dict):
                detail = details(event)
        ref = f"alert:{d.eid}:{d.rule_id}"
        yield TimelineRow(
            d.ts,
            d.computer or "-",
            "detection",
            d.level or "informational",
            d.title or "",
            d.rule_id or "",
            Path(d.rule_file).name if d.rule_file else "",
            d.tactics,
            d.techniques,
            detail,
            d.channel or "",
            d.event_id,
            d.record_id,
            d.source or "",
            tuple(refs.get(ref, ())),
            ref,
        )


def _merge(
    a: Iterator[TimelineRow],
    b: Iterator[TimelineRow],
    case: Case,
) -> Iterator[TimelineRow]:
    """Two time-ordered streams as one; evidence rows of events get their event's details."""
    import heapq

    def fill(rows: Iterator[TimelineRow]) -> Iterator[TimelineRow]:
        batch: list[TimelineRow] = []
        for r in rows:
            batch.append(r)
            if len(batch) >= FETCH:
                yield from _with_details(batch, case)
                batch = []
        yield from _with_details(batch, case)

    yield from heapq.merge(a, fill(b), key=_row_key)


def _with_details(batch: list[TimelineRow], case: Case) -> list[TimelineRow]:
    import dataclasses

    eids = [eid for r in batch if (eid := event_id(r.ref)) is not None]
    if not eids:
        return batch
    info = {}
    for eid, (raw, channel, evid, rec) in events.event_fields(case, eids).items():
        try:
            event = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            event = {}
        info[int(eid)] = (
            details(event) if isinstance(event, dict) else "",
            channel or "",
            evid,
            rec,
        )
    out = []
    for r in batch:
        hit = info.get(event_id(r.ref) or -1)
        out.append(
            dataclasses.replace(r, detail=hit[0], channel=hit[1], event_id=hit[2], record_id=hit[3])
            if hit
            else r
        )
    return out
