"""`loa serve`: one ASGI app with the API, the dashboard, the click redirects and a worker."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import loa.tracker
from loa.api import errors, idempotency
from loa.api import router as api_router
from loa.api.idempotency import IdempotencyMiddleware
from loa.config import Settings
from loa.store.db import Store, open_store
from loa.store.tables import outbox

log = logging.getLogger("loa.server")


class _OutboxCollector(Collector):
    """Messages in the outbox by status, read at scrape time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "loa_outbox_messages", "Messages in the outbox by status", labels=["status"]
        )
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
            for status, n in rows:
                gauge.add_metric([str(status)], float(n))
        yield gauge


class _WorkerThread:
    """The dispatch worker in a thread of its own, so its database calls never stall requests."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.loop: asyncio.AbstractEventLoop | None = None
        self.worker: Any = None
        self.thread = threading.Thread(target=self._run, name="loa-worker", daemon=True)
        self.ready = threading.Event()

    def _run(self) -> None:
        from loa.services.dispatch.worker import Worker

        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.worker = Worker(self.store.engine)
            self.ready.set()
            await self.worker.run()

        try:
            asyncio.run(main())
        except Exception:  # a worker that cannot run must not take the API down with it
            log.exception("the dispatch worker stopped")
        finally:
            self.ready.set()

    def start(self) -> None:
        self.thread.start()
        self.ready.wait(timeout=10)

    def stop(self) -> None:
        if self.loop is not None and self.worker is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.worker.stop)
        self.thread.join(timeout=30)


def create_app(settings: Settings, *, store: Store | None = None, worker: bool = False) -> FastAPI:
    """The whole web side of Loa over one store (opened and upgraded when not given).

    `worker=True` also runs a dispatch worker while the app runs (what `loa serve` does).
    """
    the_store = store or open_store(settings.database_url, settings.workspace)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runner = _WorkerThread(the_store) if worker else None
        if runner is not None:
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                await asyncio.to_thread(runner.stop)

    app = FastAPI(
        title="Loa",
        version="0.1.0",
        description="Customer messaging: SMS Brandname, email, push. Errors are JSON "
        "{code, message, field}; POSTs that create or send take an Idempotency-Key header.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = the_store
    errors.install(app)
    app.add_middleware(IdempotencyMiddleware)
    idempotency.document(app)
    _metrics(app, the_store)
    app.include_router(api_router)
    try:
        from loa.web import router as web_router
    except ImportError:  # the dashboard is optional for an API-only process
        log.warning("the dashboard could not be loaded", exc_info=True)
    else:
        app.include_router(web_router)
    if hasattr(loa.tracker, "attach"):
        loa.tracker.attach(app)
    return app


class _Metrics:
    """Counts and times every HTTP request (plain ASGI: no per-request task or copy)."""

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The route's template, not the raw path: ids would make a series per contact.
            route = getattr(scope.get("route"), "path", "unmatched")
            if (
                scope["path"].startswith("/api/v1/")
                and route.startswith("/")
                and not (route.startswith("/api/v1/"))
            ):
                route = "/api/v1" + route  # routes of included routers know only their prefix
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(route).observe(time.perf_counter() - started)


def _metrics(app: FastAPI, store: Store) -> None:
    registry = CollectorRegistry()
    requests = Counter(
        "loa_http_requests",
        "HTTP requests answered",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "loa_http_request_seconds",
        "Time to answer an HTTP request",
        ["route"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.3, 1.0, 3.0, 10.0),
    )
    registry.register(_OutboxCollector(store))

    app.add_middleware(_Metrics, requests=requests, latency=latency)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
