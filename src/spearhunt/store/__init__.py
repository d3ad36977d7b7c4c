"""The case store: one DuckDB file that every stage appends to and later stages read."""
