"""The click redirect service (`/r/<code>`): part of `loa serve`, also runnable alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response

from loa.config import Settings
from loa.store.db import Store
from loa.tracker.app import Tracker, TrackerApp

__all__ = ["Tracker", "TrackerApp", "attach", "create_tracker_app"]


def create_tracker_app(store: Store, settings: Settings | None = None) -> TrackerApp:
    """The standalone redirect app (`loa tracker`): serves GET/HEAD `/r/{code}`."""
    return TrackerApp(Tracker(store))


def attach(app: FastAPI) -> None:
    """Serve `/r/{code}` from the main app (its `app.state.store`), writing clicks in the
    background while the app runs and every waiting click when it shuts down."""
    holder: dict[str, Tracker] = {}

    def tracker() -> Tracker:
        if "t" not in holder:
            holder["t"] = Tracker(app.state.store)
        return holder["t"]

    async def redirect(request: Request) -> Response:
        code = request.path_params["code"]
        client = request.client
        status, headers, body = await tracker().answer(
            code, request.method, request.headers.get("user-agent"), client.host if client else None
        )
        response = Response(
            content=b"" if request.method == "HEAD" else body,
            status_code=status,
        )
        for name, value in headers:
            if name != b"content-length":
                response.headers[name.decode()] = value.decode("latin-1")
        return response

    app.add_route("/r/{code}", redirect, methods=["GET", "HEAD"], include_in_schema=False)
    before = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(inner: Any) -> AsyncIterator[Any]:
        async with before(inner) as state:
            await tracker().start()
            try:
                yield state
            finally:
                await tracker().stop()
                holder.pop("t", None)

    app.router.lifespan_context = lifespan
