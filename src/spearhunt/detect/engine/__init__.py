"""Engines that run compiled rules: DuckDB (embedded default) and, optionally, Spark."""
