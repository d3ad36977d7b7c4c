"""Open a report in real headless Chromium (Debian's package) through Playwright and record
what the page did: dialogs (alert/confirm/prompt), network requests, console messages and
uncaught errors. Playwright only drives the system Chromium; it never downloads a browser.

Locally, a missing Chromium or Playwright skips the test; under CI=true it fails, because
.ci/run installs both.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def chromium_path() -> str:
    """The system Chromium, or skip/fail."""
    path = os.environ.get("SPEARHUNT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        _unavailable("Chromium not found (apt-get install chromium, or set SPEARHUNT_CHROMIUM)")
    return path


@dataclass
class PageLog:
    """What a page did while it was open."""

    url: str
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def foreign_requests(self) -> list[str]:
        """Every request other than the report file itself."""
        return [u for u in self.requests if u != self.url]

    @property
    def console_errors(self) -> list[str]:
        """Console errors and warnings (CSP violations land here) plus uncaught exceptions."""
        return [t for kind, t in self.console if kind in ("error", "warning")] + self.errors


class Browser:
    """One headless Chromium for a test session."""

    def __init__(self, pw: Any, executable: str) -> None:
        self._browser = pw.chromium.launch(executable_path=executable, args=ARGS, headless=True)

    @contextmanager
    def open(self, html: Path, settle_ms: int = 400) -> Iterator[tuple[Any, PageLog]]:
        """Load ``html`` from disk with every network request blocked and recorded."""
        context = self._browser.new_context(
            viewport={"width": 1280, "height": 900}, java_script_enabled=True
        )
        page = context.new_page()
        log = PageLog(html.resolve().as_uri())

        def on_dialog(dialog: Any) -> None:
            log.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def route(r: Any) -> None:
            if r.request.url == log.url:
                r.continue_()
            else:
                r.abort()

        page.on("dialog", on_dialog)
        page.on("request", lambda req: log.requests.append(req.url))
        page.on("console", lambda msg: log.console.append((msg.type, msg.text)))
        page.on("pageerror", lambda exc: log.errors.append(str(exc)))
        page.route("**/*", route)
        try:
            page.goto(log.url, wait_until="load")
            page.wait_for_timeout(settle_ms)
            yield page, log
        finally:
            context.close()

    def close(self) -> None:
        """Shut the browser down."""
        self._browser.close()


@contextmanager
def browser() -> Iterator[Browser]:
    """A Chromium session, or skip/fail when the tools are missing."""
    exe = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright (the Python driver) is not installed")
    with sync_playwright() as pw:
        b = Browser(pw, exe)
        try:
            yield b
        finally:
            b.close()


def artifact_dir(tmp_path_factory: Any) -> Path:
    """Where screenshots go: $SPEARHUNT_ARTIFACTS (CI) or a pytest temp folder."""
    env = os.environ.get("SPEARHUNT_ARTIFACTS")
    path = Path(env) if env else tmp_path_factory.mktemp("report-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path
