"""Multi-factor authentication: single-factor sign-ins, legacy protocols, privileged accounts
without MFA, sign-ins tied to a story (the intruder with stolen credentials), and Windows
remote logons by accounts the sign-in logs show no second factor for."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from spearhunt.model.posture import ControlResult, Finding, RemoteLogon, SignIn, unknown
from spearhunt.model.story import Story
from spearhunt.posture.common import (
    merge,
    pct,
    plural,
    stories_of_account,
    stories_of_host,
    stories_of_ip,
)
from spearhunt.posture.identity import is_admin_name, same_person

CONTROL = "mfa"


def assess(
    signins: Sequence[SignIn] | None,
    logons: Sequence[RemoteLogon],
    privileged: frozenset[str],
    stories: Sequence[Story],
) -> ControlResult:
    """Judge MFA from sign-in logs (None: none given) and the case's Windows logons."""
    if not signins:
        return unknown(
            CONTROL,
            "give --signins (Entra ID sign-in logs as portal JSON/CSV or Graph auditLogs/signIns "
            "JSON, or Okta System Log JSON)",
            ("case logons",) if logons else (),
        )
    ok = [s for s in signins if s.success]
    by_account: dict[str, list[SignIn]] = defaultdict(list)
    for s in ok:
        by_account[s.account].append(s)
    findings: list[Finding] = []
    multi = sum(s.factors == "multi" for s in ok)
    single = sum(s.factors == "single" for s in ok)
    # sign-ins tied to a story: from a story's outside address, or by a story's account
    # without a second factor from an address the account never used with one
    mfa_ips: dict[str, set[str | None]] = defaultdict(set)
    for s in ok:
        if s.factors == "multi":
            mfa_ips[s.account].add(s.ip)
    for s in ok:
        if s.factors == "multi":
            continue
        by_ip = stories_of_ip(stories, s.ip)
        of_account = stories_of_account(stories, s.account) if s.factors == "single" else ()
        if not by_ip and of_account and s.ip not in mfa_ips[s.account]:
            findings.append(
                Finding(
                    "high",
                    f"{s.account}, an account of the intrusion, signed in without a second "
                    f"factor from {s.ip or '?'}, an address it never used with one",
                    account=s.account,
                    evidence=_evidence(s),
                    stories=of_account,
                    kind="story_account_signin",
                )
            )
        if by_ip:
            findings.append(
                Finding(
                    "critical",
                    f"{s.account} signed in from {s.ip}, an address of the intrusion, "
                    + ("without a second factor" if s.factors == "single" else "(factors unknown)"),
                    account=s.account,
                    evidence=_evidence(s),
                    stories=merge(by_ip, stories_of_account(stories, s.account)),
                    kind="story_signin",
                )
            )
    known = {f.account for f in findings if f.kind == "story_signin"}
    for account, rows in sorted(by_account.items()):
        singles = [s for s in rows if s.factors == "single"]
        legacy = [s for s in rows if s.legacy]
        admin = is_admin_name(account) or any(
            same_person(account, p) and is_admin_name(p) == is_admin_name(account)
            for p in privileged
        )
        story_ids = stories_of_account(stories, account)
        if singles and account not in known:
            ips = Counter(s.ip or "?" for s in singles)
            findings.append(
                Finding(
                    "critical"
                    if story_ids and admin
                    else "high"
                    if admin or story_ids
                    else "medium",
                    f"{account}: {plural(len(singles), 'successful single-factor sign-in')}"
                    + (" (privileged account)" if admin else "")
                    + (" (account in a story)" if story_ids else ""),
                    account=account,
                    evidence=tuple(f"{ip} x{n}" for ip, n in ips.most_common(5))
                    + _evidence(singles[0]),
                    stories=story_ids,
                    kind="privileged_no_mfa" if admin else "single_factor",
                )
            )
        if legacy:
            clients = Counter(s.client for s in legacy)
            findings.append(
                Finding(
                    "high",
                    f"{account}: {plural(len(legacy), 'sign-in')} over legacy protocols ("
                    + ", ".join(f"{c} x{n}" for c, n in clients.most_common(4))
                    + "), which cannot ask for a second factor",
                    account=account,
                    evidence=_evidence(legacy[0]),
                    stories=story_ids,
                    kind="legacy_protocol",
                )
            )
    findings += _windows_logons(logons, by_account, stories)
    score = pct(multi, multi + single)
    worst = {f.severity for f in findings if f.kind != "remote_logon_no_mfa"}
    if "critical" in worst or any(f.kind == "privileged_no_mfa" for f in findings):
        status = "fail"
    elif findings:
        status = "partial"
    else:
        status = "pass"
    accounts_single = len({s.account for s in ok if s.factors == "single"})
    summary = (
        f"{plural(len(ok), 'successful sign-in')} of {plural(len(by_account), 'account')}: "
        f"{multi} with MFA, {single} single-factor ({plural(accounts_single, 'account')}), "
        f"{sum(s.legacy for s in ok)} over legacy protocols"
    )
    figures = (
        ("signins", str(len(signins))),
        ("successful", str(len(ok))),
        ("mfa", str(multi)),
        ("single_factor", str(single)),
        ("unknown_factor", str(len(ok) - multi - single)),
        ("legacy", str(sum(s.legacy for s in ok))),
        ("accounts_single_factor", str(accounts_single)),
    )
    providers = sorted({s.provider for s in signins})
    inputs = tuple(f"sign-ins ({p})" for p in providers) + (("case logons",) if logons else ())
    return ControlResult(CONTROL, status, score, summary, inputs, tuple(findings), figures)


def _windows_logons(
    logons: Sequence[RemoteLogon], by_account: dict[str, list[SignIn]], stories: Sequence[Story]
) -> list[Finding]:
    """RDP and explicit-credential logons by accounts that never signed in with MFA."""
    grouped: dict[tuple[str, str], list[RemoteLogon]] = defaultdict(list)
    for lg in logons:
        if lg.kind in ("rdp", "explicit"):
            grouped[(lg.account, lg.kind)].append(lg)
    out = []
    for (account, kind), rows in sorted(grouped.items()):
        # an admin account is judged by its own sign-ins, not by its owner's everyday account
        same = [
            a
            for a in by_account
            if same_person(a, account) and is_admin_name(a) == is_admin_name(account)
        ]
        signed = [s for a in same for s in by_account[a]]
        if any(s.factors == "multi" for s in signed):
            continue
        hosts = sorted({lg.host for lg in rows})
        story_ids = merge(
            stories_of_account(stories, account), *(stories_of_host(stories, h) for h in hosts)
        )
        what = "RDP logons" if kind == "rdp" else "logons with explicit credentials"
        out.append(
            Finding(
                "high" if story_ids else "low",
                f"{plural(len(rows), what[:-1], what)} by {account} on {', '.join(hosts[:5])}; "
                + (
                    "its sign-ins show no second factor"
                    if signed
                    else "no sign-in with a second factor on record"
                ),
                host=hosts[0] if len(hosts) == 1 else None,
                account=account,
                evidence=tuple(
                    f"{lg.time.isoformat(timespec='seconds') + 'Z' if lg.time else '?'} {lg.host} from {lg.src_ip or '?'}"
                    for lg in rows[:5]
                ),
                stories=story_ids,
                kind="remote_logon_no_mfa",
            )
        )
    return out


def _evidence(s: SignIn) -> tuple[str, ...]:
    when = s.time.isoformat(timespec="seconds") + "Z" if s.time else "?"
    return (
        f"{when} {s.provider} sign-in from {s.ip or '?'} to {s.app or '?'} via {s.client or '?'} ({s.factors} factor)",
    )
