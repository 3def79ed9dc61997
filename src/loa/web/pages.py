"""The overview and the settings pages: brandnames, templates, routes, prices, users, keys and
the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from loa.i18n import LoaError, Msg
from loa.services.accounts import (
    PERMISSIONS,
    ROLES,
    create_key,
    create_user,
    get_settings,
    revoke_key,
    update_settings,
)
from loa.services.campaigns.pricing import list_prices, set_price
from loa.services.campaigns.service import list_campaigns
from loa.services.compliance.brandnames import add_brandname, workspace_brandnames
from loa.services.compliance.templates import add_template, workspace_templates
from loa.services.dispatch.routes import list_routes
from loa.store.tables import api_keys, users
from loa.web import queries
from loa.web.charts import columns
from loa.web.core import (
    STATIC,
    Page,
    PageRoute,
    as_list,
    current_page,
    error_text,
    form_page,
    render,
    tr,
)

router = APIRouter(route_class=PageRoute)

FORBIDDEN = Msg(
    "web.forbidden",
    "Vai trò của bạn ({role}) không được phép làm việc này ({permission}); hỏi chủ workspace.",
    "Your role ({role}) may not do this ({permission}); ask the workspace owner.",
)
SAVED = Msg("web.saved", "Đã lưu.", "Saved.")
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


def require(page: Page, permission: str) -> None:
    """403 with the reason when the person's role does not allow `permission`."""
    if not page.can(permission):
        raise HTTPException(
            status_code=403,
            detail=FORBIDDEN.render(role=page.principal.role, permission=permission),
        )


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The dashboard's own CSS, JS and icons (no CDN)."""
    path = (STATIC / name).resolve()
    if path.parent != STATIC.resolve() or not path.is_file() or path.suffix not in STATIC_TYPES:
        raise HTTPException(status_code=404)
    return FileResponse(
        path,
        media_type=STATIC_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, page: Page = Depends(current_page)) -> Response:
    """Today at a glance: sends, delivery, clicks, orders, spend; recent campaigns."""
    ws = page.workspace_id
    with page.engine.connect() as conn:
        days = queries.last_days(conn, workspace_id=ws)
        today = queries.today_figures(conn, workspace_id=ws, days=days)
        waiting = queries.waiting_now(conn, workspace_id=ws)
        recent = list_campaigns(conn, workspace_id=ws)[:8]
        figures = queries.campaign_figures(
            conn, workspace_id=ws, campaign_ids=[c.id for c in recent]
        )
        sending = [
            (c, queries.progress(conn, workspace_id=ws, campaign_id=c.id))
            for c in recent
            if c.state in ("scheduled", "running", "paused")
        ]
    chart = columns(
        tr("Tin gửi 14 ngày qua", "Messages over the last 14 days"),
        [d["day"].strftime("%d/%m") for d in days],
        [
            (tr("Đã gửi", "Sent"), [d["sent"] for d in days]),
            (tr("Đã nhận", "Delivered"), [d["delivered"] for d in days]),
        ],
    )
    return render(
        request,
        "overview.html",
        {
            "today": today,
            "waiting": waiting,
            "recent": recent,
            "figures": figures,
            "chart": chart,
            "sending": sending,
        },
        page=page,
    )


@router.get("/settings", response_class=HTMLResponse)
def settings(request: Request, page: Page = Depends(current_page)) -> Response:
    """Brandnames, templates, routes and prices of the workspace."""
    require(page, "settings:read")
    done = request.query_params.get("done")
    return _settings(request, page, flash=SAVED.render() if done else None)


def _settings(request: Request, page: Page, **extra: Any) -> Response:
    ws = page.workspace_id
    with page.engine.connect() as conn:
        brands = workspace_brandnames(conn, ws)
        templates = workspace_templates(conn, ws)
        routes = list_routes(conn, workspace_id=ws)
        prices = list_prices(conn, workspace_id=ws)
    table: dict[str, dict[str, Any]] = {}
    for p in prices:
        table.setdefault(p.carrier, {})[p.cls] = p
    return render(
        request,
        "settings.html",
        {"brands": brands, "templates": templates, "routes": routes, "prices": table} | extra,
        page=page,
        status_code=400 if extra.get("error") else 200,
    )


