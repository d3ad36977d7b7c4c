"""Correlation: Sigma correlation rules over stored detections, network analytics, and the
entity graph that turns alerts and linking events into ranked campaign stories.

Entry point: :func:`spearhunt.correlate.run.correlate_store`.
"""
