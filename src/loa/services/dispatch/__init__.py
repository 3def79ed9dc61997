"""Dispatch: routes, the outbox's way out, and the worker that sends."""
