"""Users, API keys, workspace settings and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from loa.api.common import Cursor, IdPath, Limit, decode_cursor, page, plain
from loa.api.deps import CurrentPrincipal, client_ip, get_store, require
from loa.api.errors import not_found
from loa.services.accounts import (
    ROLES,
    Principal,
    create_key,
    create_user,
    get_settings,
    list_keys,
    list_users,
    revoke_key,
    update_settings,
    update_user,
)
from loa.services.accounts.roles import ROLE_PERMISSIONS
from loa.store.tables import audit_log, users, workspaces

router = APIRouter(tags=["accounts"])


class NewUser(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(min_length=1, max_length=1000)
    role: str = Field(max_length=16, description=" / ".join(ROLES))
    lang: str = Field(default="vi", max_length=2)
    name: str | None = Field(default=None, max_length=200)


class UserChange(BaseModel):
    role: str | None = Field(default=None, max_length=16)
    lang: str | None = Field(default=None, max_length=2)
    disabled: bool | None = None
    unlock: bool = False


class NewKey(BaseModel):
    name: str = Field(max_length=100)
    scopes: list[str] = Field(max_length=50)


def _user_out(user: dict[str, Any]) -> dict[str, Any]:
    return plain(user)  # type: ignore[no-any-return]


@router.get("/workspace")
def workspace(
    request: Request, principal: Annotated[Principal, Depends(require("settings:read"))]
) -> dict[str, Any]:
    """The caller's workspace and its settings."""
    with get_store(request).engine.connect() as conn:
        row = conn.execute(
            select(workspaces.c.slug, workspaces.c.name, workspaces.c.policy_pack).where(
                workspaces.c.id == principal.workspace_id
            )
        ).one()
        settings = get_settings(conn, principal.workspace_id)
    return {**dict(row._mapping), "settings": plain(settings)}


@router.get("/workspaces")
def workspaces_list(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """The workspaces the caller can sign in to (a key: only its own), the current one first."""
    query = select(workspaces.c.id, workspaces.c.slug, workspaces.c.name)
    if principal.key_id is None:
        query = query.join(users, users.c.workspace_id == workspaces.c.id).where(
            users.c.email == principal.email, users.c.disabled.is_(False)
        )
    else:
        query = query.where(workspaces.c.id == principal.workspace_id)
    with get_store(request).engine.connect() as conn:
        rows = conn.execute(query.order_by(workspaces.c.id)).all()
    items = [
        {"slug": r.slug, "name": r.name, "current": r.id == principal.workspace_id} for r in rows
    ]
    items.sort(key=lambda i: not i["current"])
    return {"items": items, "next_cursor": None}


@router.patch("/workspace/settings")
def change_settings(
    changes: dict[str, Any],
    request: Request,
    principal: Annotated[Principal, Depends(require("settings:write"))],
) -> dict[str, Any]:
    """Change security and approval settings (audited with old and new values)."""
    with get_store(request).engine.begin() as conn:
        result = update_settings(
            conn, principal.workspace_id, changes, actor=principal.actor, ip=client_ip(request)
        )
    return plain(result)  # type: ignore[no-any-return]


@router.get("/users")
def users_list(
    request: Request, principal: Annotated[Principal, Depends(require("settings:read"))]
) -> dict[str, Any]:
    """The workspace's users (no secrets)."""
    with get_store(request).engine.connect() as conn:
        found = list_users(conn, workspace_id=principal.workspace_id)
    return {"items": [_user_out(u) for u in found], "next_cursor": None}


@router.post("/users", status_code=201)
def users_create(
    body: NewUser,
    request: Request,
    principal: Annotated[Principal, Depends(require("users:write"))],
) -> dict[str, Any]:
    """Add a user to the caller's workspace."""
    with get_store(request).engine.begin() as conn:
        user_id = create_user(
            conn,
            workspace_id=principal.workspace_id,
            email=body.email,
            password=body.password,
            role=body.role,
            lang=body.lang,
            name=body.name,
            actor=principal.actor,
        )
        found = list_users(conn, workspace_id=principal.workspace_id)
    return _user_out(next(u for u in found if u["id"] == user_id))


@router.patch("/users/{user_id}")
def users_change(
    user_id: IdPath,
    body: UserChange,
    request: Request,
    principal: Annotated[Principal, Depends(require("users:write"))],
) -> dict[str, Any]:
    """Change a user's role or language, disable or unlock them."""
    with get_store(request).engine.begin() as conn:
        if user_id not in {u["id"] for u in list_users(conn, workspace_id=principal.workspace_id)}:
            raise not_found("user", user_id)
        return _user_out(
            update_user(
                conn,
                workspace_id=principal.workspace_id,
                user_id=user_id,
                actor=principal.actor,
                role=body.role,
                lang=body.lang,
                disabled=body.disabled,
                unlock=body.unlock,
            )
        )


@router.get("/roles")
def roles(principal: Annotated[Principal, Depends(require("settings:read"))]) -> dict[str, Any]:
    """Every role and the permissions it grants."""
    return {role: sorted(perms) for role, perms in ROLE_PERMISSIONS.items()}


@router.get("/keys")
def keys_list(
    request: Request, principal: Annotated[Principal, Depends(require("keys:write"))]
) -> dict[str, Any]:
    """The workspace's API keys (their prefixes, never the keys)."""
    with get_store(request).engine.connect() as conn:
        found = list_keys(conn, workspace_id=principal.workspace_id)
    return {"items": plain(found), "next_cursor": None}


@router.post("/keys", status_code=201)
def keys_create(
    body: NewKey,
    request: Request,
    principal: Annotated[Principal, Depends(require("keys:write"))],
) -> dict[str, Any]:
    """A new API key; `key` is shown in this answer only and never again."""
    with get_store(request).engine.begin() as conn:
        key_id, key = create_key(
            conn,
            workspace_id=principal.workspace_id,
            name=body.name,
            scopes=body.scopes,
            actor=principal.actor,
            ip=client_ip(request),
        )
        listed = next(
            k for k in list_keys(conn, workspace_id=principal.workspace_id) if k["id"] == key_id
        )
    return {**plain(listed), "key": key}


@router.delete("/keys/{key_id}", status_code=204)
def keys_revoke(
    key_id: IdPath,
    request: Request,
    principal: Annotated[Principal, Depends(require("keys:write"))],
) -> None:
    """Revoke a key: it stops working at once."""
    with get_store(request).engine.begin() as conn:
        if key_id not in {k["id"] for k in list_keys(conn, workspace_id=principal.workspace_id)}:
            raise not_found("key", key_id)
        revoke_key(
            conn,
            workspace_id=principal.workspace_id,
            key_id=key_id,
            actor=principal.actor,
            ip=client_ip(request),
        )


@router.get("/audit")
def audit(
    request: Request,
    principal: Annotated[Principal, Depends(require("audit:read"))],
    action: str | None = None,
    limit: int = Limit,
    cursor: str | None = Cursor,
) -> dict[str, Any]:
    """The audit log, newest first: who, what, when, from where."""
    after = decode_cursor(cursor)
    query = (
        select(audit_log)
        .where(audit_log.c.workspace_id == principal.workspace_id)
        .order_by(audit_log.c.id.desc())
        .limit(limit + 1)
    )
    if action:
        query = query.where(audit_log.c.action == action)
    if isinstance(after, int):
        query = query.where(audit_log.c.id < after)
    with get_store(request).engine.connect() as conn:
        rows = [plain(r) for r in conn.execute(query)]
    for row in rows:
        row.pop("workspace_id", None)
    return page(rows, limit)
