"""Workspaces (tenants): every row in the store belongs to exactly one."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, func, insert, select

from loa.i18n import LoaError, Msg
from loa.store.tables import contacts, workspaces

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

BAD_SLUG = Msg(
    "workspaces.bad_slug",
    "Tên workspace '{slug}' không hợp lệ: dùng chữ thường không dấu, số và '-', tối đa 63 ký "
    "tự, ví dụ 'cua-hang-q1'.",
    "The workspace name '{slug}' is not valid: use lower-case letters, digits and '-', at most "
    "63 characters, e.g. 'shop-district-1'.",
)
EXISTS = Msg(
    "workspaces.exists",
    "Workspace '{slug}' đã có.",
    "The workspace '{slug}' already exists.",
)


def create_workspace(engine: Engine, slug: str, name: str | None = None) -> int:
    """Create a workspace; its id."""
    if not SLUG.match(slug):
        raise LoaError(BAD_SLUG, slug=slug)
    with engine.begin() as conn:
        if conn.execute(select(workspaces.c.id).where(workspaces.c.slug == slug)).first():
            raise LoaError(EXISTS, slug=slug)
        result = conn.execute(
            insert(workspaces).values(slug=slug, name=name or slug).returning(workspaces.c.id)
        )
        return int(result.scalar_one())


def list_workspaces(engine: Engine) -> list[dict[str, Any]]:
    """Every workspace with its number of contacts."""
    counts = (
        select(contacts.c.workspace_id, func.count().label("n"))
        .group_by(contacts.c.workspace_id)
        .subquery()
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(workspaces.c.slug, workspaces.c.name, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.workspace_id == workspaces.c.id)
            .order_by(workspaces.c.id)
        ).all()
    return [{"slug": s, "name": n, "contacts": int(c)} for s, n, c in rows]
