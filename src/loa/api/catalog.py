"""Segments, brandnames, templates, routes, compliance checks and vouchers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from loa.api.common import Cursor, Limit, page_of, plain, workspace_store
from loa.api.deps import get_store, require
from loa.api.errors import not_found, request_lang
from loa.domain.compose import load_carriers
from loa.services.accounts import Principal
from loa.services.compliance.brandnames import add_brandname, workspace_brandnames
from loa.services.compliance.check import check_message
from loa.services.compliance.templates import add_template, workspace_templates
from loa.services.dispatch.routes import add_route, list_routes, remove_route
from loa.services.segments.service import (
    Segment,
    count_segment,
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    preview_segment,
)
from loa.services.vouchers import batch_summaries, issue_vouchers, list_vouchers, redeem_voucher

router = APIRouter()

SECRET_WORDS = ("password", "token", "secret", "key", "credential")


class NewSegment(BaseModel):
    name: str = Field(max_length=100)
    rule: dict[str, Any]
    description: str | None = Field(default=None, max_length=2000)


class SegmentRule(BaseModel):
    rule: dict[str, Any]


class NewBrandname(BaseModel):
    name: str = Field(max_length=11)
    domains: list[str] = Field(default_factory=list, max_length=50)
    carriers: list[str] | None = Field(default=None, max_length=20)
    registered_on: date | None = None
    expires_on: date | None = None
    optout_keyword: str | None = Field(default=None, max_length=20)
    optout_shortcode: str | None = Field(default=None, max_length=20)
    hotline: str | None = Field(default=None, max_length=20)
    replace: bool = False


class NewTemplate(BaseModel):
    name: str = Field(max_length=100)
    cls: str = Field(alias="class", max_length=12)
    text: str = Field(max_length=2000)
    approved: bool = False
    carriers: list[str] | None = Field(default=None, max_length=20)
    otp: bool = False
    replace: bool = False


class NewRoute(BaseModel):
    name: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    settings: dict[str, Any]
    carriers: list[str] | None = Field(default=None, max_length=20)
    tps: int | None = Field(default=None, ge=1, le=100_000)
    window: int = Field(default=50, ge=1, le=1000)
    priority: int = Field(default=0, ge=-100, le=100)
    failover: str | None = Field(default=None, max_length=64)


class CheckBody(BaseModel):
    text: str = Field(max_length=5000)
    sender: str | None = Field(default=None, max_length=64)
    cls: str = Field(alias="class", max_length=12)
    template: str | None = Field(default=None, max_length=100)


class NewVouchers(BaseModel):
    batch: str = Field(max_length=100)
    segment: str | None = Field(default=None, max_length=100)
    count: int | None = Field(default=None, ge=1, le=1_000_000)
    value: str | None = Field(default=None, max_length=100)
    expires_at: AwareDatetime | None = None
    prefix: str | None = Field(default=None, max_length=20)


class Redeem(BaseModel):
    code: str = Field(max_length=64)
    by: str = Field(max_length=200, description="who used it: a phone number or an order id")


def _segment(segment: Segment, lang: str) -> dict[str, Any]:
    return {
        "name": segment.name,
        "title": segment.title("en" if lang == "en" else "vi"),
        "rule": segment.rule,
        "builtin": segment.builtin,
        "description": segment.description,
        "count": segment.count,
    }


def _redacted(settings: Any) -> Any:
    """Route settings without passwords or tokens (they are write-only over the API)."""
    if isinstance(settings, dict):
        return {
            k: "***" if any(w in k.lower() for w in SECRET_WORDS) and v else _redacted(v)
            for k, v in settings.items()
        }
    return settings


SegRead = Annotated[Principal, Depends(require("segments:read"))]
SegWrite = Annotated[Principal, Depends(require("segments:write"))]
SetRead = Annotated[Principal, Depends(require("settings:read"))]
SetWrite = Annotated[Principal, Depends(require("settings:write"))]
CampRead = Annotated[Principal, Depends(require("campaigns:read"))]
CampWrite = Annotated[Principal, Depends(require("campaigns:write"))]


@router.get("/segments", tags=["segments"])
def segments_list(
    request: Request,
    principal: SegRead,
    counts: bool = False,
    limit: int = Limit,
    cursor: str | None = Cursor,
) -> dict[str, Any]:
    """Built-in and stored segments (with member counts when `counts=true`)."""
    with get_store(request).engine.connect() as conn:
        found = list_segments(conn, workspace_id=principal.workspace_id, counts=counts)
    lang = request_lang(request)
    return page_of([_segment(s, lang) for s in found], cursor, limit, "name")


@router.post("/segments", status_code=201, tags=["segments"])
def segments_create(body: NewSegment, request: Request, principal: SegWrite) -> dict[str, Any]:
    """Store a segment after checking its name and rule."""
    with get_store(request).engine.begin() as conn:
        segment = create_segment(
            conn,
            workspace_id=principal.workspace_id,
            name=body.name,
            rule=body.rule,
            description=body.description,
        )
    return _segment(segment, request_lang(request))


@router.post("/segments/count", tags=["segments"])
def segments_count_rule(body: SegmentRule, request: Request, principal: SegRead) -> dict[str, Any]:
    """How many contacts a rule holds now (the live count of the rule builder)."""
    with get_store(request).engine.connect() as conn:
        n = count_segment(conn, workspace_id=principal.workspace_id, segment=body.rule)
    return {"count": n}


@router.get("/segments/{name}", tags=["segments"])
def segments_get(name: str, request: Request, principal: SegRead) -> dict[str, Any]:
    """One segment with its count."""
    with get_store(request).engine.connect() as conn:
        segment = get_segment(conn, workspace_id=principal.workspace_id, name=name)
        n = count_segment(conn, workspace_id=principal.workspace_id, segment=segment)
    return {**_segment(segment, request_lang(request)), "count": n}


@router.get("/segments/{name}/preview", tags=["segments"])
def segments_preview(
    name: str,
    request: Request,
    principal: SegRead,
    limit: int = Query(20, ge=1, le=200),
) -> dict[str, Any]:
    """The first members of a segment with their purchase figures."""
    with get_store(request).engine.connect() as conn:
        rows = preview_segment(conn, workspace_id=principal.workspace_id, segment=name, limit=limit)
    return {"items": plain(rows)}


@router.delete("/segments/{name}", status_code=204, tags=["segments"])
def segments_delete(name: str, request: Request, principal: SegWrite) -> None:
    """Delete a stored segment."""
    with get_store(request).engine.begin() as conn:
        delete_segment(conn, workspace_id=principal.workspace_id, name=name)


@router.get("/brandnames", tags=["compliance"])
def brandnames_list(
    request: Request, principal: SetRead, limit: int = Limit, cursor: str | None = Cursor
) -> dict[str, Any]:
    """The workspace's brandnames with their verified link domains."""
    with get_store(request).engine.connect() as conn:
        found = workspace_brandnames(conn, principal.workspace_id)
    return page_of(found, cursor, limit, "name")


