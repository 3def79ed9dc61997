"""Automations: rules that turn events and dates into transactional messages."""
