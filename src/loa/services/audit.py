"""The audit log: who did what, when, from where. Phone numbers appear only masked."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert

from loa.store.tables import audit_log


def cli_actor() -> str:
    """The actor name for commands typed at this machine's shell."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def record(
    conn: Connection,
    *,
    workspace_id: int,
    actor: str,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Append one entry; part of the caller's transaction, so it lands with the change."""
    conn.execute(
        insert(audit_log).values(
            workspace_id=workspace_id,
            at=now or datetime.now(UTC),
            actor=actor,
            action=action,
            target=target,
            details=details,
        )
    )