def _words(value: object) -> list[str]:
    return [w.strip() for w in str(value or "").replace(";", ",").split(",") if w.strip()]


@router.post("/settings/brandnames")
async def add_brand(request: Request) -> Response:
    """Register a brandname with its verified link domains and refusal instructions."""
    page, form = await form_page(request)
    require(page, "settings:write")
    try:
        await run_in_threadpool(
            lambda: add_brandname(
                page.store,
                str(form.get("name") or ""),
                domains=_words(form.get("domains")),
                optout_keyword=str(form.get("optout_keyword") or "").strip() or None,
                optout_shortcode=str(form.get("optout_shortcode") or "").strip() or None,
                hotline=str(form.get("hotline") or "").strip() or None,
                actor=page.principal.actor,
            )
        )
    except LoaError as exc:
        return _settings(request, page, error=error_text(exc))
    return RedirectResponse("/settings?done=brandname", status_code=303)


@router.post("/settings/prices")
async def save_prices(request: Request) -> Response:
    """The workspace's own price per part, for each carrier and class that changed."""
    page, form = await form_page(request)
    require(page, "settings:write")
    with page.engine.connect() as conn:
        current = {
            (p.carrier, p.cls): p.price_vnd
            for p in list_prices(conn, workspace_id=page.workspace_id)
        }
    try:
        with page.engine.begin() as conn:
            for (carrier, cls), price in current.items():
                raw = str(form.get(f"price:{carrier}:{cls}") or "").replace(".", "").strip()
                if not raw or raw == str(price):
                    continue
                if not raw.isdigit():
                    return _settings(
                        request,
                        page,
                        error=NOT_A_NUMBER.render(value=raw, field=f"{carrier} {cls}"),
                    )
                set_price(
                    conn,
                    workspace_id=page.workspace_id,
                    carrier=carrier,
                    cls=cls,
                    price_vnd=int(raw),
                )
    except LoaError as exc:
        return _settings(request, page, error=error_text(exc))
    return RedirectResponse("/settings?done=prices", status_code=303)


@router.post("/settings/templates")
async def add_message_template(request: Request) -> Response:
    """Register a message template (customer care templates must be approved to be sent)."""
    page, form = await form_page(request)
    require(page, "settings:write")
    try:
        await run_in_threadpool(
            lambda: add_template(
                page.store,
                str(form.get("name") or "").strip(),
                cls=str(form.get("cls") or "cskh"),
                text=str(form.get("text") or ""),
                approved=bool(form.get("approved")),
                actor=page.principal.actor,
            )
        )
    except LoaError as exc:
        return _settings(request, page, error=error_text(exc))
    return RedirectResponse("/settings?done=template", status_code=303)


@router.get("/settings/people", response_class=HTMLResponse)
def people(request: Request, page: Page = Depends(current_page)) -> Response:
    """Who may sign in, the API keys and the audit log."""
    require(page, "audit:read")
    done = request.query_params.get("done")
    return _people(request, page, flash=SAVED.render() if done else None)


def _people(request: Request, page: Page, **extra: Any) -> Response:
    ws = page.workspace_id
    with page.engine.connect() as conn:
        members = conn.execute(
            select(
                users.c.email,
                users.c.name,
                users.c.role,
                users.c.lang,
                users.c.totp_secret.is_not(None).label("totp"),
                users.c.disabled,
                users.c.last_login_at,
            )
            .where(users.c.workspace_id == ws)
            .order_by(users.c.email)
        ).all()
        keys = conn.execute(
            select(
                api_keys.c.id,
                api_keys.c.name,
                api_keys.c.prefix,
                api_keys.c.scopes,
                api_keys.c.created_by,
                api_keys.c.created_at,
                api_keys.c.last_used_at,
                api_keys.c.revoked_at,
            )
            .where(api_keys.c.workspace_id == ws)
            .order_by(api_keys.c.id.desc())
        ).all()
        audit = queries.recent_audit(conn, workspace_id=ws)
        rules = get_settings(conn, ws)
    return render(
        request,
        "people.html",
        {
            "members": members,
            "keys": keys,
            "audit": audit,
            "roles": ROLES,
            "rules": rules,
            "scopes": PERMISSIONS,
        }
        | extra,
        page=page,
        status_code=400 if extra.get("error") else 200,
    )


