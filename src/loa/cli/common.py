"""What every command shares: settings, the lazily opened store, the consoles."""

from __future__ import annotations

from rich.console import Console

from loa.config import Settings
from loa.store.db import Store, open_store

console = Console()
err_console = Console(stderr=True)


class State:
    """Per-invocation state: settings now, the store when a command first needs it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None

    def store(self) -> Store:
        """The store, created or upgraded on first use."""
        if self._store is None:
            self._store = open_store(self.settings.database_url, self.settings.workspace)
        return self._store

    def close(self) -> None:
        """Release the store's connections when the command ends."""
        if self._store is not None:
            self._store.engine.dispose()
            self._store = None
