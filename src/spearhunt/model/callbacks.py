"""The callback types library code reports through (the CLI adapts them to Rich)."""

from __future__ import annotations

from collections.abc import Callable

from spearhunt.model.warnings import IngestWarning

# on_progress(done, total or None when unknown, what is being done)
Progress = Callable[[int, int | None, str], None]
# on_warning(one bad file or record; the run goes on)
OnWarning = Callable[[IngestWarning], None]
