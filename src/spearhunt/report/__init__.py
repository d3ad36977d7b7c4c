"""Report: renderers that only read results (detections, summaries, stories)."""
