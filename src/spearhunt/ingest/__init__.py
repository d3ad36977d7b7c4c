"""Readers: the only code that opens input files."""
