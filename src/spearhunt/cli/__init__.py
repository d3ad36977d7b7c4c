"""Thin commands: the only place that prints, exits or draws progress bars."""
