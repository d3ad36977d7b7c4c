"""Sign-in logs: Entra ID (portal JSON/CSV export, Graph ``auditLogs/signIns``) and Okta's
System Log (JSON from ``/api/v1/logs`` or the admin console's export).

Field names are the vendors': Graph's ``createdDateTime``, ``userPrincipalName``,
``ipAddress``, ``clientAppUsed``, ``authenticationRequirement``, ``conditionalAccessStatus``,
``status.errorCode``; the portal CSV's "Date (UTC)", "Username", "IP address", "Client app",
"Status", "Authentication requirement"; Okta's ``published``, ``eventType``,
``actor.alternateId``, ``client.ipAddress``, ``outcome.result``,
``authenticationContext.externalSessionId``.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from spearhunt.errors import IngestError
from spearhunt.ingest.posture.common import (
    WarningSink,
    csv_rows,
    files_under,
    json_lines,
    load_json,
    parse_time,
    read_text,
    text_of,
)
from spearhunt.model import IngestWarning
from spearhunt.model.posture import SignIn

# Entra's clientAppUsed values that are legacy authentication (no modern auth, no MFA
# prompt possible): Microsoft's list in "Block legacy authentication with Conditional Access".
LEGACY_CLIENTS = frozenset(
    c.lower()
    for c in (
        "Authenticated SMTP",
        "AutoDiscover",
        "Exchange ActiveSync",
        "Exchange Online PowerShell",
        "Exchange Web Services",
        "IMAP4",
        "IMAP",
        "MAPI Over HTTP",
        "Offline Address Book",
        "Other clients",
        "Outlook Anywhere (RPC over HTTP)",
        "POP3",
        "POP",
        "Reporting Web Services",
        "Universal Outlook",
        "SMTP",
    )
)
OKTA_MFA_EVENTS = frozenset(
    {
        "user.authentication.auth_via_mfa",
        "user.authentication.verify",
        "system.push.send_factor_verify_push",
    }
)
OKTA_SESSION_START = "user.session.start"


def read_signins(paths: list[Path], on_warning: WarningSink) -> Iterator[SignIn]:
    """Every sign-in in the files (and folders of .json/.jsonl/.csv) given; each file's format
    is sniffed from its content."""
    for path in files_under(paths, (".json", ".jsonl", ".csv", ".gz")):
        try:
            yield from _read_file(path, on_warning)
        except IngestError as exc:
            on_warning(IngestWarning(str(path), f"file skipped: {exc.message}"))


def _read_file(path: Path, on_warning: WarningSink) -> Iterator[SignIn]:
    text = read_text(path)
    head = text.lstrip()[:1]
    if head in ("{", "["):
        records = _json_records(path, text, on_warning)
        first = next(records, None)
        if first is None:
            return
        line, rec = first
        items = [(line, rec), *records]
        if "eventType" in rec or "actor" in rec:
            yield from _okta(path, items, on_warning)
        else:
            yield from _entra_json(path, items, on_warning)
    else:
        yield from _entra_csv(path, text, on_warning)


def _json_records(
    path: Path, text: str, on_warning: WarningSink
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Objects of a JSON array, a Graph page (``{"value": [...]}``) or JSON lines."""
    stripped = text.lstrip()
    if stripped.startswith("[") or (stripped.startswith("{") and '"value"' in stripped[:200_000]):
        doc = load_json(path)
        items = doc.get("value") if isinstance(doc, dict) else doc
        if isinstance(doc, dict) and items is None:
            items = [doc]
        if not isinstance(items, list):
            raise IngestError("JSON holds no list of sign-ins", where=str(path))
        for i, item in enumerate(items, 1):
            if isinstance(item, dict):
                yield i, item
            else:
                on_warning(
                    IngestWarning(str(path), "sign-in is not a JSON object; skipped", record=i)
                )
        return
    yield from json_lines(path, text, on_warning)


def _status_ok(rec: dict[str, Any]) -> bool | None:
    status = rec.get("status")
    if isinstance(status, dict):
        code = status.get("errorCode")
        if isinstance(code, int | str) and not isinstance(code, bool):
            return str(code).strip() == "0"
        return None
    return None


def _factors(requirement: str) -> str:
    req = requirement.lower().replace("-", "").replace(" ", "")
    if req.startswith("multifactor"):
        return "multi"
    if req.startswith("singlefactor"):
        return "single"
    return "unknown"


