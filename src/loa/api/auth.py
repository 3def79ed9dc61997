"""Signing in and out of the dashboard over the API, and who the caller is."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from loa.api.deps import CurrentPrincipal, client_ip, get_store
from loa.api.errors import ApiError
from loa.i18n import Msg
from loa.services.accounts import SESSION_COOKIE, enroll_totp, sign_in, sign_out
from loa.services.accounts.users import check_password

router = APIRouter(prefix="/auth", tags=["auth"])

USERS_ONLY = Msg(
    "api.users_only",
    "Chỉ người dùng đăng nhập mới cài được xác thực hai lớp, không phải khoá API.",
    "Only a signed-in user can set up a second factor, not an API key.",
)

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "testserver"})


class SignInBody(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1000)
    totp_code: str | None = Field(default=None, max_length=10)
    workspace: str | None = Field(default=None, max_length=64)


def cookie_secure(request: Request) -> bool:
    """Secure cookies everywhere except plain http to this machine (local use and tests)."""
    host = (request.url.hostname or "").lower()
    return not (request.url.scheme == "http" and host in LOCAL_HOSTS)


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure unless plain http to localhost."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
        path="/",
    )


@router.post("/sign-in")
def sign_in_endpoint(body: SignInBody, request: Request, response: Response) -> dict[str, Any]:
    """Check the password (and TOTP code); set the session cookie; return the CSRF token."""
    with get_store(request).engine.begin() as conn:
        result = sign_in(
            conn,
            email=body.email,
            password=body.password,
            ip=client_ip(request),
            totp_code=body.totp_code,
            workspace_slug=body.workspace,
        )
    max_age = max(1, int((result.expires_at - datetime.now(UTC)).total_seconds()))
    set_session_cookie(response, request, result.session_token, max_age)
    p = result.principal
    return {
        "email": p.email,
        "role": p.role,
        "workspace": p.workspace_slug,
        "lang": p.lang,
        "csrf_token": result.csrf_token,
        "expires_at": result.expires_at.isoformat(),
    }


@router.post("/sign-out", status_code=204)
def sign_out_endpoint(request: Request, principal: CurrentPrincipal) -> Response:
    """End the session behind the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with get_store(request).engine.begin() as conn:
            sign_out(conn, token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me")
def me(principal: CurrentPrincipal) -> dict[str, Any]:
    """The caller: user or key, role, workspace, language and permissions."""
    return {
        "email": principal.email,
        "role": principal.role,
        "workspace": principal.workspace_slug,
        "lang": principal.lang,
        "user_id": principal.user_id,
        "key_id": principal.key_id,
        "permissions": sorted(principal.scopes),
    }


class PasswordBody(BaseModel):
    password: str = Field(max_length=1000)


@router.post("/totp")
def enrol_totp(body: PasswordBody, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Set up (or replace) the caller's second factor; the otpauth:// address is shown once."""
    if principal.user_id is None:
        raise ApiError(USERS_ONLY)
    with get_store(request).engine.begin() as conn:
        check_password(conn, user_id=principal.user_id, password=body.password)
        uri = enroll_totp(
            conn,
            workspace_id=principal.workspace_id,
            user_id=principal.user_id,
            actor=principal.actor,
        )
    return {"otpauth_uri": uri}
