"""Segments: the list, a rule builder with a live count, and one segment's first members."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from loa.i18n import LoaError, Msg
from loa.services.segments import (
    count_segment,
    create_segment,
    get_segment,
    list_segments,
    preview_segment,
    rule_from_text,
)
from loa.web.core import (
    Page,
    PageRoute,
    current_page,
    error_text,
    form_page,
    json_page,
    number,
    render,
    tr,
)
from loa.web.pages import require

router = APIRouter(route_class=PageRoute)

NOT_A_RULE = Msg(
    "web.not_a_rule",
    'Điều kiện phải là một đối tượng JSON, ví dụ {"tag": "vip"}.',
    'The rule must be a JSON object, e.g. {"tag": "vip"}.',
)
CREATED = Msg(
    "web.segment_saved",
    "Đã lưu phân khúc '{name}': {count} khách hàng.",
    "Saved the segment '{name}': {count} contacts.",
)


def _segments_page(request: Request, page: Page, **extra: Any) -> Response:
    with page.engine.connect() as conn:
        found = list_segments(conn, workspace_id=page.workspace_id)
    context = {"segments": found, "name": "", "description": "", "rule": '{"all": []}'} | extra
    status = 400 if extra.get("error") else 200
    return render(request, "segments.html", context, page=page, status_code=status)


@router.get("/segments", response_class=HTMLResponse)
def segments_page(request: Request, page: Page = Depends(current_page)) -> Response:
    """Every segment of the workspace and the rule builder."""
    require(page, "segments:read")
    flash = None
    if request.query_params.get("created"):
        flash = CREATED.render(
            name=request.query_params["created"], count=request.query_params.get("count", "?")
        )
    return _segments_page(request, page, flash=flash)


def _count(page: Page, target: str | dict[str, Any]) -> int:
    with page.engine.connect() as conn:
        return count_segment(conn, workspace_id=page.workspace_id, segment=target)


@router.post("/segments/count")
async def live_count(request: Request) -> JSONResponse:
    """How many contacts a rule (or a segment name) matches now; the builder calls it live."""
    page = await json_page(request)
    require(page, "segments:read")
    body = await request.json()
    target = body.get("rule") if isinstance(body, dict) else None
    try:
        if isinstance(target, str):
            target = rule_from_text(target) if target.strip().startswith("{") else target
        if not isinstance(target, dict | str):
            return JSONResponse({"error": NOT_A_RULE.render()}, status_code=400)
        n = await run_in_threadpool(_count, page, target)
    except LoaError as exc:
        return JSONResponse({"error": error_text(exc), "code": exc.code}, status_code=400)
    return JSONResponse({"count": n, "text": f"{number(n)} {tr('khách hàng', 'contacts')}"})


@router.post("/segments")
async def save_segment(request: Request) -> Response:
    """Save the rule under a name."""
    page, form = await form_page(request)
    require(page, "segments:write")
    name = str(form.get("name") or "")
    description = str(form.get("description") or "").strip() or None
    rule_text = str(form.get("rule") or "")
    try:
        rule = rule_from_text(rule_text)
        with page.engine.begin() as conn:
            saved = create_segment(
                conn,
                workspace_id=page.workspace_id,
                name=name,
                rule=rule,
                description=description,
            )
            n = count_segment(conn, workspace_id=page.workspace_id, segment=saved)
    except LoaError as exc:
        return _segments_page(
            request,
            page,
            error=error_text(exc),
            name=name,
            description=description or "",
            rule=rule_text,
        )
    from urllib.parse import urlencode

    query = urlencode({"created": saved.name, "count": number(n)})
    return RedirectResponse(f"/segments?{query}", status_code=303)


@router.get("/segments/{name}", response_class=HTMLResponse)
def segment_page(request: Request, name: str, page: Page = Depends(current_page)) -> Response:
    """One segment: its rule, its size and its first members."""
    require(page, "segments:read")
    try:
        with page.engine.connect() as conn:
            segment = get_segment(conn, workspace_id=page.workspace_id, name=name)
            n = count_segment(conn, workspace_id=page.workspace_id, segment=segment)
            members = preview_segment(conn, workspace_id=page.workspace_id, segment=segment)
    except LoaError as exc:
        return _segments_page(request, page, error=error_text(exc))
    return render(
        request,
        "segment.html",
        {
            "segment": segment,
            "count": n,
            "members": members,
            "rule_json": json.dumps(segment.rule, ensure_ascii=False, indent=2),
        },
        page=page,
    )
