"""What every page shares: templates, formats (VND, dd/mm/yyyy), the signed-in user, CSRF."""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from loa.i18n import Lang, LoaError, Msg, current_lang, set_lang
from loa.store.db import Store

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
SESSION_COOKIE = "loa_session"
LANG_COOKIE = "loa_lang"
LOGIN_CSRF_COOKIE = "loa_login_csrf"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "testserver", "::1"})


# Pages load only their own files: an injected script or a framing page gets nowhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def tr(vi: str, en: str) -> str:
    """The words in the language of the page being rendered."""
    return vi if current_lang() == "vi" else en


def number(value: int | float | None, digits: int = 0) -> str:
    """1.234.567 in Vietnamese, 1,234,567 in English."""
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    if current_lang() == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def vnd(value: int | float | None) -> str:
    """An amount of đồng as people write it: 1.234.567 ₫."""
    return "—" if value is None else f"{number(round(value))} ₫"


def pct(part: int | float, whole: int | float, digits: int = 1) -> str:
    """`part` of `whole` as a percentage, 0 when there is no whole."""
    return f"{number(100 * part / whole if whole else 0, digits)}%"


def local(value: datetime | str | None) -> datetime | None:
    """A moment in Vietnam time."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(VN)


def day(value: date | datetime | str | None) -> str:
    """dd/mm/yyyy."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(VN)
    return value.strftime("%d/%m/%Y")


def moment(value: datetime | str | None) -> str:
    """HH:MM dd/mm/yyyy in Vietnam time."""
    shown = local(value)
    return "—" if shown is None else shown.strftime("%H:%M %d/%m/%Y")


STATES: dict[str, tuple[str, str]] = {
    "draft": ("Nháp", "Draft"),
    "planned": ("Đã lập kế hoạch", "Planned"),
    "scheduled": ("Đã lên lịch", "Scheduled"),
    "running": ("Đang gửi", "Sending"),
    "paused": ("Tạm dừng", "Paused"),
    "completed": ("Hoàn tất", "Completed"),
    "cancelled": ("Đã huỷ", "Cancelled"),
}
STATUSES: dict[str, tuple[str, str]] = {
    "planned": ("Đã lập kế hoạch", "Planned"),
    "queued": ("Chờ gửi", "Queued"),
    "leased": ("Đang lấy ra gửi", "Being sent"),
    "submitting": ("Đang gửi", "Submitting"),
    "submitted": ("Đã gửi, chờ báo cáo", "Sent, awaiting receipt"),
    "delivered": ("Đã tới máy", "Delivered"),
    "undelivered": ("Không tới được", "Undelivered"),
    "expired": ("Hết hạn", "Expired"),
    "rejected": ("Bị từ chối", "Rejected"),
    "failed": ("Lỗi", "Failed"),
    "uncertain": ("Không rõ", "Uncertain"),
    "suppressed": ("Không gửi (chặn)", "Suppressed"),
    "cancelled": ("Đã huỷ", "Cancelled"),
    "holdout": ("Nhóm đối chứng", "Holdout"),
}


def state_name(state: str) -> str:
    """A campaign state in words."""
    return tr(*STATES[state]) if state in STATES else state


def status_name(status: str) -> str:
    """A message status in words."""
    return tr(*STATUSES[status]) if status in STATUSES else status


def plain_json(value: Any) -> str:
    """JSON as a person reads it: Vietnamese letters as they are, not \\u escapes."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        tr=tr,
        number=number,
        vnd=vnd,
        pct=pct,
        day=day,
        moment=moment,
        state_name=state_name,
        status_name=status_name,
    )
    env.filters.update(number=number, vnd=vnd, day=day, moment=moment, plain_json=plain_json)
    return env


ENV = _env()


@dataclass(frozen=True, slots=True)
class Page:
    """The signed-in person and their session, as every page needs them."""

    principal: Any  # loa.services.accounts.Principal
    csrf_token: str
    engine: Engine

    @property
    def workspace_id(self) -> int:
        return int(self.principal.workspace_id)

    @property
    def store(self) -> Store:
        """The store, scoped to the signed-in person's workspace."""
        return Store(engine=self.engine, workspace_id=self.workspace_id)

    def can(self, permission: str) -> bool:
        """Whether the person's role allows `permission`."""
        from loa.services.accounts import allowed

        return bool(allowed(self.principal, permission))


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    page: Page | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A page rendered in the current language."""
    html = ENV.get_template(template).render(
        request=request,
        page=page,
        lang=current_lang(),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def store_of(request: Request) -> Store:
    """The app's store."""
    store: Store = request.app.state.store
    return store


