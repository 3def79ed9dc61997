"""Campaigns: the wizard (audience, message, schedule, budget), the plan report, starting with
four-eyes approval, live progress, and the report with charts and earlier campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from loa.domain.schedule import presets
from loa.domain.text import strip_accents
from loa.i18n import LoaError, Msg
from loa.services.accounts.approvals import (
    approval_reasons,
    decide,
    describe,
    is_approved,
    list_approvals,
    request_approval,
)
from loa.services.campaigns.planner import plan_campaign
from loa.services.campaigns.service import (
    CampaignSpec,
    Schedule,
    Variant,
    change_state,
    create_campaign,
    equal_variants,
    get_campaign,
    history,
    list_campaigns,
)
from loa.services.compliance.brandnames import workspace_brandnames
from loa.services.segments import list_segments
from loa.web import queries
from loa.web.charts import columns, hbars
from loa.web.core import (
    VN,
    Page,
    PageRoute,
    as_list,
    current_page,
    day,
    error_text,
    form_page,
    number,
    pct,
    render,
    status_name,
    tr,
    vnd,
)
from loa.web.pages import require

router = APIRouter(route_class=PageRoute)

BAD_NUMBER = Msg(
    "web.bad_number",
    "'{value}' ở ô {field} không phải số nguyên: nhập một số, ví dụ 500000.",
    "'{value}' in {field} is not a whole number: type a number, e.g. 500000.",
)
BAD_TIME = Msg(
    "web.bad_time",
    "Thời điểm gửi '{value}' không đúng dạng: chọn ngày và giờ.",
    "The send time '{value}' is not valid: pick a date and a time.",
)
NEEDS_APPROVAL = Msg(
    "web.needs_approval",
    "Chiến dịch cần người thứ hai duyệt trước khi gửi ({reasons}). Đã gửi yêu cầu duyệt.",
    "The campaign needs a second person's approval before sending ({reasons}). Approval "
    "was requested.",
)
FLASHES = {
    "created": ("Đã tạo chiến dịch. Bước tiếp: lập kế hoạch.", "Campaign created. Next: plan it."),
    "planned": (
        "Đã lập kế hoạch: xem báo cáo bên dưới rồi bấm Gửi.",
        "Planned: read the report below, then Start.",
    ),
    "scheduled": ("Đã bắt đầu gửi.", "Sending started."),
    "paused": ("Đã tạm dừng.", "Paused."),
    "cancelled": ("Đã huỷ chiến dịch.", "Campaign cancelled."),
    "approved": ("Đã duyệt: có thể bắt đầu gửi.", "Approved: it may start now."),
    "rejected": ("Đã từ chối yêu cầu gửi.", "The request to send was rejected."),
}
MOVES = {"start": "scheduled", "pause": "paused", "resume": "scheduled", "cancel": "cancelled"}
FIELD_NAMES = {
    "budget_vnd": ("Ngân sách", "Budget"),
    "holdout_pct": ("Nhóm đối chứng", "Holdout"),
    "max_tps": ("Tốc độ tối đa", "Max speed"),
    "share_a": ("Tỉ lệ phiên bản A", "Share of version A"),
}


def _int(form: dict[str, Any], key: str) -> int | None:
    raw = str(form.get(key) or "").strip().replace(".", "").replace(",", "").replace(" ", "")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise _FormError(
            BAD_NUMBER.render(value=form.get(key), field=tr(*FIELD_NAMES[key]))
        ) from None


class _FormError(Exception):
    """A wizard field that cannot be read; the text says which and how to fix it."""


def _variants(text: str, text_b: str, share_a: int | None) -> tuple[Variant, ...]:
    """A alone, or A and B sharing the audience (an A/B test)."""
    if not text.strip():
        return ()
    if not text_b.strip():
        return equal_variants([text])
    share = 50 if share_a is None else share_a
    return (Variant("A", text, share), Variant("B", text_b, 100 - share))


def _schedule(form: dict[str, Any]) -> Schedule:
    mode = str(form.get("schedule") or "now")
    best = bool(form.get("best_hour"))
    if mode == "golden":
        return Schedule(mode="golden", preset=str(form.get("preset") or "retail"), best_hour=best)
    if mode == "at":
        raw = str(form.get("at") or "")
        try:
            at = datetime.fromisoformat(raw).replace(tzinfo=VN)
        except ValueError:
            raise _FormError(BAD_TIME.render(value=raw)) from None
        return Schedule(mode="at", at=at, best_hour=best)
    return Schedule(mode="now", best_hour=best)


def _wizard(
    request: Request, page: Page, values: dict[str, Any], error: str | None = None
) -> Response:
    with page.engine.connect() as conn:
        segments = list_segments(conn, workspace_id=page.workspace_id)
        brands = workspace_brandnames(conn, page.workspace_id)
    return render(
        request,
        "wizard.html",
        {
            "segments": segments,
            "brands": brands,
            "presets": presets(),
            "v": values,
            "error": error,
        },
        page=page,
        status_code=400 if error else 200,
    )


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(request: Request, page: Page = Depends(current_page)) -> Response:
    """Every campaign with its figures."""
    require(page, "campaigns:read")
    with page.engine.connect() as conn:
        found = list_campaigns(conn, workspace_id=page.workspace_id)[:200]
        figures = queries.campaign_figures(
            conn, workspace_id=page.workspace_id, campaign_ids=[c.id for c in found]
        )
        waiting = list_approvals(conn, workspace_id=page.workspace_id, status="pending")
    return render(
        request,
        "campaigns.html",
        {"recent": found, "figures": figures, "waiting": waiting},
        page=page,
    )


@router.get("/campaigns/new", response_class=HTMLResponse)
def new_campaign(request: Request, page: Page = Depends(current_page)) -> Response:
    """The wizard: audience, message, schedule, budget."""
    require(page, "campaigns:write")
    q = request.query_params
    values = {
        "name": "",
        "include": [q["segment"]] if q.get("segment") else [],
        "exclude": [],
        "cls": q.get("cls", "qc"),
        "sender": q.get("sender", ""),
        "text": q.get("text", ""),
        "unaccent": bool(q.get("unaccent")),
        "schedule": "now",
        "preset": "retail",
        "best_hour": False,
        "at": "",
        "budget_vnd": "",
        "holdout_pct": "0",
        "text_b": "",
        "share_a": "50",
    }
    return _wizard(request, page, values)


@router.post("/campaigns")
async def create(request: Request) -> Response:
    """Create the draft campaign the wizard describes."""
    page, form = await form_page(request)
    require(page, "campaigns:write")
    values = dict(form)
    values["include"] = as_list(form.get("include"))
    values["exclude"] = as_list(form.get("exclude"))
    values["unaccent"] = bool(form.get("unaccent"))
    text = str(form.get("text") or "")
    if values["unaccent"]:
        text = strip_accents(text)  # the marketer chose it, after seeing both costs
    try:
        spec = CampaignSpec(
            name=str(form.get("name") or "").strip(),
            cls=str(form.get("cls") or "qc"),
            sender=str(form.get("sender") or "").strip(),
            include=tuple(values["include"]),
            exclude=tuple(values["exclude"]),
            variants=_variants(text, str(form.get("text_b") or ""), _int(form, "share_a")),
            holdout_pct=_int(form, "holdout_pct") or 0,
            schedule=_schedule(form),
            budget_vnd=_int(form, "budget_vnd"),
        )
        with page.engine.begin() as conn:
            new_id = create_campaign(
                conn, workspace_id=page.workspace_id, spec=spec, actor=page.principal.actor
            )
    except _FormError as exc:
        return _wizard(request, page, values, str(exc))
    except LoaError as exc:
        return _wizard(request, page, values, error_text(exc))
    return RedirectResponse(f"/campaigns/{new_id}?done=created", status_code=303)


def _campaign_page(
    request: Request, page: Page, campaign_id: int, *, error: str | None = None
) -> Response:
    ws = page.workspace_id
    try:
        with page.engine.connect() as conn:
            campaign = get_campaign(conn, workspace_id=ws, campaign_id=campaign_id)
            changes = history(conn, workspace_id=ws, campaign_id=campaign_id)
            progress = queries.progress(conn, workspace_id=ws, campaign_id=campaign_id)
            approvals = [
                a for a in list_approvals(conn, workspace_id=ws) if a["campaign_id"] == campaign_id
            ]
            needs = (
                approval_reasons(conn, workspace_id=ws, campaign_id=campaign_id)
                if campaign.state == "planned"
                else []
            )
            approved = is_approved(conn, workspace_id=ws, campaign_id=campaign_id)
    except LoaError as exc:
        return render(request, "base.html", {"error": error_text(exc)}, page=page, status_code=404)
    done = request.query_params.get("done")
    flash = tr(*FLASHES[done]) if done in FLASHES else None
    plan = campaign.plan_summary or None
    pending = approvals[0] if approvals and approvals[0]["status"] == "pending" else None
    return render(
        request,
        "campaign.html",
        {
            "c": campaign,
            "changes": changes,
            "progress": progress,
            "plan": plan,
            "reason_words": _reason_words(plan),
            "needs": describe(needs) if needs else "",
            "approved": approved,
            "pending": pending,
            "flash": flash,
            "error": error,
            "schedule_text": _schedule_text(campaign.schedule),
        },
        page=page,
        status_code=400 if error else 200,
    )


def _reason_words(plan: dict[str, Any] | None) -> dict[str, str]:
    from loa.domain.compliance.reasons import REASONS

    words: dict[str, str] = {}
    for code in (plan or {}).get("by_reason", {}):
        msg = REASONS.get(code)
        if msg is not None:
            # The report groups by code; the words without their per-person details.
            words[code] = msg.render().split("(")[0].split(":")[0].rstrip(" .")
    return words


def _schedule_text(schedule: Schedule) -> str:
    if schedule.mode == "golden" and schedule.preset:
        found = presets().get(schedule.preset)
        name = tr(found.name_vi, found.name_en) if found else schedule.preset
        return tr("Giờ vàng ngành {name}", "Golden hours for {name}").format(name=name)
    if schedule.mode == "at" and schedule.at:
        return tr("Lúc {at}", "At {at}").format(
            at=schedule.at.astimezone(VN).strftime("%H:%M %d/%m/%Y")
        )
    if schedule.mode == "window":
        return ", ".join(schedule.windows)
    return tr("Gửi ngay", "Now")


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    request: Request, campaign_id: int, page: Page = Depends(current_page)
) -> Response:
    """One campaign: what it sends to whom, its plan report, its progress and its actions."""
    require(page, "campaigns:read")
    return _campaign_page(request, page, campaign_id)


@router.post("/campaigns/{campaign_id}/plan")
async def plan(request: Request, campaign_id: int) -> Response:
    """Decide, for every recipient, send / defer / suppress, and price it all."""
    page, _form = await form_page(request)
    require(page, "campaigns:write")
    try:
        await run_in_threadpool(plan_campaign, page.store, campaign_id, actor=page.principal.actor)
    except LoaError as exc:
        return _campaign_page(request, page, campaign_id, error=error_text(exc))
    return RedirectResponse(f"/campaigns/{campaign_id}?done=planned", status_code=303)


@router.post("/campaigns/{campaign_id}/{action}")
async def move(request: Request, campaign_id: int, action: str) -> Response:
    """Start, pause, resume or cancel; approve or reject a request to send."""
    page, form = await form_page(request)
    ws = page.workspace_id
    actor = page.principal.actor
    try:
        if action in ("approve", "reject"):
            require(page, "campaigns:approve")
            with page.engine.begin() as conn:
                decide(
                    conn,
                    workspace_id=ws,
                    campaign_id=campaign_id,
                    actor=actor,
                    approve=action == "approve",
                    note=str(form.get("note") or "") or None,
                    ip=request.client.host if request.client else None,
                )
            done = "approved" if action == "approve" else "rejected"
            return RedirectResponse(f"/campaigns/{campaign_id}?done={done}", status_code=303)
        if action not in MOVES:
            return _campaign_page(request, page, campaign_id, error=f"? {action}")
        require(page, "campaigns:send" if action in ("start", "resume") else "campaigns:write")
        with page.engine.begin() as conn:
            if action == "start":
                reasons = approval_reasons(conn, workspace_id=ws, campaign_id=campaign_id)
                if reasons and not is_approved(conn, workspace_id=ws, campaign_id=campaign_id):
                    request_approval(
                        conn, workspace_id=ws, campaign_id=campaign_id, actor=actor, reasons=reasons
                    )
                    conn.commit()
                    words = NEEDS_APPROVAL.render(reasons=describe(reasons))
                    return _campaign_page(request, page, campaign_id, error=words)
            change_state(
                conn,
                workspace_id=ws,
                campaign_id=campaign_id,
                to=MOVES[action],
                actor=actor,
                settings=request.app.state.settings,
            )
    except LoaError as exc:
        return _campaign_page(request, page, campaign_id, error=error_text(exc))
    return RedirectResponse(f"/campaigns/{campaign_id}?done={MOVES[action]}", status_code=303)


@router.get("/campaigns/{campaign_id}/progress")
def progress_json(campaign_id: int, page: Page = Depends(current_page)) -> JSONResponse:
    """What the live progress bar polls."""
    require(page, "campaigns:read")
    with page.engine.connect() as conn:
        data = queries.progress(conn, workspace_id=page.workspace_id, campaign_id=campaign_id)
    data["state_text"] = tr(*_STATE_WORDS.get(data["state"] or "", ("", "")))
    data["texts"] = {
        "left": number(data["left"]),
        "to_send": number(data["to_send"]),
        "delivered": number(data["delivered"]),
        "failed": number(data["failed"]),
        "waiting": number(data["waiting"]),
        "pct": pct(data["left"], data["to_send"]),
    }
    return JSONResponse(data)


_STATE_WORDS = {
    "scheduled": ("Đã lên lịch", "Scheduled"),
    "running": ("Đang gửi", "Sending"),
    "paused": ("Tạm dừng", "Paused"),
    "completed": ("Hoàn tất", "Completed"),
    "cancelled": ("Đã huỷ", "Cancelled"),
    "planned": ("Đã lập kế hoạch", "Planned"),
    "draft": ("Nháp", "Draft"),
}


@router.get("/campaigns/{campaign_id}/report", response_class=HTMLResponse)
def report(request: Request, campaign_id: int, page: Page = Depends(current_page)) -> Response:
    """Delivery, clicks, orders, cost and ROI, with charts, beside earlier campaigns."""
    require(page, "reports:read")
    ws = page.workspace_id
    try:
        with page.engine.connect() as conn:
            campaign = get_campaign(conn, workspace_id=ws, campaign_id=campaign_id)
            progress = queries.progress(conn, workspace_id=ws, campaign_id=campaign_id)
            carriers = queries.sends_by_carrier(conn, workspace_id=ws, campaign_id=campaign_id)
            variants = (
                queries.by_variant(conn, workspace_id=ws, campaign_id=campaign_id)
                if len(campaign.variants) > 1
                else []
            )
            earlier = [c for c in list_campaigns(conn, workspace_id=ws) if c.id <= campaign_id][:6]
            figures = queries.campaign_figures(
                conn, workspace_id=ws, campaign_ids=[c.id for c in earlier]
            )
    except LoaError as exc:
        return render(request, "base.html", {"error": error_text(exc)}, page=page, status_code=404)
    mine = figures.get(campaign_id, {})
    status_chart = hbars(
        tr("Tình trạng tin nhắn", "Where the messages stand"),
        [
            (status_name(s), n, f"{number(n)} ({pct(n, sum(progress['by_status'].values()))})")
            for s, n in sorted(progress["by_status"].items(), key=lambda kv: -kv[1])
        ],
    )
    carrier_chart = hbars(
        tr("Tỉ lệ tới máy theo nhà mạng", "Delivery by carrier"),
        [
            (
                r["carrier"],
                100 * r["delivered"] / r["sent"] if r["sent"] else 0,
                pct(r["delivered"], r["sent"]),
            )
            for r in carriers
        ],
        color="#1e6b34",
    )
    funnel_chart = hbars(
        tr("Phễu chuyển đổi", "Conversion funnel"),
        [
            (tr("Đã gửi", "Sent"), mine.get("sent", 0), number(mine.get("sent", 0))),
            (
                tr("Tới máy", "Delivered"),
                mine.get("delivered", 0),
                number(mine.get("delivered", 0)),
            ),
            (
                tr("Người bấm link", "Clicked"),
                mine.get("clickers", 0),
                number(mine.get("clickers", 0)),
            ),
            (tr("Đơn hàng", "Orders"), mine.get("orders", 0), number(mine.get("orders", 0))),
        ],
    )
    compare_chart = hbars(
        tr(
            "So với các chiến dịch trước: tỉ lệ tới máy", "Against earlier campaigns: delivery rate"
        ),
        [
            (
                f"#{c.id} {c.name}"[:24],
                100 * figures[c.id]["delivered"] / figures[c.id]["sent"]
                if figures[c.id]["sent"]
                else 0,
                pct(figures[c.id]["delivered"], figures[c.id]["sent"]),
            )
            for c in earlier
        ],
        color="#5b3f9e",
    )
    return render(
        request,
        "report.html",
        {
            "c": campaign,
            "progress": progress,
            "carriers": carriers,
            "variants": variants,
            "mine": mine,
            "earlier": earlier,
            "figures": figures,
            "charts": [status_chart, funnel_chart, carrier_chart, compare_chart],
            "roi_text": _roi(mine),
        },
        page=page,
    )


@router.get("/campaigns/{campaign_id}/analysis", response_class=HTMLResponse)
def analysis(request: Request, campaign_id: int, page: Page = Depends(current_page)) -> Response:
    """The tracking report in full: rates and costs per result, time to deliver, failures with
    their reasons, the lift against the holdout group and the A/B verdicts."""
    require(page, "reports:read")
    from loa.services.tracking.report import campaign_report

    try:
        # New orders are credited first: crediting is bookkeeping, the same whoever looks.
        with page.engine.begin() as conn:
            data = campaign_report(conn, workspace_id=page.workspace_id, campaign_id=campaign_id)
    except LoaError as exc:
        return render(request, "base.html", {"error": error_text(exc)}, page=page, status_code=404)
    daily = data.get("series", {}).get("daily", [])
    chart = columns(
        tr("Theo ngày", "By day"),
        [day(d["day"])[:5] for d in daily],
        [
            (tr("Đã gửi", "Sent"), [d.get("sent", 0) for d in daily]),
            (tr("Tới máy", "Delivered"), [d.get("delivered", 0) for d in daily]),
            (tr("Bấm link", "Clicks"), [d.get("clicks", 0) for d in daily]),
        ],
    )
    return render(request, "analysis.html", {"r": data, "chart": chart}, page=page)


def _roi(figures: dict[str, Any]) -> str:
    roi = figures.get("roi")
    return "—" if roi is None else f"{number(100 * roi, 0)}%"


__all__ = ["router", "vnd"]
