"""One root error for spearhunt, a subclass per stage, each carrying where it happened.

Only ``spearhunt.cli`` turns these into messages and exit codes; library code raises them
and never prints or exits.
"""

from __future__ import annotations


class SpearhuntError(Exception):
    """Root of every error spearhunt raises on purpose (user or input errors, not bugs)."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class UsageError(SpearhuntError):
    """The user asked for something that cannot be done (bad option, missing path)."""


class IngestError(SpearhuntError):
    """A file could not be read or parsed at all (a per-record problem is a warning instead)."""


class RuleError(SpearhuntError):
    """A rule could not be loaded or compiled."""


class EngineError(SpearhuntError):
    """The query engine failed to run a compiled rule set."""


class StoreError(SpearhuntError):
    """A case store could not be opened, read or written."""


class MailError(SpearhuntError):
    """A mail or attachment could not be analysed at all."""


class SimulateError(SpearhuntError):
    """The campaign simulator was asked for something it cannot generate."""
