"""Renderers: they read frozen results only."""
