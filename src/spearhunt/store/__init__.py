"""Case stores (DuckDB)."""