@router.post("/brandnames", status_code=201, tags=["compliance"])
def brandnames_add(body: NewBrandname, request: Request, principal: SetWrite) -> dict[str, Any]:
    """Register a brandname (or with `replace`, update it)."""
    found = add_brandname(
        workspace_store(request, principal),
        body.name,
        domains=body.domains,
        carriers=body.carriers,
        registered_on=body.registered_on,
        expires_on=body.expires_on,
        optout_keyword=body.optout_keyword,
        optout_shortcode=body.optout_shortcode,
        hotline=body.hotline,
        replace=body.replace,
        actor=principal.actor,
    )
    return plain(found)  # type: ignore[no-any-return]


@router.get("/templates", tags=["compliance"])
def templates_list(
    request: Request, principal: CampRead, limit: int = Limit, cursor: str | None = Cursor
) -> dict[str, Any]:
    """The workspace's message templates (customer-care templates carriers approved)."""
    with get_store(request).engine.connect() as conn:
        found = workspace_templates(conn, principal.workspace_id)
    return page_of(found, cursor, limit, "name")


@router.post("/templates", status_code=201, tags=["compliance"])
def templates_add(body: NewTemplate, request: Request, principal: CampWrite) -> dict[str, Any]:
    """Register a template (or with `replace`, update it)."""
    found = add_template(
        workspace_store(request, principal),
        body.name,
        cls=body.cls,
        text=body.text,
        approved=body.approved,
        carriers=body.carriers,
        otp=body.otp,
        replace=body.replace,
        actor=principal.actor,
    )
    return plain(found)  # type: ignore[no-any-return]


