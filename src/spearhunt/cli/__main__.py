"""``python -m spearhunt.cli``: the same as the ``spearhunt`` command."""

from spearhunt.cli.main import entry

entry()
