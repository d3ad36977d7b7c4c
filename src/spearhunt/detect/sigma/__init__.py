"""Sigma rules: loading, processing pipelines, compilation to the predicate tree (``ir``)."""
