"""Synthetic espionage campaign generator: mail, endpoint and network logs with ground truth.

Use :func:`simulate` to write a simulation into a folder; :class:`SimulationConfig` holds the
knobs and :func:`demo_config` a small one for demos and end-to-end tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spearhunt.simulate.config import (
    AXES,
    ENDPOINT_FORMATS,
    SOURCES,
    VARIANT_HELP,
    SimulationConfig,
    Variant,
    all_variants,
    demo_config,
    parse_sources,
    parse_variant,
)

if TYPE_CHECKING:
    from spearhunt.simulate.writer import SimulationResult, simulate


def __getattr__(name: str) -> Any:
    # The writer builds large lookup tables at import; load it only when a simulation runs,
    # so that `spearhunt --help` and the other commands start fast.
    if name in ("SimulationResult", "simulate"):
        from spearhunt.simulate import writer

        return getattr(writer, name)
    raise AttributeError(name)


__all__ = [
    "AXES",
    "ENDPOINT_FORMATS",
    "SOURCES",
    "VARIANT_HELP",
    "SimulationConfig",
    "SimulationResult",
    "Variant",
    "all_variants",
    "demo_config",
    "parse_sources",
    "parse_variant",
    "simulate",
]
