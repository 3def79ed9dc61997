"""FastAPI dependencies: the store, the principal (API key or session cookie), permissions."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from loa.api.errors import CSRF, FORBIDDEN, UNAUTHENTICATED, ApiError
from loa.services.accounts import (
    CSRF_HEADER,
    SESSION_COOKIE,
    Principal,
    allowed,
    key_principal,
    session_principal,
)
from loa.store.db import Store

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_store(request: Request) -> Store:
    """The store the app serves."""
    store: Store = request.app.state.store
    return store


def client_ip(request: Request) -> str:
    """The caller's address as the server saw it (for the audit log and rate limits)."""
    return request.client.host if request.client else "unknown"


def current_principal(request: Request) -> Principal:
    """Who is calling: a Bearer API key, or a session cookie (with CSRF on unsafe methods)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    store = get_store(request)
    auth = request.headers.get("authorization", "")
    principal: Principal | None = None
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(UNAUTHENTICATED, field="Authorization")
        with store.engine.begin() as conn:
            principal = key_principal(conn, token.strip())
        if principal is None:
            raise ApiError(UNAUTHENTICATED, field="Authorization")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise ApiError(UNAUTHENTICATED)
        with store.engine.connect() as conn:
            found = session_principal(conn, cookie)
        if found is None:
            raise ApiError(UNAUTHENTICATED)
        principal, csrf = found
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf.encode()):
                raise ApiError(CSRF, field=CSRF_HEADER)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: str) -> Callable[[Request], Principal]:
    """A dependency that lets through only principals with `permission`."""

    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if not allowed(principal, permission):
            raise ApiError(FORBIDDEN, field=None, permission=permission)
        return principal

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    return dependency
