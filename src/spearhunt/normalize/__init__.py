"""Normalize: raw records of every supported shape -> one event schema (as SQL over JSON)."""
