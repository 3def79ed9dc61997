"""`loa serve`: one ASGI app with the API, the dashboard and the click redirects."""

from __future__ import annotations

from fastapi import FastAPI

from loa.api import router as api_router
from loa.config import Settings
from loa.store.db import Store, open_store
from loa.web import router as web_router


def create_app(settings: Settings, *, store: Store | None = None) -> FastAPI:
    """The whole web side of Loa over one store (opened and upgraded when not given)."""
    app = FastAPI(
        title="Loa",
        version="0.1.0",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store or open_store(settings.database_url, settings.workspace)
    app.include_router(api_router)
    app.include_router(web_router)
    return app
