"""`loa sample`: realistic Vietnamese sample data."""

from __future__ import annotations


def sample() -> None:
    """Write sample customers and orders."""
