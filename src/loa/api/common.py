"""Shared pieces of the API: the caller's workspace store, cursor pagination, JSON output."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Path as PathParam
from fastapi import Query, Request
from pydantic import BaseModel

from loa.api.errors import ApiError
from loa.i18n import Msg
from loa.services.accounts import Principal
from loa.store.db import Store

BAD_CURSOR = Msg(
    "api.bad_cursor",
    "Con trỏ trang '{cursor}' không hợp lệ; dùng giá trị next_cursor của trang trước.",
    "The page cursor '{cursor}' is not valid; use the next_cursor of the previous page.",
)

# Ids fit a signed 64-bit column on every database (SQLite refuses anything larger).
IdPath = Annotated[int, PathParam(ge=1, le=2**63 - 1)]

Limit = Query(50, ge=1, le=500, description="Items per page")
Cursor = Query(None, max_length=200, description="next_cursor from the previous page")


def workspace_store(request: Request, principal: Principal) -> Store:
    """The store, bound to the caller's workspace (never the one in the URL or body)."""
    store: Store = request.app.state.store
    return Store(engine=store.engine, workspace_id=principal.workspace_id)


def encode_cursor(value: int | str) -> str:
    """An opaque cursor for the position after `value`."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    """The position a cursor stands for (None for the first page)."""
    if cursor is None or cursor == "":
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(BAD_CURSOR, status=422, field="cursor", cursor=cursor[:40]) from None
    if not isinstance(value, int | str) or isinstance(value, bool):
        raise ApiError(BAD_CURSOR, status=422, field="cursor", cursor=cursor[:40])
    return value


def page(items: list[dict[str, Any]], limit: int, key: str = "id") -> dict[str, Any]:
    """A page from `limit + 1` fetched items: the first `limit` and the cursor for the rest."""
    more = len(items) > limit
    items = items[:limit]
    return {
        "items": items,
        "next_cursor": encode_cursor(items[-1][key]) if more and items else None,
    }


def page_of(items: Sequence[Any], cursor: str | None, limit: int, key: str) -> dict[str, Any]:
    """Cursor pagination over a list a service returns whole, ordered by `key`."""
    after = decode_cursor(cursor)
    rows = [plain(i) for i in items]
    if after is not None:
        position = next((n for n, r in enumerate(rows) if r[key] == after), None)
        rows = rows[position + 1 :] if position is not None else []
    return page(rows[: limit + 1], limit, key)


def plain(value: Any) -> Any:
    """Dataclasses, rows, paths and sets as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "_mapping"):
        return plain(dict(value._mapping))
    return value
