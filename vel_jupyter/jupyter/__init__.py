"""Jupyter integration: magics, display and helpers for notebooks."""
