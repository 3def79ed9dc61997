"""Automations: rules that answer events and dates with one message each (create, list,
pause, resume, history, the daily run, the ready templates)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from loa.api.common import Limit, workspace_store
from loa.api.deps import get_store, require
from loa.api.errors import ApiError, not_found
from loa.i18n import LoaError
from loa.services.accounts import Principal
from loa.services.automations.builtins import BUILTINS, DAILY_TYPES, EVENT_TYPES
from loa.services.automations.engine import run_daily, run_history
from loa.services.automations.rules import (
    STATE_ACTIVE,
    STATE_PAUSED,
    Automation,
    create_automation,
    get_automation,
    list_automations,
    parse_condition,
    parse_delay,
    set_state,
)

router = APIRouter(tags=["automations"])

# Automations send messages like campaigns do, so the campaign permissions govern them.
Read = Annotated[Principal, Depends(require("campaigns:read"))]
Write = Annotated[Principal, Depends(require("campaigns:write"))]
Send = Annotated[Principal, Depends(require("campaigns:send"))]


class NewAutomation(BaseModel):
    events: list[str] = Field(min_length=1, max_length=10, description="e.g. order_completed")
    template: str = Field(max_length=100, description="a registered or ready template")
    sender: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=100)
    delay: str | None = Field(
        default=None, max_length=60, description="now, 30m, 09:00, '24h before starts_at'"
    )
    channels: list[str] = Field(default_factory=lambda: ["sms"], min_length=1, max_length=3)
    fallback_after_s: int | None = Field(default=None, ge=1, le=7 * 86_400)
    conditions: list[str] = Field(
        default_factory=list, max_length=20, description="e.g. value_vnd>=500000"
    )
    segment: str | dict[str, Any] | None = None
    limit_days: int | None = Field(default=None, ge=1, le=3650)
    voucher: dict[str, Any] | None = None
    params: dict[str, Any] | None = None


# The request field each rule error is about (the API names it beside the message).
FIELDS: dict[str, str] = {
    "automations.bad_event": "events",
    "automations.bad_name": "name",
    "automations.name_taken": "name",
    "automations.unknown_template": "template",
    "automations.template_missing": "template",
    "automations.template_unapproved": "template",
    "automations.template_not_cskh": "template",
    "automations.unknown_sender": "sender",
    "automations.bad_channels": "channels",
    "automations.bad_delay": "delay",
    "automations.daily_time": "delay",
    "automations.bad_condition": "conditions",
}


def _owned(conn: Connection, principal: Principal, ref: str) -> Automation:
    try:
        return get_automation(conn, workspace_id=principal.workspace_id, name=ref)
    except LoaError:
        raise not_found("automation", ref) from None


@router.get("/automations")
def automations_list(request: Request, principal: Read) -> dict[str, Any]:
    """Every rule of the workspace, oldest first."""
    with get_store(request).engine.connect() as conn:
        found = list_automations(conn, workspace_id=principal.workspace_id)
    return {"items": [a.to_dict() for a in found]}


@router.get("/automations/templates")
def automations_templates(principal: Read) -> dict[str, Any]:
    """The built-in event types and their ready messages in Vietnamese and English."""
    types = {**EVENT_TYPES, **DAILY_TYPES}
    return {
        "events": {k: {"vi": v.vi, "en": v.en} for k, v in types.items()},
        "templates": [
            {
                "name": b.name,
                "events": [b.event, *b.also],
                "class": b.cls,
                "timing": b.timing,
                "vi": b.vi,
                "en": b.en,
                "voucher": b.voucher,
            }
            for b in BUILTINS.values()
        ],
    }


@router.post("/automations", status_code=201)
def automations_create(body: NewAutomation, request: Request, principal: Write) -> dict[str, Any]:
    """A new rule, active at once; errors name the field and the fix."""
    try:
        return _create(body, request, principal)
    except LoaError as exc:
        if isinstance(exc, ApiError) or exc.code not in FIELDS:
            raise
        status = 409 if exc.code == "automations.name_taken" else 422
        raise ApiError(exc.msg, status=status, field=FIELDS[exc.code], **exc.params) from exc


def _create(body: NewAutomation, request: Request, principal: Principal) -> dict[str, Any]:
    with get_store(request).engine.begin() as conn:
        found = create_automation(
            conn,
            workspace_id=principal.workspace_id,
            event=body.events,
            template=body.template,
            sender=body.sender,
            name=body.name,
            timing=parse_delay(body.delay) if body.delay is not None else None,
            channels=body.channels,
            fallback_after_s=body.fallback_after_s,
            conditions=[parse_condition(c) for c in body.conditions],
            segment=body.segment,
            limit_days=body.limit_days,
            voucher=body.voucher,
            params=body.params,
            actor=principal.actor,
        )
    return found.to_dict()


@router.get("/automations/{ref}")
def automations_get(ref: str, request: Request, principal: Read) -> dict[str, Any]:
    """One rule, by name or id."""
    with get_store(request).engine.connect() as conn:
        return _owned(conn, principal, ref).to_dict()


def _state(request: Request, principal: Principal, ref: str, state: str) -> dict[str, Any]:
    with get_store(request).engine.begin() as conn:
        found = _owned(conn, principal, ref)
        return set_state(
            conn,
            workspace_id=principal.workspace_id,
            name=str(found.id),
            state=state,
            actor=principal.actor,
        ).to_dict()


@router.post("/automations/{ref}/pause")
def automations_pause(ref: str, request: Request, principal: Write) -> dict[str, Any]:
    """Stop the rule answering new events; what it queued still goes."""
    return _state(request, principal, ref, STATE_PAUSED)


@router.post("/automations/{ref}/resume")
def automations_resume(ref: str, request: Request, principal: Write) -> dict[str, Any]:
    """Let a paused rule answer events again."""
    return _state(request, principal, ref, STATE_ACTIVE)


@router.get("/automations/{ref}/history")
def automations_history(
    ref: str, request: Request, principal: Read, limit: int = Limit
) -> dict[str, Any]:
    """The rule's latest runs, newest first, with their message's fate (numbers masked)."""
    with get_store(request).engine.connect() as conn:
        found = _owned(conn, principal, ref)
        runs = run_history(
            conn, workspace_id=principal.workspace_id, automation_id=found.id, limit=limit
        )
    return {"items": runs}


@router.post("/automations/run-daily")
async def automations_run_daily(
    request: Request,
    principal: Send,
    day: date | None = Query(None, alias="date", description="default: today in Vietnam"),
) -> dict[str, Any]:
    """Run the date rules for a day now (the worker does it by itself every day); running it
    again sends nothing more and issues no second voucher."""
    reports = await asyncio.to_thread(run_daily, workspace_store(request, principal), day=day)
    return {name: report.to_dict() for name, report in reports.items()}
