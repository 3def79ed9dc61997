"""The REST API under /api/v1 (FastAPI routers; one module per resource)."""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from loa.api import auth, campaigns, catalog, contacts, users, webhooks

router = APIRouter(prefix="/api/v1")


@router.get("/health", tags=["system"])
def health(request: Request) -> dict[str, Any]:
    """The process answers and its database does too."""
    with request.app.state.store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "database": request.app.state.store.dialect}


for _module in (auth, users, contacts, catalog, campaigns, webhooks):
    router.include_router(_module.router)

try:  # written by the automations work; optional until it lands
    _automations = importlib.import_module("loa.api.automations")
except ModuleNotFoundError as exc:
    if exc.name != "loa.api.automations":
        raise
else:
    router.include_router(_automations.router)
