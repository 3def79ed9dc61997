"""`Idempotency-Key` on POSTs: the first answer is kept and every retry gets it back, so a
retried request never creates or sends twice (even when the first is still running)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loa.api.deps import current_principal, get_store
from loa.api.errors import error_body, request_lang
from loa.i18n import LoaError
from loa.services.accounts import idempotency

HEADER = "idempotency-key"
# Webhooks carry the provider's own ids; sign-in must never replay a session cookie.
EXEMPT = ("/api/v1/auth/", "/api/v1/webhooks/")


class IdempotencyMiddleware:
    """Pure ASGI middleware: buffers the request body to fingerprint it, keeps the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        request = Request(scope)
        key = request.headers.get(HEADER)
        if key is None or not path.startswith("/api/v1/") or path.startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        try:
            principal = await asyncio.to_thread(current_principal, request)
        except LoaError:
            await self.app(scope, receive, send)  # the endpoint answers 401/403 itself
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        digest = hashlib.sha256(
            b"\n".join([path.encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        engine = get_store(request).engine
        ws = principal.workspace_id
        try:
            replay = await asyncio.to_thread(
                idempotency.claim, engine, workspace_id=ws, key=key, request_hash=digest
            )
        except LoaError as exc:
            status = 409 if exc.code == "idempotency.in_progress" else 422
            lang = request_lang(request)
            await _json(send, status, error_body(exc.code, exc.render(lang), "Idempotency-Key"))
            return
        if replay is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": replay.status_code,
                    "headers": [
                        *([(b"content-type", b"application/json")] if replay.body else []),
                        (b"idempotent-replayed", b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": replay.body.encode()})
            return

        sent = False

        async def replay_receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status_code = 500
        parts: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        except BaseException:
            await asyncio.to_thread(idempotency.release, engine, workspace_id=ws, key=key)
            raise
        if status_code >= 500:
            # Failed for reasons of ours, not the caller's: let a retry run it again.
            await asyncio.to_thread(idempotency.release, engine, workspace_id=ws, key=key)
        else:
            await asyncio.to_thread(
                idempotency.complete,
                engine,
                workspace_id=ws,
                key=key,
                status_code=status_code,
                body=b"".join(parts).decode("utf-8", "replace"),
            )


async def _json(send: Send, status: int, payload: dict[str, Any]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


def document(app: FastAPI) -> None:
    """Name the optional Idempotency-Key header on every POST in the OpenAPI schema."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        for path, operations in schema.get("paths", {}).items():
            post = operations.get("post")
            if post is None or not path.startswith("/api/v1/") or path.startswith(EXEMPT):
                continue
            post.setdefault("parameters", []).append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    "description": "A retry with the same key gets the first answer again; "
                    "nothing is created or sent twice.",
                }
            )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
