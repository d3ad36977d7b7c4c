"""Ingest: the only code that opens input files. Readers yield raw records and warnings."""