def cookie_lang(request: Request) -> Lang:
    """The language asked for by `?lang=` or the lang cookie; Vietnamese by default."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return "en" if asked == "en" else "vi"


def is_plain_local(request: Request) -> bool:
    """Plain http on the local machine: the only place a cookie may go without Secure."""
    return request.url.scheme == "http" and (request.url.hostname or "") in LOCAL_HOSTS


def to_sign_in(request: Request) -> HTTPException:
    """A redirect to the sign-in page that comes back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return HTTPException(status_code=303, headers={"Location": f"/login?next={quote(target)}"})


def session_page(request: Request) -> Page | None:
    """The signed-in person's page context, or None without a valid session."""
    from loa.services.accounts import session_principal

    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    store = store_of(request)
    with store.engine.begin() as conn:
        found = session_principal(conn, token)
    if found is None:
        return None
    principal, csrf_token = found
    return Page(principal=principal, csrf_token=str(csrf_token), engine=store.engine)


async def current_page(request: Request) -> Page:
    """Dependency: the signed-in person, or a redirect to the sign-in page.

    Async on purpose: the language is set in the request's own context, which the page's
    (threaded) handler then inherits; a threaded dependency's setting would be lost.
    """
    page = await run_in_threadpool(session_page, request)
    if page is None:
        set_lang(cookie_lang(request))
        raise to_sign_in(request)
    set_lang("en" if page.principal.lang == "en" else "vi")
    return page


CSRF_REJECTED = Msg(
    "web.csrf_rejected",
    "Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ (CSRF): tải lại trang rồi thử lại.",
    "The session expired or the form is not valid (CSRF): reload the page and try again.",
)


def check_csrf(page: Page, given: str | None) -> None:
    """Refuse a state-changing request whose CSRF token is not the session's."""
    if not given or not hmac.compare_digest(given, page.csrf_token):
        raise HTTPException(status_code=403, detail=CSRF_REJECTED.render())


async def form_page(request: Request) -> tuple[Page, dict[str, Any]]:
    """A signed-in POST: the page and its form fields, after the CSRF check."""
    page = await current_page(request)
    form = await request.form()
    fields: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key in fields:
            existing = fields[key]
            fields[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            fields[key] = value
    token = fields.get("csrf_token")
    check_csrf(page, token if isinstance(token, str) else None)
    return page, fields


async def json_page(request: Request) -> Page:
    """A signed-in JSON request from the page's scripts: CSRF token in X-CSRF-Token."""
    page = await current_page(request)
    check_csrf(page, request.headers.get("x-csrf-token"))
    return page


def error_text(exc: LoaError) -> str:
    """A domain error in the page's language."""
    return exc.render(current_lang())


def new_token() -> str:
    """A random token for forms and jobs."""
    return secrets.token_urlsafe(24)


def as_list(value: Any) -> list[str]:
    """A form field that may appear once, several times or not at all."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    return [str(value)] if str(value).strip() else []


class PageRoute(APIRoute):
    """A dashboard route: a refusal (403) or a missing thing (404) is shown as a page in the
    person's language to a browser, and as `{"error": ...}` to the page's scripts."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except HTTPException as exc:
                if exc.status_code not in (400, 403, 404):
                    raise
                detail = str(exc.detail) if exc.detail else tr("Không tìm thấy.", "Not found.")
                if "text/html" not in request.headers.get("accept", ""):
                    return JSONResponse({"error": detail}, status_code=exc.status_code)
                return render(request, "error.html", {"error": detail}, status_code=exc.status_code)

        return handler