def _entra_json(
    path: Path, records: list[tuple[int, dict[str, Any]]], on_warning: WarningSink
) -> Iterator[SignIn]:
    for n, rec in records:
        account = text_of(rec.get("userPrincipalName")).lower()
        ok = _status_ok(rec)
        if not account or ok is None:
            on_warning(
                IngestWarning(
                    str(path),
                    "sign-in without userPrincipalName or status.errorCode; skipped",
                    record=n,
                )
            )
            continue
        client = text_of(rec.get("clientAppUsed"))
        yield SignIn(
            time=parse_time(rec.get("createdDateTime")),
            account=account,
            ip=text_of(rec.get("ipAddress")) or None,
            success=ok,
            factors=_factors(text_of(rec.get("authenticationRequirement"))),
            app=text_of(rec.get("appDisplayName")),
            client=client,
            legacy=client.lower() in LEGACY_CLIENTS,
            provider="entra",
            source=str(path),
        )


def _entra_csv(path: Path, text: str, on_warning: WarningSink) -> Iterator[SignIn]:
    rows = csv_rows(path, text, on_warning)
    first = next(rows, None)
    if first is None:
        if "username" not in text[:4096].lower():
            raise IngestError("not an Entra ID sign-in CSV (no Username column)", where=str(path))
        return
    if (
        not {"username", "status"} <= first[1].keys()
        and not {"user principal name", "status"} <= first[1].keys()
    ):
        raise IngestError(
            "not an Entra ID sign-in CSV (needs the portal export's Username and Status columns)",
            where=str(path),
        )
    for line, row in chain([first], rows):
        account = (row.get("username") or row.get("user principal name") or "").strip().lower()
        status = row.get("status", "").strip().lower()
        if not account or status not in ("success", "failure", "interrupted"):
            on_warning(
                IngestWarning(
                    str(path), "row without Username or a known Status; skipped", line=line
                )
            )
            continue
        client = row.get("client app", "").strip()
        yield SignIn(
            time=parse_time(row.get("date (utc)") or row.get("date")),
            account=account,
            ip=row.get("ip address", "").strip() or None,
            success=status == "success",
            factors=_factors(row.get("authentication requirement", "")),
            app=row.get("application", "").strip(),
            client=client,
            legacy=client.lower() in LEGACY_CLIENTS,
            provider="entra",
            source=str(path),
        )


def _okta(
    path: Path, records: list[tuple[int, dict[str, Any]]], on_warning: WarningSink
) -> Iterator[SignIn]:
    """Okta: a ``user.session.start`` is the sign-in; it had a second factor when an MFA event
    of the same ``externalSessionId`` succeeded."""
    mfa_sessions: set[str] = set()
    starts: list[tuple[int, dict[str, Any]]] = []
    for n, rec in records:
        kind = text_of(rec.get("eventType"))
        outcome = rec.get("outcome") if isinstance(rec.get("outcome"), dict) else {}
        ctx = (
            rec.get("authenticationContext")
            if isinstance(rec.get("authenticationContext"), dict)
            else {}
        )
        session = text_of(ctx.get("externalSessionId")) if ctx else ""
        if (
            kind in OKTA_MFA_EVENTS
            and text_of(outcome.get("result") if outcome else None) == "SUCCESS"
        ):
            if session:
                mfa_sessions.add(session)
        elif kind == OKTA_SESSION_START:
            starts.append((n, rec))
    for n, rec in starts:
        actor = rec.get("actor")
        outcome = rec.get("outcome")
        client = rec.get("client")
        ctx = rec.get("authenticationContext")
        account = text_of(actor.get("alternateId")).lower() if isinstance(actor, dict) else ""
        result = text_of(outcome.get("result")) if isinstance(outcome, dict) else ""
        if not account or not result:
            on_warning(
                IngestWarning(
                    str(path),
                    "Okta event without actor.alternateId or outcome.result; skipped",
                    record=n,
                )
            )
            continue
        session = text_of(ctx.get("externalSessionId")) if isinstance(ctx, dict) else ""
        ip = text_of(client.get("ipAddress")) if isinstance(client, dict) else ""
        agent = client.get("userAgent") if isinstance(client, dict) else None
        raw_agent = text_of(agent.get("rawUserAgent")) if isinstance(agent, dict) else ""
        yield SignIn(
            time=parse_time(rec.get("published")),
            account=account,
            ip=ip or None,
            success=result == "SUCCESS",
            factors=("multi" if session in mfa_sessions else "single") if session else "unknown",
            app=raw_agent[:120],
            client=text_of(ctx.get("credentialType")) if isinstance(ctx, dict) else "",
            provider="okta",
            source=str(path),
        )
