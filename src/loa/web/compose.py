"""The composer: live characters, parts, encoding, the accents comparison, the cost for the
audience, compliance warnings and a phone-shaped preview, fed by one JSON endpoint."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Connection, func, select
from starlette.concurrency import run_in_threadpool

from loa.domain.compose import CLASSES, MessageClass, frame, load_carriers
from loa.domain.templates import parse
from loa.domain.text import SegmentCount, SmsAnalysis, compare_accents, non_gsm_characters
from loa.i18n import LoaError, Msg, current_lang
from loa.services.campaigns.pricing import price_table
from loa.services.compliance.brandnames import workspace_brandnames
from loa.services.compliance.check import check_message
from loa.services.compose import CONTACT_COLUMNS, contact_row, sender_optout
from loa.services.segments import list_segments, segment_members
from loa.store.tables import contacts
from loa.web.core import (
    Page,
    PageRoute,
    current_page,
    error_text,
    json_page,
    number,
    render,
    tr,
    vnd,
)
from loa.web.pages import require

router = APIRouter(route_class=PageRoute)

MAX_TEXT = 2000
TOO_LONG = Msg(
    "web.text_too_long",
    "Nội dung dài quá {max} ký tự: rút gọn lại.",
    "The text is over {max} characters: shorten it.",
)
UNKNOWN_CARRIER = "?"


def _analysis(a: SmsAnalysis) -> dict[str, Any]:
    return {
        "text": a.text,
        "chars": len(a.text),
        "encoding": a.encoding,
        "parts": a.segments,
        "units": a.units,
        "left_in_part": a.units_left_in_last_part,
        "chars_per_part": list(a.chars_per_segment),
    }


AUDIENCE_TTL_S = 60.0
_AUDIENCE: dict[tuple[str, int, str | None, Any], tuple[float, dict[str, int]]] = {}


def forget_audiences() -> None:
    """Drop the cached splits (after an import changed who is in which segment)."""
    _AUDIENCE.clear()


def audience_by_carrier(
    conn: Connection, *, workspace_id: int, segment: str | None
) -> dict[str, int]:
    """How many contacts of the segment (None: every contact) each carrier serves.

    Kept for a minute: the composer asks on every keystroke, and a segment of a million
    contacts takes a scan to split by carrier, while a minute-old split prices just as well.
    """
    # The newest contact id: a new contact anywhere makes the split stale at once.
    newest = conn.execute(select(func.max(contacts.c.id))).scalar()
    key = (str(conn.engine.url), workspace_id, segment, newest)
    now = time.monotonic()
    cached = _AUDIENCE.get(key)
    if cached is not None and now - cached[0] < AUDIENCE_TTL_S:
        return cached[1]
    c = contacts.c
    query = select(c.carrier, func.count()).group_by(c.carrier)
    if segment:
        query = query.where(segment_members(conn, workspace_id=workspace_id, segment=segment))
    else:
        query = query.where(c.workspace_id == workspace_id)
    found: dict[str, int] = {}
    for carrier, n in conn.execute(query):
        name = str(carrier).strip().lower() if carrier else UNKNOWN_CARRIER
        found[name] = found.get(name, 0) + int(n)
    if len(_AUDIENCE) > 1000:
        _AUDIENCE.clear()
    _AUDIENCE[key] = (now, found)
    return found


def _personalised(
    conn: Connection,
    workspace_id: int,
    segment: str | None,
    framed: str,
    warnings: list[dict[str, str]],
) -> tuple[str, str | None]:
    """`framed` rendered for the first contact of the segment, and who that is."""
    where = (
        segment_members(conn, workspace_id=workspace_id, segment=segment)
        if segment
        else contacts.c.workspace_id == workspace_id
    )
    columns = [contacts.c[name] for name in CONTACT_COLUMNS] + [contacts.c.attrs]
    first = conn.execute(select(*columns).where(where).order_by(contacts.c.id).limit(1)).first()
    try:
        template = parse(framed)
        if first is None:
            return framed, None
        values = dict(first._mapping)
        return template.render_all([contact_row(values)])[0], values.get("name") or values["phone"]
    except LoaError as exc:
        warnings.append({"code": exc.code, "message": error_text(exc), "level": "bad"})
        return framed, None


def preview(page: Page, body: dict[str, Any]) -> dict[str, Any]:
    """Everything the composer shows for one text, class, sender and audience."""
    text = str(body.get("text") or "")
    if len(text) > MAX_TEXT:
        return {"error": TOO_LONG.render(max=MAX_TEXT)}
    cls_text = str(body.get("cls") or "qc")
    cls: MessageClass = cls_text if cls_text in CLASSES else "qc"
    sender = str(body.get("sender") or "").strip() or None
    segment = str(body.get("segment") or "").strip() or None
    unaccent = bool(body.get("unaccent"))
    warnings: list[dict[str, str]] = []
    lang = current_lang()
    with page.engine.connect() as conn:
        framed = text
        if cls == "qc" and sender:
            try:
                optout = sender_optout(conn, workspace_id=page.workspace_id, sender=sender)
                framed = frame(text, cls, optout, sender=sender)
            except LoaError as exc:
                warnings.append({"code": exc.code, "message": error_text(exc), "level": "bad"})
        audience = audience_by_carrier(conn, workspace_id=page.workspace_id, segment=segment)
        prices = price_table(conn, workspace_id=page.workspace_id)
        example = None
        if "{" in framed:
            # Personalised: show (and count) the message as the segment's first person gets it.
            framed, example = _personalised(conn, page.workspace_id, segment, framed, warnings)
    both = compare_accents(framed)
    sent = both.without_accents if unaccent else both.with_accents
    carriers = load_carriers()
    dearest = max((p for (_, k), p in prices.items() if k == cls), default=0)
    cost = 0
    cost_bare = 0
    lines = []
    for key, n in sorted(audience.items(), key=lambda kv: -kv[1]):
        price = prices.get((key, cls), dearest)
        cost += n * sent.segments * price
        cost_bare += n * both.without_accents.segments * price
        carrier = carriers.get(key)
        count = SegmentCount(sent.encoding, sent.segments, sent.units)
        refusal = carrier.refusal(count) if carrier and text else None
        if refusal is not None:
            warnings.append({"code": refusal.code, "message": error_text(refusal), "level": "bad"})
        lines.append(
            {
                "carrier": carrier.name if carrier else key,
                "contacts": n,
                "price_vnd": price,
                "cost_vnd": n * sent.segments * price,
            }
        )
    if text.strip():
        verdict = check_message(page.store, sent.text, sender, cls)
        for reason in verdict.reasons:
            warnings.append({**reason.to_dict(lang), "level": "warn"})
    people = sum(audience.values())
    return {
        "text": sent.text,
        "sender": sender or "",
        "cls": cls,
        "with_accents": _analysis(both.with_accents),
        "without_accents": _analysis(both.without_accents),
        "has_accents": both.has_accents,
        "parts_saved": both.segments_saved,
        "non_gsm": non_gsm_characters(framed)[:20],
        "unaccent": unaccent,
        "audience": people,
        "carriers": lines,
        "cost_vnd": cost,
        "cost_unaccented_vnd": cost_bare,
        "cost_text": vnd(cost),
        "cost_unaccented_text": vnd(cost_bare),
        "audience_text": f"{number(people)} {tr('người nhận', 'recipients')}",
        "warnings": warnings,
        "example": example or "",
    }


@router.get("/compose", response_class=HTMLResponse)
def compose_page(request: Request, page: Page = Depends(current_page)) -> Response:
    """The composer."""
    require(page, "campaigns:read")
    with page.engine.connect() as conn:
        brands = workspace_brandnames(conn, page.workspace_id)
        segments = list_segments(conn, workspace_id=page.workspace_id)
    return render(
        request,
        "compose.html",
        {"brands": brands, "segments": segments, "text": request.query_params.get("text", "")},
        page=page,
    )


@router.post("/compose/preview")
async def compose_preview(request: Request) -> JSONResponse:
    """The live figures for the text typed so far."""
    page = await json_page(request)
    require(page, "campaigns:read")
    body = await request.json()
    if not isinstance(body, dict):
        body = {}
    try:
        data = await run_in_threadpool(preview, page, body)
    except LoaError as exc:
        return JSONResponse({"error": error_text(exc), "code": exc.code}, status_code=400)
    return JSONResponse(data, status_code=400 if "error" in data else 200)
