"""Signing in and out, and choosing the language."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import update

from loa.i18n import LoaError, Msg, set_lang
from loa.store.tables import users
from loa.web.core import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    PageRoute,
    cookie_lang,
    error_text,
    form_page,
    is_plain_local,
    new_token,
    render,
    session_page,
    store_of,
)

router = APIRouter(route_class=PageRoute)

LOGIN_EXPIRED = Msg(
    "web.login_expired",
    "Biểu mẫu đăng nhập đã hết hạn: tải lại trang rồi đăng nhập lại.",
    "The sign-in form expired: reload the page and sign in again.",
)


def _safe_next(value: object) -> str:
    """Only a path on this site: never an open redirect to somebody else's."""
    text = value if isinstance(value, str) else ""
    return text if text.startswith("/") and not text.startswith("//") else "/"


def _login_page(
    request: Request, *, next_url: str, email: str = "", error: str | None = None, status: int = 200
) -> HTMLResponse:
    token = new_token()
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "next": next_url, "email": email, "error": error},
        status_code=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=not is_plain_local(request),
        max_age=3600,
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    """The sign-in page (straight on for someone already signed in)."""
    if request.cookies.get(SESSION_COOKIE) and session_page(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    lang = cookie_lang(request)
    set_lang(lang)
    response = _login_page(request, next_url=_safe_next(request.query_params.get("next")))
    if request.query_params.get("lang"):
        response.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request) -> Response:
    """Check the email and password; on success set the session cookie and go on."""
    from loa.services.accounts import sign_in

    set_lang(cookie_lang(request))
    form = await request.form()
    email = str(form.get("email") or "").strip()
    next_url = _safe_next(form.get("next"))
    given = str(form.get("csrf_token") or "")
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not given or not expected or not hmac.compare_digest(given, expected):
        return _login_page(
            request, next_url=next_url, email=email, error=LOGIN_EXPIRED.render(), status=403
        )
    totp = str(form.get("totp") or "").strip() or None
    store = store_of(request)
    ip = request.client.host if request.client else ""
    try:
        with store.engine.begin() as conn:
            done = sign_in(
                conn,
                email=email,
                password=str(form.get("password") or ""),
                ip=ip,
                totp_code=totp,
            )
    except LoaError as exc:
        return _login_page(
            request, next_url=next_url, email=email, error=error_text(exc), status=401
        )
    response = RedirectResponse(next_url, status_code=303)
    max_age = None
    if isinstance(done.expires_at, datetime):
        max_age = max(0, int((done.expires_at - datetime.now(UTC)).total_seconds()))
    response.set_cookie(
        SESSION_COOKIE,
        done.session_token,
        httponly=True,
        samesite="lax",
        secure=not is_plain_local(request),
        max_age=max_age,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    response.set_cookie(LANG_COOKIE, done.principal.lang, samesite="lax", max_age=365 * 86400)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session and go back to the sign-in page."""
    from loa.services.accounts import sign_out

    await form_page(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with store_of(request).engine.begin() as conn:
            sign_out(conn, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/account/lang")
async def switch_lang(request: Request) -> Response:
    """Remember the person's language (vi or en) and show the same page in it."""
    page, form = await form_page(request)
    lang = "en" if form.get("lang") == "en" else "vi"
    with page.engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == page.principal.user_id).values(lang=lang))
    response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
    response.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
    return response
