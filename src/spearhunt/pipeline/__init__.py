"""The application layer: commands that run several stages (investigate, demo, posture) call
one function here and only print; stages never call each other sideways."""

from spearhunt.pipeline.case import CaseInputs, CaseOptions, RunSummary, StageDone, build_case

__all__ = ["CaseInputs", "CaseOptions", "RunSummary", "StageDone", "build_case"]
