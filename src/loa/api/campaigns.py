"""Campaigns: create, plan, start (with four-eyes approval), pause, resume, cancel, report."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Connection, select

from loa.api.common import Cursor, IdPath, Limit, decode_cursor, page, plain, workspace_store
from loa.api.deps import client_ip, get_store, require
from loa.api.errors import not_found, request_lang
from loa.services.accounts import Principal
from loa.services.accounts import approvals as four_eyes
from loa.services.campaigns.planner import plan_campaign
from loa.services.campaigns.service import (
    Campaign,
    CampaignSpec,
    Schedule,
    Variant,
    change_state,
    create_campaign,
    equal_variants,
    get_campaign,
    history,
)
from loa.store.tables import campaigns

router = APIRouter(tags=["campaigns"])

Read = Annotated[Principal, Depends(require("campaigns:read"))]
Write = Annotated[Principal, Depends(require("campaigns:write"))]
Send = Annotated[Principal, Depends(require("campaigns:send"))]
Approve = Annotated[Principal, Depends(require("campaigns:approve"))]


class VariantIn(BaseModel):
    name: str = Field(max_length=16)
    text: str = Field(max_length=2000)
    share_pct: int = Field(ge=0, le=100)


class ScheduleIn(BaseModel):
    mode: Literal["now", "at", "window", "golden"] = "now"
    at: AwareDatetime | None = None
    until: AwareDatetime | None = None
    preset: str | None = Field(default=None, max_length=40)
    windows: list[str] = Field(default_factory=list, max_length=20)
    holidays: Literal["any", "avoid", "only"] = "any"
    best_hour: bool = False


class NewCampaign(BaseModel):
    name: str = Field(max_length=200)
    cls: str = Field(alias="class", max_length=8, description="qc / cskh / public")
    sender: str = Field(max_length=64)
    include: list[str] = Field(max_length=20, description="segment names")
    exclude: list[str] = Field(default_factory=list, max_length=20)
    texts: list[str] = Field(
        default_factory=list, max_length=10, description="variants sharing the audience equally"
    )
    variants: list[VariantIn] = Field(default_factory=list, max_length=10)
    template: str | None = Field(default=None, max_length=100)
    holdout_pct: int = Field(default=0, ge=0, le=100)
    schedule: ScheduleIn = Field(default_factory=ScheduleIn)
    budget_vnd: int | None = Field(default=None, ge=0, le=10**15)
    max_tps: int | None = Field(default=None, ge=1, le=100_000)
    attribution_days: int = Field(default=7, ge=0, le=365)
    allow_defer: bool = True
    short_domain: str | None = Field(default=None, max_length=100)
    goal: dict[str, Any] | None = None


class Decision(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


def _out(campaign: Campaign) -> dict[str, Any]:
    row: dict[str, Any] = plain(campaign)
    row["class"] = row.pop("cls")
    return row


def _owned(conn: Connection, principal: Principal, campaign_id: int) -> Campaign:
    found = conn.execute(
        select(campaigns.c.id).where(
            campaigns.c.workspace_id == principal.workspace_id, campaigns.c.id == campaign_id
        )
    ).first()
    if found is None:
        raise not_found("campaign", campaign_id)
    return get_campaign(conn, workspace_id=principal.workspace_id, campaign_id=campaign_id)


@router.get("/campaigns")
def campaigns_list(
    request: Request, principal: Read, limit: int = Limit, cursor: str | None = Cursor
) -> dict[str, Any]:
    """Campaigns, newest first."""
    after = decode_cursor(cursor)
    query = (
        select(campaigns.c.id)
        .where(campaigns.c.workspace_id == principal.workspace_id)
        .order_by(campaigns.c.id.desc())
        .limit(limit + 1)
    )
    if isinstance(after, int):
        query = query.where(campaigns.c.id < after)
    with get_store(request).engine.connect() as conn:
        ids = conn.execute(query).scalars().all()
        rows = [
            _out(get_campaign(conn, workspace_id=principal.workspace_id, campaign_id=i))
            for i in ids
        ]
    return page(rows, limit)


@router.post("/campaigns", status_code=201)
def campaigns_create(body: NewCampaign, request: Request, principal: Write) -> dict[str, Any]:
    """A new draft campaign (every field checked; nothing is sent until it is started)."""
    variants: tuple[Variant, ...] = (
        tuple(Variant(v.name, v.text, v.share_pct) for v in body.variants)
        if body.variants
        else equal_variants(body.texts)
        if body.texts
        else ()
    )
    spec = CampaignSpec(
        name=body.name,
        cls=body.cls,
        sender=body.sender,
        include=tuple(body.include),
        exclude=tuple(body.exclude),
        variants=variants,
        template=body.template,
        holdout_pct=body.holdout_pct,
        schedule=Schedule(
            mode=body.schedule.mode,
            at=body.schedule.at,
            until=body.schedule.until,
            preset=body.schedule.preset,
            windows=tuple(body.schedule.windows),
            holidays=body.schedule.holidays,
            best_hour=body.schedule.best_hour,
        ),
        budget_vnd=body.budget_vnd,
        max_tps=body.max_tps,
        attribution_days=body.attribution_days,
        allow_defer=body.allow_defer,
        short_domain=body.short_domain,
        goal=body.goal,
    )
    with get_store(request).engine.begin() as conn:
        campaign_id = create_campaign(
            conn, workspace_id=principal.workspace_id, spec=spec, actor=principal.actor
        )
        return _out(
            get_campaign(conn, workspace_id=principal.workspace_id, campaign_id=campaign_id)
        )


@router.get("/campaigns/{campaign_id}")
def campaigns_get(campaign_id: IdPath, request: Request, principal: Read) -> dict[str, Any]:
    """One campaign with its history of state changes."""
    with get_store(request).engine.connect() as conn:
        campaign = _owned(conn, principal, campaign_id)
        changes = history(conn, workspace_id=principal.workspace_id, campaign_id=campaign_id)
    return {**_out(campaign), "history": plain(changes)}


@router.post("/campaigns/{campaign_id}/plan")
async def campaigns_plan(campaign_id: IdPath, request: Request, principal: Write) -> dict[str, Any]:
    """Plan (or re-plan): one decision per recipient, the cost, and every suppression reason."""
    with get_store(request).engine.connect() as conn:
        _owned(conn, principal, campaign_id)
    report = await asyncio.to_thread(
        plan_campaign, workspace_store(request, principal), campaign_id, actor=principal.actor
    )
    return report.to_json()


def _move(request: Request, principal: Principal, campaign_id: int, to: str) -> dict[str, Any]:
    with get_store(request).engine.begin() as conn:
        _owned(conn, principal, campaign_id)
        campaign = change_state(
            conn,
            workspace_id=principal.workspace_id,
            campaign_id=campaign_id,
            to=to,
            actor=principal.actor,
            settings=request.app.state.settings,
        )
    return _out(campaign)


@router.post(
    "/campaigns/{campaign_id}/start",
    responses={202: {"description": "waiting for a second person's approval"}},
)
def campaigns_start(campaign_id: IdPath, request: Request, principal: Send) -> Any:
    """Start sending; a campaign that needs four eyes answers 202 and waits for approval."""
    with get_store(request).engine.begin() as conn:
        campaign = _owned(conn, principal, campaign_id)
        if campaign.state == "planned":
            reasons = four_eyes.approval_reasons(
                conn, workspace_id=principal.workspace_id, campaign_id=campaign_id
            )
            approved = four_eyes.is_approved(
                conn, workspace_id=principal.workspace_id, campaign_id=campaign_id
            )
            if reasons and not approved:
                asked = four_eyes.request_approval(
                    conn,
                    workspace_id=principal.workspace_id,
                    campaign_id=campaign_id,
                    actor=principal.actor,
                    reasons=reasons,
                )
                return JSONResponse(
                    {
                        **_out(campaign),
                        "approval": plain(asked),
                        "message": four_eyes.NEEDS_APPROVAL.render(
                            request_lang(request),
                            id=campaign_id,
                            reasons=four_eyes.describe(reasons, request_lang(request)),
                        ),
                    },
                    status_code=202,
                )
    return _move(request, principal, campaign_id, "scheduled")


@router.post("/campaigns/{campaign_id}/pause")
def campaigns_pause(campaign_id: IdPath, request: Request, principal: Send) -> dict[str, Any]:
    """Pause: nothing more leaves until it is resumed."""
    return _move(request, principal, campaign_id, "paused")


@router.post("/campaigns/{campaign_id}/resume")
def campaigns_resume(campaign_id: IdPath, request: Request, principal: Send) -> dict[str, Any]:
    """Resume a paused campaign."""
    return _move(request, principal, campaign_id, "scheduled")


@router.post("/campaigns/{campaign_id}/cancel")
def campaigns_cancel(campaign_id: IdPath, request: Request, principal: Send) -> dict[str, Any]:
    """Cancel: nothing not yet handed to a carrier will leave."""
    return _move(request, principal, campaign_id, "cancelled")


@router.post("/campaigns/{campaign_id}/approve")
def campaigns_approve(
    campaign_id: IdPath, body: Decision, request: Request, principal: Approve
) -> dict[str, Any]:
    """Approve the waiting request (a second person: not the one who asked)."""
    return _decide(request, principal, campaign_id, body, approve=True)


@router.post("/campaigns/{campaign_id}/reject")
def campaigns_reject(
    campaign_id: IdPath, body: Decision, request: Request, principal: Approve
) -> dict[str, Any]:
    """Reject the waiting request."""
    return _decide(request, principal, campaign_id, body, approve=False)


def _decide(
    request: Request, principal: Principal, campaign_id: int, body: Decision, *, approve: bool
) -> dict[str, Any]:
    with get_store(request).engine.begin() as conn:
        _owned(conn, principal, campaign_id)
        decided = four_eyes.decide(
            conn,
            workspace_id=principal.workspace_id,
            campaign_id=campaign_id,
            actor=principal.actor,
            approve=approve,
            note=body.note,
            ip=client_ip(request),
        )
    return plain(decided)  # type: ignore[no-any-return]


@router.get("/approvals")
def approvals_list(
    request: Request,
    principal: Read,
    status: Literal["pending", "approved", "rejected"] | None = None,
) -> dict[str, Any]:
    """Approval requests, newest first."""
    with get_store(request).engine.connect() as conn:
        found = four_eyes.list_approvals(conn, workspace_id=principal.workspace_id, status=status)
    return {"items": plain(found), "next_cursor": None}


@router.get("/campaigns/{campaign_id}/report")
def campaigns_report(
    campaign_id: IdPath,
    request: Request,
    principal: Annotated[Principal, Depends(require("reports:read"))],
) -> dict[str, Any]:
    """Delivered, clicked, converted, cost, revenue and ROI, per variant and carrier."""
    with get_store(request).engine.begin() as conn:
        _owned(conn, principal, campaign_id)
        try:
            from loa.services.tracking.report import campaign_report
        except ImportError:
            from loa.services.dispatch.ledger import report

            return plain(report(conn, campaign_id))  # type: ignore[no-any-return]
        return plain(  # type: ignore[no-any-return]
            campaign_report(conn, workspace_id=principal.workspace_id, campaign_id=campaign_id)
        )
