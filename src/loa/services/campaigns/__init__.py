"""Campaigns: create, plan (the outbox), and move through their states."""
