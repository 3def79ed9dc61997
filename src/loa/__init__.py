"""Loa: self-hosted customer messaging for businesses in Vietnam."""

__version__ = "0.1.0"
