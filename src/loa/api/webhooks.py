"""Webhooks for HTTP SMS providers: delivery reports and inbound replies.

Providers authenticate with an API key that has the `events:write` scope, as a Bearer header
or, for providers that can only be given a URL, as `?key=loa_...`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select

from loa.api.common import IdPath, plain, workspace_store
from loa.api.deps import current_principal, get_store
from loa.api.errors import FORBIDDEN, ApiError, not_found
from loa.channels.http_sms import parse_webhook
from loa.services.accounts import Principal, allowed, key_principal
from loa.services.compliance.inbound import receive_inbound
from loa.services.dispatch.ledger import apply_receipts
from loa.store.tables import routes

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class InboundBody(BaseModel):
    phone: str = Field(max_length=40, description="who sent it")
    text: str = Field(max_length=2000)
    to: str | None = Field(default=None, max_length=64, description="short code or brandname")
    id: str | None = Field(default=None, max_length=128, description="the provider's id")
    received_at: AwareDatetime | None = None


def _provider(request: Request, key: str | None) -> Principal:
    if key:
        with get_store(request).engine.begin() as conn:
            principal = key_principal(conn, key)
        if principal is None:
            from loa.api.errors import UNAUTHENTICATED

            raise ApiError(UNAUTHENTICATED, field="key")
        request.state.principal = principal
    else:
        principal = current_principal(request)
    if not allowed(principal, "events:write"):
        raise ApiError(FORBIDDEN, permission="events:write")
    return principal


def _route(request: Request, principal: Principal, route_id: int) -> Any:
    with get_store(request).engine.connect() as conn:
        row = conn.execute(
            select(routes).where(
                routes.c.workspace_id == principal.workspace_id, routes.c.id == route_id
            )
        ).first()
    if row is None:
        raise not_found("route", route_id)
    return row


@router.post("/{route_id}/receipts")
def receipts(
    route_id: IdPath,
    request: Request,
    body: Any = Body(...),
    key: str | None = Query(None, max_length=200),
) -> dict[str, Any]:
    """Delivery reports in the route's own JSON shape (its `webhook` settings say where)."""
    principal = _provider(request, key)
    route = _route(request, principal, route_id)
    found = parse_webhook(route.settings, body)
    with get_store(request).engine.begin() as conn:
        matched, kept = apply_receipts(
            conn, [(route.name, r) for r in found], now=datetime.now(UTC)
        )
    return {"receipts": len(found), "matched": matched, "kept_unmatched": kept}


@router.post("/{route_id}/inbound")
def inbound(
    route_id: IdPath,
    body: InboundBody,
    request: Request,
    key: str | None = Query(None, max_length=200),
) -> dict[str, Any]:
    """An inbound reply (opt-out keywords act at once; duplicates by id are ignored)."""
    principal = _provider(request, key)
    _route(request, principal, route_id)
    result = receive_inbound(
        workspace_store(request, principal),
        body.phone,
        body.text,
        to=body.to,
        source="webhook",
        provider_id=body.id,
        received_at=body.received_at,
    )
    return plain(result)  # type: ignore[no-any-return]