@router.get("/routes", tags=["routes"])
def routes_list(
    request: Request, principal: SetRead, limit: int = Limit, cursor: str | None = Cursor
) -> dict[str, Any]:
    """Where messages leave (passwords and tokens hidden)."""
    with get_store(request).engine.connect() as conn:
        found = list_routes(conn, workspace_id=principal.workspace_id)
    rows = [{**plain(r), "settings": _redacted(dict(r.settings))} for r in found]
    for row in rows:
        row.pop("workspace_id", None)
    return page_of(rows, cursor, limit, "id")


@router.post("/routes", status_code=201, tags=["routes"])
def routes_add(body: NewRoute, request: Request, principal: SetWrite) -> dict[str, Any]:
    """Add a route; its settings are checked by building its channel first."""
    with get_store(request).engine.begin() as conn:
        route = add_route(
            conn,
            workspace_id=principal.workspace_id,
            name=body.name,
            kind=body.kind,
            settings=body.settings,
            carriers=body.carriers,
            tps=body.tps,
            window=body.window,
            priority=body.priority,
            failover=body.failover,
            known_carriers=sorted(load_carriers()),
        )
    row = {**plain(route), "settings": _redacted(dict(route.settings))}
    row.pop("workspace_id", None)
    return row


@router.delete("/routes/{name}", status_code=204, tags=["routes"])
def routes_remove(name: str, request: Request, principal: SetWrite) -> None:
    """Remove a route."""
    with get_store(request).engine.begin() as conn:
        remove_route(conn, workspace_id=principal.workspace_id, name=name)


@router.post("/compliance/check", tags=["compliance"])
def compliance_check(body: CheckBody, request: Request, principal: CampRead) -> dict[str, Any]:
    """Judge a message under a brandname and class: allowed, or every reason against it."""
    result = check_message(
        workspace_store(request, principal), body.text, body.sender, body.cls, body.template
    )
    return result.to_dict(request_lang(request))


@router.get("/vouchers", tags=["vouchers"])
def vouchers_batches(
    request: Request, principal: CampRead, limit: int = Limit, cursor: str | None = Cursor
) -> dict[str, Any]:
    """Voucher batches: issued, redeemed, expired unused."""
    with get_store(request).engine.connect() as conn:
        found = batch_summaries(conn, workspace_id=principal.workspace_id)
    return page_of(found, cursor, limit, "batch")


@router.post("/vouchers", status_code=201, tags=["vouchers"])
def vouchers_issue(body: NewVouchers, request: Request, principal: CampWrite) -> dict[str, Any]:
    """Issue a code per member of a segment, or `count` unassigned codes."""
    with get_store(request).engine.begin() as conn:
        report = issue_vouchers(
            conn,
            workspace_id=principal.workspace_id,
            batch=body.batch,
            segment=body.segment,
            count=body.count,
            value=body.value,
            expires_at=body.expires_at,
            prefix=body.prefix,
            actor=principal.actor,
        )
    return plain(report)  # type: ignore[no-any-return]


@router.get("/vouchers/{batch}", tags=["vouchers"])
def vouchers_list(
    batch: str,
    request: Request,
    principal: CampRead,
    limit: int = Limit,
    cursor: str | None = Cursor,
) -> dict[str, Any]:
    """The codes of a batch, in the order they were issued."""
    with get_store(request).engine.connect() as conn:
        found = list_vouchers(conn, workspace_id=principal.workspace_id, batch=batch)
    if not found:
        raise not_found("voucher batch", batch)
    return page_of(found, cursor, limit, "code")


@router.post("/vouchers/redeem", tags=["vouchers"])
def vouchers_redeem(
    body: Redeem,
    request: Request,
    principal: Annotated[Principal, Depends(require("events:write"))],
) -> dict[str, Any]:
    """Mark a code used, or refuse it with the reason (mistyped, unknown, expired, used)."""
    with get_store(request).engine.begin() as conn:
        voucher = redeem_voucher(
            conn,
            workspace_id=principal.workspace_id,
            code=body.code,
            by=body.by,
            actor=principal.actor,
        )
    return plain(voucher)  # type: ignore[no-any-return]
