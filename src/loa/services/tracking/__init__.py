"""Tracking: clicks, attribution of orders, campaign reports."""
