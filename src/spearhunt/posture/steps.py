"""Which defence would have stopped which step of each story, read off the controls' findings."""

from __future__ import annotations

from collections.abc import Sequence

from spearhunt.model.posture import ControlResult, Finding, HostSources, StepVerdict
from spearhunt.model.story import Story
from spearhunt.posture.common import MOVE_PORTS
from spearhunt.posture.coverage import sources_of
from spearhunt.posture.identity import same_person


def _of(controls: Sequence[ControlResult], name: str) -> ControlResult | None:
    return next((c for c in controls if c.control == name), None)


def _find(
    c: ControlResult | None,
    story: str,
    kinds: tuple[str, ...],
    host: str | None = None,
    account: str | None = None,
) -> Finding | None:
    if c is None:
        return None
    for f in c.findings:
        if f.kind in kinds and (story in f.stories or not f.stories):
            if host is not None and f.host not in (host, None):
                continue
            if account is not None and f.account and not same_person(f.account, account):
                continue
            return f
    return None


def story_steps(
    stories: Sequence[Story], controls: Sequence[ControlResult], hosts: Sequence[HostSources]
) -> tuple[StepVerdict, ...]:
    """One row per (story step, defence) that the evidence speaks to."""
    out: list[StepVerdict] = []
    srcs = {h.host: sources_of(h) for h in hosts}
    phish, mfa, seg = (
        _of(controls, "phishing_reporting"),
        _of(controls, "mfa"),
        _of(controls, "segmentation"),
    )
    patch, cov = _of(controls, "patching"), _of(controls, "detection_coverage")

    def seen(host: str) -> StepVerdict | None:
        if cov is None or cov.status == "unknown":
            return None
        s = srcs.get(host)
        if s is None:
            return StepVerdict(
                story.id, step, "detection_coverage", "blind", f"{host} sent no logs to the case"
            )
        if s["sysmon"]:
            return StepVerdict(
                story.id,
                step,
                "detection_coverage",
                "would have shown",
                f"{host} logs Sysmon ({s['sysmon']})",
            )
        return StepVerdict(story.id, step, "detection_coverage", "blind", f"{host} has no Sysmon")

    for story in stories:
        pz = story.patient_zero
        step = f"initial access on {pz.host}" + (
            f": mail {pz.mail_subject!r}" if pz.mail_subject else ""
        )
        if phish is not None and pz.message_id:
            f = _find(
                phish, story.id, ("opened_not_reported", "opened_before_report"), host=pz.host
            )
            if f is not None:
                out.append(
                    StepVerdict(story.id, step, "phishing_reporting", "did not stop", f.title)
                )
            elif phish.status == "unknown":
                out.append(
                    StepVerdict(story.id, step, "phishing_reporting", "unknown", phish.summary)
                )
            else:
                out.append(
                    StepVerdict(
                        story.id, step, "phishing_reporting", "would have shown", phish.summary
                    )
                )
        if patch is not None and patch.status != "unknown":
            f = _find(
                patch,
                story.id,
                ("kev_overdue", "kev_vulnerable", "exploitable_component_running"),
                host=pz.host,
            )
            if f is not None:
                # a known exploited hole on patient zero; the case does not prove it was the way in
                out.append(
                    StepVerdict(
                        story.id, step, "patching", "could have stopped", f"unpatched: {f.title}"
                    )
                )
        v = seen(pz.host)
        if v:
            out.append(v)
        for f in _story_signins(mfa, story.id):
            out.append(
                StepVerdict(
                    story.id, f"sign-in as {f.account}", "mfa", "would have stopped", f.title
                )
            )
        for h in story.hosts:
            if not h.reached_from:
                continue
            proto = MOVE_PORTS.get(h.via or "", (h.via or "?", 0))[0]
            step = f"{h.reached_from} -> {h.host} over {proto}" + (
                f" as {h.account}" if h.account else ""
            )
            if seg is not None and seg.status != "unknown":
                # Only the move's own finding speaks to it: another flow of the story that no
                # allow line permits (servers -> internet on 80, say) says nothing about
                # whether this move could have been stopped.
                f = _find(seg, story.id, ("story_move_allowed", "story_move_blocked"), host=h.host)
                if f is not None and f.kind == "story_move_allowed":
                    out.append(StepVerdict(story.id, step, "segmentation", "did not stop", f.title))
                elif f is not None:
                    out.append(
                        StepVerdict(
                            story.id,
                            step,
                            "segmentation",
                            "would have stopped",
                            f"if enforced: {f.title}",
                        )
                    )
            if mfa is not None and h.account:
                f = _find(
                    mfa,
                    story.id,
                    ("remote_logon_no_mfa", "privileged_no_mfa", "single_factor"),
                    account=h.account,
                )
                if f is not None:
                    out.append(StepVerdict(story.id, step, "mfa", "did not stop", f.title))
                elif mfa.status == "unknown":
                    out.append(StepVerdict(story.id, step, "mfa", "unknown", mfa.summary))
            v = seen(h.host)
            if v:
                out.append(v)
        for x in story.exfiltration:
            step = f"exfiltration {x.host} -> {x.destination}"
            if seg is not None and seg.status != "unknown":
                f = _find(
                    seg, story.id, ("story_exfil_allowed", "story_exfil_blocked"), host=x.host
                )
                if f is not None:
                    verdict = (
                        "did not stop" if f.kind == "story_exfil_allowed" else "would have stopped"
                    )
                    out.append(StepVerdict(story.id, step, "segmentation", verdict, f.title))
            v = seen(x.host)
            if v:
                out.append(v)
    return tuple(out)


def _story_signins(mfa: ControlResult | None, story: str) -> list[Finding]:
    if mfa is None:
        return []
    return [f for f in mfa.findings if f.kind == "story_signin" and story in f.stories]
