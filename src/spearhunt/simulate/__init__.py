"""Synthetic espionage campaign generator: mail, endpoint and network logs with ground truth.

Use :func:`simulate` to write a simulation into a folder; :class:`SimulationConfig` holds the
knobs and :func:`demo_config` a small one for demos and end-to-end tests.
"""

from __future__ import annotations

from spearhunt.simulate.config import (
    AXES,
    ENDPOINT_FORMATS,
    VARIANT_HELP,
    SimulationConfig,
    Variant,
    all_variants,
    demo_config,
    parse_variant,
)
from spearhunt.simulate.writer import SimulationResult, simulate

__all__ = [
    "AXES",
    "ENDPOINT_FORMATS",
    "VARIANT_HELP",
    "SimulationConfig",
    "SimulationResult",
    "Variant",
    "all_variants",
    "demo_config",
    "parse_variant",
    "simulate",
]