@router.post("/settings/users")
async def add_user(request: Request) -> Response:
    """Let one more person sign in, with a role."""
    page, form = await form_page(request)
    require(page, "users:write")
    try:
        with page.engine.begin() as conn:
            create_user(
                conn,
                workspace_id=page.workspace_id,
                email=str(form.get("email") or ""),
                password=str(form.get("password") or ""),
                role=str(form.get("role") or ""),
                lang="en" if form.get("lang") == "en" else "vi",
                actor=page.principal.actor,
            )
    except LoaError as exc:
        return _people(request, page, error=error_text(exc))
    return RedirectResponse("/settings/people?done=user", status_code=303)


@router.post("/settings/keys")
async def add_key(request: Request) -> Response:
    """Create an API key and show it this once."""
    page, form = await form_page(request)
    require(page, "keys:write")
    ip = request.client.host if request.client else None
    try:
        with page.engine.begin() as conn:
            _id, key = create_key(
                conn,
                workspace_id=page.workspace_id,
                name=str(form.get("name") or ""),
                scopes=as_list(form.get("scopes")),
                actor=page.principal.actor,
                ip=ip,
            )
    except LoaError as exc:
        return _people(request, page, error=error_text(exc))
    return _people(request, page, new_key=key)


@router.post("/settings/keys/{key_id}/revoke")
async def revoke(request: Request, key_id: int) -> Response:
    """Stop a key working at once."""
    page, _form = await form_page(request)
    require(page, "keys:write")
    ip = request.client.host if request.client else None
    try:
        with page.engine.begin() as conn:
            revoke_key(
                conn,
                workspace_id=page.workspace_id,
                key_id=key_id,
                actor=page.principal.actor,
                ip=ip,
            )
    except LoaError as exc:
        return _people(request, page, error=error_text(exc))
    return RedirectResponse("/settings/people?done=revoked", status_code=303)


RULE_NUMBERS = (
    "approval_min_recipients",
    "usual_hours_start",
    "usual_hours_end",
    "lockout_after",
    "lockout_minutes",
    "session_hours",
    "min_gap_hours",
)
RULE_SWITCHES = ("approvals", "approval_new_domain", "require_totp")
NOT_A_NUMBER = Msg(
    "web.not_a_number",
    "'{value}' ở ô {field} không phải số nguyên: nhập một số.",
    "'{value}' in {field} is not a whole number: type a number.",
)


@router.post("/settings/rules")
async def save_rules(request: Request) -> Response:
    """The workspace's rules: four eyes, usual hours, second factor, lockout, sessions."""
    page, form = await form_page(request)
    require(page, "settings:write")
    changes: dict[str, Any] = {key: bool(form.get(key)) for key in RULE_SWITCHES}
    for key in RULE_NUMBERS:
        raw = str(form.get(key) or "").strip()
        if not raw.isdigit():
            return _people(request, page, error=NOT_A_NUMBER.render(value=raw, field=key))
        changes[key] = int(raw)
    ip = request.client.host if request.client else None
    try:
        with page.engine.begin() as conn:
            update_settings(conn, page.workspace_id, changes, actor=page.principal.actor, ip=ip)
    except LoaError as exc:
        return _people(request, page, error=error_text(exc))
    return RedirectResponse("/settings/people?done=rules", status_code=303)
