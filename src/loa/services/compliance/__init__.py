"""Compliance use cases: brandnames, templates, DNC, inbound replies, decisions, export."""
