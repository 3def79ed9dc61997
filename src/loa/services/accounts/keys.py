"""API keys: shown once, stored hashed, scoped, revocable, with their last-used time."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from loa.i18n import LoaError, Msg
from loa.services import audit
from loa.services.accounts.roles import PERMISSIONS, Principal
from loa.store.tables import api_keys, workspaces

KEY_PREFIX = "loa_"
# last_used_at is written at most this often per key, so busy keys do not write every request.
TOUCH_EVERY = timedelta(seconds=60)

BAD_SCOPE = Msg(
    "accounts.bad_scope",
    "Quyền '{scope}' không có; chọn trong: {scopes}.",
    "There is no scope '{scope}'; choose from: {scopes}.",
)
NO_SCOPES = Msg(
    "accounts.no_scopes",
    "Khoá API cần ít nhất một quyền, ví dụ --scopes events:write.",
    "An API key needs at least one scope, e.g. --scopes events:write.",
)
BAD_KEY_NAME = Msg(
    "accounts.bad_key_name",
    "Tên khoá cần 1–100 ký tự.",
    "A key's name needs 1–100 characters.",
)
UNKNOWN_KEY = Msg(
    "accounts.unknown_key",
    "Không có khoá API #{id} trong workspace này (xem: loa keys list).",
    "There is no API key #{id} in this workspace (see: loa keys list).",
)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    conn: Connection,
    *,
    workspace_id: int,
    name: str,
    scopes: list[str] | tuple[str, ...] | frozenset[str],
    actor: str,
    ip: str | None = None,
) -> tuple[int, str]:
    """A new key's id and the key itself; the key is never shown again."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise LoaError(BAD_KEY_NAME)
    wanted = sorted({s.strip() for s in scopes if s.strip()})
    if not wanted:
        raise LoaError(NO_SCOPES)
    for scope in wanted:
        if scope not in PERMISSIONS:
            raise LoaError(BAD_SCOPE, scope=scope, scopes=", ".join(PERMISSIONS))
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = conn.execute(
        insert(api_keys)
        .values(
            workspace_id=workspace_id,
            name=name,
            prefix=key[:12],
            key_hash=_hash(key),
            scopes=wanted,
            created_by=actor,
        )
        .returning(api_keys.c.id)
    ).scalar_one()
    audit.record(
        conn,
        workspace_id=workspace_id,
        actor=actor,
        action="key.create",
        target=f"key:{key[:12]}",
        details={"name": name, "scopes": wanted, "ip": ip},
    )
    return int(key_id), key


def list_keys(conn: Connection, *, workspace_id: int) -> list[dict[str, Any]]:
    """The workspace's keys (prefix only, never the key)."""
    rows = conn.execute(
        select(
            api_keys.c.id,
            api_keys.c.name,
            api_keys.c.prefix,
            api_keys.c.scopes,
            api_keys.c.created_by,
            api_keys.c.created_at,
            api_keys.c.last_used_at,
            api_keys.c.revoked_at,
        )
        .where(api_keys.c.workspace_id == workspace_id)
        .order_by(api_keys.c.id)
    ).all()
    return [dict(r._mapping) for r in rows]


def revoke_key(
    conn: Connection,
    *,
    workspace_id: int,
    key_id: int,
    actor: str,
    ip: str | None = None,
    now: datetime | None = None,
) -> None:
    """Stop a key working at once (revoking twice is harmless)."""
    when = now or datetime.now(UTC)
    row = conn.execute(
        select(api_keys.c.prefix, api_keys.c.revoked_at).where(
            api_keys.c.workspace_id == workspace_id, api_keys.c.id == key_id
        )
    ).first()
    if row is None:
        raise LoaError(UNKNOWN_KEY, id=key_id)
    if row.revoked_at is None:
        conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=when))
        audit.record(
            conn,
            workspace_id=workspace_id,
            actor=actor,
            action="key.revoke",
            target=f"key:{row.prefix}",
            details={"ip": ip},
            now=when,
        )


def key_principal(conn: Connection, key: str, now: datetime | None = None) -> Principal | None:
    """The principal an API key acts as (and its last-used time updated); None if not valid."""
    if not key.startswith(KEY_PREFIX):
        return None
    when = now or datetime.now(UTC)
    row = conn.execute(
        select(api_keys, workspaces.c.slug)
        .join(workspaces, workspaces.c.id == api_keys.c.workspace_id)
        .where(api_keys.c.key_hash == _hash(key), api_keys.c.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    if row.last_used_at is None or row.last_used_at < when - TOUCH_EVERY:
        conn.execute(
            update(api_keys)
            .where(
                api_keys.c.id == row.id,
                or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < when),
            )
            .values(last_used_at=when)
        )
    return Principal(
        workspace_id=int(row.workspace_id),
        workspace_slug=str(row.slug),
        user_id=None,
        key_id=int(row.id),
        email=str(row.name),
        role="developer",
        lang="vi",
        scopes=frozenset(row.scopes),
    )
