"""JSON errors: {code, message (in the user's language), field}, from domain errors."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from loa.i18n import Lang, LoaError, Msg

UNAUTHENTICATED = Msg(
    "api.unauthenticated",
    "Cần đăng nhập hoặc khoá API (header Authorization: Bearer loa_...).",
    "Sign in or send an API key (header Authorization: Bearer loa_...).",
)
FORBIDDEN = Msg(
    "api.forbidden",
    "Vai trò hoặc khoá API này không có quyền '{permission}'.",
    "This role or API key lacks the permission '{permission}'.",
)
CSRF = Msg(
    "api.csrf",
    "Thiếu hoặc sai header X-CSRF-Token; tải lại trang rồi thử lại.",
    "The X-CSRF-Token header is missing or wrong; reload the page and try again.",
)
NOT_FOUND = Msg(
    "api.not_found",
    "Không tìm thấy {what} #{id} trong workspace này.",
    "There is no {what} #{id} in this workspace.",
)
INVALID = Msg(
    "api.invalid",
    "Giá trị của '{field}' không hợp lệ: {detail}.",
    "The value of '{field}' is not valid: {detail}.",
)
BAD_VALUE = Msg(
    "api.bad_value",
    "Một giá trị gửi lên không lưu được (ký tự NUL hoặc số quá lớn); sửa rồi gửi lại.",
    "A value sent cannot be stored (a NUL character or a number too large); fix it and retry.",
)
HTTP = Msg("api.http", "Lỗi HTTP {status}: {detail}.", "HTTP error {status}: {detail}.")

# Domain error codes that are not plain validation failures (422).
STATUS: dict[str, int] = {
    "api.unauthenticated": 401,
    "api.forbidden": 403,
    "api.csrf": 403,
    "api.not_found": 404,
    "accounts.bad_credentials": 401,
    "accounts.totp_required": 401,
    "accounts.totp_wrong": 401,
    "accounts.totp_enroll_required": 403,
    "accounts.api_only": 403,
    "api.users_only": 403,
    "accounts.locked": 423,
    "accounts.rate_limited": 429,
    "accounts.user_exists": 409,
    "idempotency.key_reused": 422,
    "idempotency.in_progress": 409,
    "approvals.needed": 409,
    "import.not_found": 422,
    "approvals.self": 403,
    "approvals.nothing_pending": 409,
    "campaigns.bad_transition": 409,
    "campaigns.name_taken": 409,
    "workspaces.exists": 409,
}
# Lookups of something by name or id that is not in the caller's workspace.
NOT_FOUND_ENDINGS = (".unknown", ".not_found")
NOT_FOUND_CODES = frozenset(
    {"accounts.unknown_key", "accounts.unknown_user", "tracking.unknown_campaign"}
)
# The request field a domain error is about, when the error itself does not say.
FIELD: dict[str, str] = {
    "accounts.bad_email": "email",
    "accounts.weak_password": "password",
    "accounts.bad_role": "role",
    "accounts.bad_lang": "lang",
    "accounts.bad_scope": "scopes",
    "accounts.no_scopes": "scopes",
    "accounts.bad_key_name": "name",
    "accounts.totp_required": "totp_code",
    "accounts.totp_wrong": "totp_code",
    "accounts.bad_credentials": "password",
    "idempotency.key_reused": "Idempotency-Key",
    "idempotency.bad_key": "Idempotency-Key",
    "workspaces.bad_slug": "slug",
    "events.unknown_contact": "phone",
    "import.not_found": "file",
    "campaigns.name_taken": "name",
}


class ApiError(LoaError):
    """A domain error with the HTTP status and the request field it is about."""

    def __init__(
        self, msg: Msg, *, status: int | None = None, field: str | None = None, **params: Any
    ) -> None:
        super().__init__(msg, **params)
        self.status = status
        self.field = field


def not_found(what: str, ident: object) -> ApiError:
    """The 404 for an id that is not in the caller's workspace (or does not exist at all)."""
    return ApiError(NOT_FOUND, status=404, what=what, id=ident)


def request_lang(request: Request) -> Lang:
    """The signed-in user's language, else the first of Accept-Language we speak, else vi."""
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        lang: Lang = principal.lang
        return lang
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag == "en":
            return "en"
        if tag == "vi":
            return "vi"
    return "vi"


def error_body(code: str, message: str, field: str | None) -> dict[str, Any]:
    """The JSON every error answers with."""
    return {"code": code, "message": message, "field": field}


async def _loa_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LoaError)
    status = getattr(exc, "status", None) or STATUS.get(exc.code)
    if status is None:
        status = 404 if exc.code.endswith(NOT_FOUND_ENDINGS) or exc.code in NOT_FOUND_CODES else 422
    field = getattr(exc, "field", None) or FIELD.get(exc.code)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        error_body(exc.code, exc.render(request_lang(request)), field),
        status_code=status,
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "?"}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or None
    lang = request_lang(request)
    return JSONResponse(
        error_body(
            INVALID.code, INVALID.render(lang, field=field or "?", detail=first.get("msg")), field
        ),
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    lang = request_lang(request)
    return JSONResponse(
        error_body(
            f"api.http_{exc.status_code}",
            HTTP.render(lang, status=exc.status_code, detail=exc.detail),
            None,
        ),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # The database refused a value (a NUL character, a number out of range): the caller's
    # input, so a 422 that says so rather than a 500.
    lang = request_lang(request)
    return JSONResponse(error_body(BAD_VALUE.code, BAD_VALUE.render(lang), None), status_code=422)


def install(app: FastAPI) -> None:
    """Answer every error as {code, message, field} JSON."""
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(LoaError, _loa_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
