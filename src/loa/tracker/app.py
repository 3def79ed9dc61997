"""The redirect itself: a bare ASGI callable, so a click costs a dictionary look-up, a buffer
append and a 302 — no framework in the way."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Final

from loa.services.tracking.bots import classify
from loa.services.tracking.clicks import ClickBuffer, LinkCache, LinkTarget
from loa.store.db import Store

log = logging.getLogger("loa.tracker")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PREFIX: Final = "/r/"
FLUSH_EVERY_S: Final = 0.25  # small batches: each holds the GIL only briefly
FLUSH_AT: Final = 2000  # clicks waiting: write now rather than at the next tick

_PAGE: Final = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title_vi} / {title_en}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;
color:#222;line-height:1.5}}h1{{font-size:1.4rem}}p.en{{color:#555}}</style></head>
<body><h1>{title_vi}</h1><p>{body_vi}</p><hr><h1 lang="en">{title_en}</h1>
<p class="en" lang="en">{body_en}</p></body></html>
"""
UNKNOWN_PAGE: Final = _PAGE.format(
    title_vi="Không tìm thấy liên kết",
    body_vi="Liên kết <code>{code}</code> không tồn tại. Hãy kiểm tra lại tin nhắn: có thể "
    "liên kết đã bị cắt mất vài ký tự.",
    title_en="Link not found",
    body_en="The link <code>{code}</code> does not exist. Please check the message: the link "
    "may have lost a few characters when copied.",
)
EXPIRED_PAGE: Final = _PAGE.format(
    title_vi="Liên kết đã hết hạn",
    body_vi="Liên kết <code>{code}</code> đã hết hạn (chương trình đã kết thúc). Cảm ơn bạn "
    "đã quan tâm.",
    title_en="This link has expired",
    body_en="The link <code>{code}</code> has expired (the offer has ended). Thank you for "
    "your interest.",
)
ERROR_PAGE: Final = _PAGE.format(
    title_vi="Tạm thời chưa mở được liên kết",
    body_vi="Xin thử lại sau ít phút.",
    title_en="The link cannot be opened right now",
    body_en="Please try again in a few minutes.",
)


class Tracker:
    """Resolves codes, records clicks and keeps the buffer flushed while it runs."""

    def __init__(self, store: Store, *, cache_size: int | None = None) -> None:
        self.store = store
        self.cache = (
            LinkCache(store.engine) if cache_size is None else LinkCache(store.engine, cache_size)
        )
        self.buffer = ClickBuffer(store.engine)
        # Threads for store work (look-ups on a cache miss, the batched writes), made on first
        # use and given back at each stop: a host app may run its lifespan more than once.
        self._io: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._inline = store.engine.dialect.name == "sqlite"
        self._wake: asyncio.Event | None = None

    async def resolve(self, code: str) -> LinkTarget | None:
        """The code's target: from the cache, else from the store off the event loop."""
        hit, target = self.cache.cached(code)
        if hit:
            return target
        if self._inline:
            # SQLite answers a primary-key look-up in microseconds: cheaper than a thread hop.
            return self.cache.load(code)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool(), self.cache.load, code)

    def record(
        self, target: LinkTarget, *, method: str, user_agent: str | None, ip: str | None
    ) -> None:
        """Keep a click (a person's or a bot's) for the next batch."""
        self.buffer.add(
            target,
            at=datetime.now(UTC),
            bot=classify(user_agent, method),
            method=method,
            user_agent=user_agent,
            ip=ip,
        )
        if self._wake is not None and len(self.buffer) >= FLUSH_AT:
            self._wake.set()

    def _pool(self) -> ThreadPoolExecutor:
        if self._io is None:
            self._io = ThreadPoolExecutor(max_workers=2, thread_name_prefix="loa-tracker")
        return self._io

    async def start(self) -> None:
        """Start writing clicks in the background (again after a stop: each start is a run)."""
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._flusher())

    async def stop(self) -> None:
        """Stop the background writer and write every click still waiting; a later `start`
        runs it again."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._wake = None
        loop = asyncio.get_running_loop()
        for _ in range(5):  # a busy store gets a few more chances before we give up
            try:
                await loop.run_in_executor(self._pool(), self.buffer.flush)
                break
            except Exception:  # kept in the buffer: the next run writes them
                log.exception("writing clicks failed; trying again")
                await asyncio.sleep(0.5)
        # Taken before waiting on it: a stop overlapping this one then makes its own pool.
        pool, self._io = self._io, None
        if pool is not None:
            pool.shutdown(wait=True)
        self.cache.close()

    async def _flusher(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_EVERY_S)
            self._wake.clear()
            try:
                await loop.run_in_executor(self._pool(), self.buffer.flush)
            except Exception:  # kept in the buffer; the next tick tries again
                log.exception("writing clicks failed; they are kept and written later")

    async def answer(
        self, code: str, method: str, user_agent: str | None, ip: str | None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Status, headers and body for a request of `/r/<code>`."""
        try:
            target = await self.resolve(code)
        except Exception:
            log.exception("looking up a short code failed")
            return 503, _html_headers(), ERROR_PAGE.encode()
        shown = html.escape(code[:32])
        if target is None:
            return 404, _html_headers(), UNKNOWN_PAGE.replace("{code}", shown).encode()
        if target.expires_at is not None and target.expires_at <= datetime.now(UTC):
            return 410, _html_headers(), EXPIRED_PAGE.replace("{code}", shown).encode()
        self.record(target, method=method, user_agent=user_agent, ip=ip)
        return (
            302,
            [
                (b"location", target.destination.encode()),
                (b"cache-control", b"no-store"),
                (b"referrer-policy", b"no-referrer"),
                (b"content-length", b"0"),
            ],
            b"",
        )


def _html_headers() -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"cache-control", b"no-store"),
    ]


class TrackerApp:
    """The standalone ASGI app of `loa tracker`: `/r/<code>` and nothing else."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if not path.startswith(PREFIX) or method not in ("GET", "HEAD"):
            body = UNKNOWN_PAGE.replace("{code}", html.escape(path[:32])).encode()
            await _respond(send, 404, _html_headers(), body, method)
            return
        code = path[len(PREFIX) :].strip("/")
        agent: str | None = None
        for name, value in scope["headers"]:
            if name == b"user-agent":
                agent = value.decode("latin-1")
                break
        client = scope.get("client")
        ip = client[0] if client else None
        try:
            status, headers, body = await self.tracker.answer(code, method, agent, ip)
        except Exception:  # whatever went wrong, the visitor gets a page, not a trace
            log.exception("answering /r/%s failed", code[:32])
            status, headers, body = 500, _html_headers(), ERROR_PAGE.encode()
        await _respond(send, status, headers, body, method)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.tracker.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.tracker.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, method: str
) -> None:
    if body and not any(k == b"content-length" for k, _ in headers):
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
