"""`loa campaigns ...`: create, plan, start, pause, resume, cancel, list and show campaigns;
`loa prices list|set`: the price per SMS part that plans are costed with."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import typer
from rich.table import Table

from loa.cli.common import State, console
from loa.i18n import LoaError, Msg
from loa.services import audit
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
    list_campaigns,
)

app = typer.Typer(
    no_args_is_help=True,
    help="Chiến dịch: người nhận, nội dung, lịch gửi, ngân sách. / Campaigns.",
)

CREATED = Msg(
    "cli.campaigns.created",
    "Đã tạo chiến dịch #{id} '{name}' (bản nháp). Bước tiếp: loa campaigns plan {id}",
    "Created campaign #{id} '{name}' (draft). Next: loa campaigns plan {id}",
)
MOVED = Msg(
    "cli.campaigns.moved",
    "Chiến dịch #{id}: {state}.",
    "Campaign #{id}: {state}.",
)
BAD_SPLIT = Msg(
    "cli.campaigns.bad_split",
    "--split cần {n} số phần trăm, cách nhau bởi dấu phẩy (ví dụ 70,30); nhận được '{value}'.",
    "--split needs {n} percentages separated by commas (e.g. 70,30); got '{value}'.",
)
BAD_GOAL = Msg(
    "cli.campaigns.bad_goal",
    "--goal viết dạng CHỈ_SỐ:MỤC_TIÊU, chỉ số là clicks, orders, revenue hoặc roi (ví dụ "
    "orders:500); nhận được '{value}'.",
    "Write --goal as METRIC:TARGET, the metric one of clicks, orders, revenue or roi (e.g. "
    "orders:500); got '{value}'.",
)
ONE_SCHEDULE = Msg(
    "cli.campaigns.one_schedule",
    "Chọn một cách hẹn giờ: --at, --golden-hours hoặc --window.",
    "Choose one way to schedule: --at, --golden-hours or --window.",
)
STATE_NAMES = {
    "draft": Msg("campaigns.state.draft", "nháp", "draft"),
    "planned": Msg("campaigns.state.planned", "đã lập kế hoạch", "planned"),
    "scheduled": Msg("campaigns.state.scheduled", "đã hẹn gửi", "scheduled"),
    "running": Msg("campaigns.state.running", "đang gửi", "running"),
    "paused": Msg("campaigns.state.paused", "tạm dừng", "paused"),
    "completed": Msg("campaigns.state.completed", "đã xong", "completed"),
    "cancelled": Msg("campaigns.state.cancelled", "đã huỷ", "cancelled"),
}
H = {
    "id": Msg("cli.campaigns.h_id", "#", "#"),
    "name": Msg("cli.campaigns.h_name", "Tên", "Name"),
    "class": Msg("cli.campaigns.h_class", "Loại", "Class"),
    "sender": Msg("cli.campaigns.h_sender", "Brandname", "Sender"),
    "audience": Msg("cli.campaigns.h_audience", "Người nhận", "Audience"),
    "state": Msg("cli.campaigns.h_state", "Trạng thái", "State"),
    "created": Msg("cli.campaigns.h_created", "Tạo lúc", "Created"),
}
GOALS = ("clicks", "orders", "revenue", "roi")


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, default=str))


def _variants(texts: list[str], split: str | None) -> tuple[Variant, ...]:
    if split is None:
        return equal_variants(texts) if texts else ()
    try:
        shares = [int(s) for s in split.split(",")]
    except ValueError:
        shares = []
    if len(shares) != len(texts):
        raise LoaError(BAD_SPLIT, n=len(texts), value=split)
    return tuple(
        Variant(chr(ord("A") + i), t, s) for i, (t, s) in enumerate(zip(texts, shares, strict=True))
    )


def _goal(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    metric, _, target = value.partition(":")
    try:
        amount = float(target)
    except ValueError:
        raise LoaError(BAD_GOAL, value=value) from None
    if metric not in GOALS:
        raise LoaError(BAD_GOAL, value=value)
    return {"metric": metric, "target": amount}


def to_json(c: Campaign) -> dict[str, Any]:
    """A campaign as `--json` prints it."""
    return {
        "id": c.id,
        "name": c.name,
        "class": c.cls,
        "channel": c.channel,
        "sender": c.sender,
        "audience": {"include": list(c.include), "exclude": list(c.exclude)},
        "variants": [
            {"name": v.name, "text": v.text, "share_pct": v.share_pct} for v in c.variants
        ],
        "template": c.template,
        "holdout_pct": c.holdout_pct,
        "schedule": c.schedule.to_json(),
        "budget_vnd": c.budget_vnd,
        "max_tps": c.max_tps,
        "attribution_days": c.attribution_days,
        "allow_defer": c.allow_defer,
        "goal": c.goal,
        "seed": c.seed,
        "state": c.state,
        "created_by": c.created_by,
        "created_at": c.created_at.isoformat(),
        "planned_at": c.planned_at.isoformat() if c.planned_at else None,
        "plan": c.plan_summary,
    }


@app.command("create")
def create_command(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="Campaign name (unique in the workspace)."),
    cls: str = typer.Option(..., "--class", help="qc (advertising), cskh (care), public."),
    sender: str = typer.Option(..., "--sender", help="Registered brandname."),
    segment: list[str] = typer.Option([], "--segment", help="Audience segment (repeatable)."),
    exclude: list[str] = typer.Option([], "--exclude", help="Segment to leave out (repeatable)."),
    text: str | None = typer.Option(None, "--text", help="The message (variant A)."),
    variant: list[str] = typer.Option([], "--variant", help="Another variant's text (B, C…)."),
    split: str | None = typer.Option(None, "--split", help="Variant shares, e.g. 70,30."),
    template: str | None = typer.Option(None, "--template", help="Approved template (CSKH)."),
    holdout: int = typer.Option(0, "--holdout", help="Control group that gets nothing, in %."),
    at: datetime | None = typer.Option(None, "--at", help="Send at (ISO time with zone)."),
    until: datetime | None = typer.Option(None, "--until", help="Stop sending after this time."),
    golden: str | None = typer.Option(None, "--golden-hours", help="Industry preset, e.g. retail."),
    window: list[str] = typer.Option([], "--window", help="'mon,tue 15:00-17:00' (repeatable)."),
    holidays: str = typer.Option("any", "--holidays", help="any, avoid or only (public holidays)."),
    best_hour: bool = typer.Option(
        False, "--best-hour", help="Each person at the hour they click and buy most."
    ),
    budget_vnd: int | None = typer.Option(None, "--budget-vnd", help="Budget cap in VND."),
    max_tps: int | None = typer.Option(None, "--max-tps", help="Throughput cap, messages/s."),
    goal: str | None = typer.Option(None, "--goal", help="METRIC:TARGET, e.g. orders:500."),
    attribution_days: int = typer.Option(7, "--attribution-days", help="Attribution window."),
    no_defer: bool = typer.Option(False, "--no-defer", help="Drop instead of deferring."),
    short_domain: str | None = typer.Option(None, "--short-domain", help="Tracked-link domain."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for variant/holdout draws."),
    as_json: bool = typer.Option(False, "--json", help="Print the new campaign as JSON."),
) -> None:
    """Create a draft campaign; nothing is planned or sent yet."""
    if sum(x is not None and x != [] for x in (at, golden, window or None)) > 1:
        raise LoaError(ONE_SCHEDULE)
    mode = "at" if at else "golden" if golden else "window" if window else "now"
    spec = CampaignSpec(
        name=name,
        cls=cls,
        sender=sender,
        include=tuple(segment),
        exclude=tuple(exclude),
        variants=_variants([t for t in (text, *variant) if t is not None], split),
        template=template,
        holdout_pct=holdout,
        schedule=Schedule(
            mode=mode,  # type: ignore[arg-type]
            at=at,
            until=until,
            preset=golden,
            windows=tuple(window),
            holidays=holidays,  # type: ignore[arg-type]
            best_hour=best_hour,
        ),
        budget_vnd=budget_vnd,
        max_tps=max_tps,
        attribution_days=attribution_days,
        allow_defer=not no_defer,
        short_domain=short_domain,
        goal=_goal(goal),
        seed=seed,
    )
    state: State = ctx.obj
    store = state.store()
    with store.engine.begin() as conn:
        new_id = create_campaign(
            conn, workspace_id=store.workspace_id, spec=spec, actor=audit.cli_actor()
        )
        campaign = get_campaign(conn, workspace_id=store.workspace_id, campaign_id=new_id)
    if as_json:
        _echo_json(to_json(campaign))
    else:
        console.print(CREATED.render(id=new_id, name=name))


@app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """The workspace's campaigns, newest first."""
    state: State = ctx.obj
    store = state.store()
    with store.engine.connect() as conn:
        found = list_campaigns(conn, workspace_id=store.workspace_id)
    if as_json:
        _echo_json([to_json(c) for c in found])
        return
    table = Table()
    for key in ("id", "name", "class", "sender", "audience", "state", "created"):
        table.add_column(H[key].render())
    for c in found:
        table.add_row(
            str(c.id),
            c.name,
            c.cls.upper(),
            c.sender,
            ", ".join(c.include) + (f" − {', '.join(c.exclude)}" if c.exclude else ""),
            STATE_NAMES[c.state].render(),
            f"{c.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command("show")
def show_command(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., help="Campaign id."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """One campaign with its state history."""
    state: State = ctx.obj
    store = state.store()
    with store.engine.connect() as conn:
        c = get_campaign(conn, workspace_id=store.workspace_id, campaign_id=campaign_id)
        changes = history(conn, workspace_id=store.workspace_id, campaign_id=campaign_id)
    data = to_json(c) | {"history": changes}
    if as_json:
        _echo_json(data)
        return
    console.print(f"[bold]#{c.id} {c.name}[/] — {STATE_NAMES[c.state].render()}")
    for v in c.variants:
        console.print(f"  {v.name} ({v.share_pct}%): {v.text}")
    for ch in changes:
        before = STATE_NAMES[ch["from_state"]].render() if ch["from_state"] else "—"
        console.print(
            f"  {ch['at']:%Y-%m-%d %H:%M:%S}  {ch['actor']}: {before} → "
            f"{STATE_NAMES[ch['to_state']].render()}"
        )


def _move(ctx: typer.Context, campaign_id: int, to: str, as_json: bool) -> None:
    state: State = ctx.obj
    store = state.store()
    with store.engine.begin() as conn:
        c = change_state(
            conn,
            workspace_id=store.workspace_id,
            campaign_id=campaign_id,
            to=to,
            actor=audit.cli_actor(),
            settings=state.settings,
        )
    if as_json:
        _echo_json({"id": c.id, "state": c.state})
    else:
        console.print(MOVED.render(id=c.id, state=STATE_NAMES[c.state].render()))


@app.command("start")
def start_command(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., help="Campaign id."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Queue a planned campaign's messages for the dispatcher."""
    _move(ctx, campaign_id, "scheduled", as_json)


@app.command("pause")
def pause_command(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., help="Campaign id."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Stop handing this campaign's messages to carriers until it is resumed."""
    _move(ctx, campaign_id, "paused", as_json)


@app.command("resume")
def resume_command(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., help="Campaign id."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Go on sending a paused campaign."""
    _move(ctx, campaign_id, "scheduled", as_json)


@app.command("cancel")
def cancel_command(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., help="Campaign id."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Cancel: nothing not yet handed to a carrier will leave."""
    _move(ctx, campaign_id, "cancelled", as_json)


PLAN_TITLE = Msg(
    "cli.campaigns.plan_title",
    "Kế hoạch chiến dịch #{id}: {audience} người nhận ({holdout} nhóm đối chứng)",
    "Plan of campaign #{id}: {audience} recipients ({holdout} in the control group)",
)
PLAN_COST = Msg(
    "cli.campaigns.plan_cost",
    "Tổng: {parts} tin nhắn, {cost} đ; nếu bỏ dấu: {parts_u} tin nhắn, {cost_u} đ.",
    "Total: {parts} parts, {cost} VND; without accents: {parts_u} parts, {cost_u} VND.",
)
PLAN_TIME = Msg(
    "cli.campaigns.plan_time",
    "Gửi từ {first} đến {last} ({rate:g} tin/giây, khoảng {minutes:.0f} phút gửi).",
    "Sending from {first} to {last} ({rate:g} messages/s, about {minutes:.0f} minutes of sending).",
)
PLAN_BUDGET = Msg(
    "cli.campaigns.plan_budget",
    "{count} người nhận bị cắt vì vượt ngân sách (giữ người có điểm RFM cao trước).",
    "{count} recipients cut by the budget (the highest RFM scores are kept first).",
)
PLAN_BEST_HOUR = Msg(
    "cli.campaigns.plan_best_hour",
    "{count} người nhận được hẹn vào giờ họ hay bấm và mua nhất.",
    "{count} recipients timed at the hour they click and buy most.",
)
PLAN_SHORTEST = Msg("cli.campaigns.plan_shortest", "Ngắn nhất", "Shortest")
PLAN_LONGEST = Msg("cli.campaigns.plan_longest", "Dài nhất", "Longest")
PLAN_NEXT = Msg(
    "cli.campaigns.plan_next",
    "Chưa gửi gì. Bắt đầu gửi: loa campaigns start {id}",
    "Nothing was sent. To start sending: loa campaigns start {id}",
)
DECISIONS = {
    "send": Msg("campaigns.decision.send", "gửi", "send"),
    "defer": Msg("campaigns.decision.defer", "hoãn đến giờ hợp lệ", "deferred to a legal hour"),
    "suppress": Msg("campaigns.decision.suppress", "không gửi", "suppressed"),
    "holdout": Msg("campaigns.decision.holdout", "nhóm đối chứng", "control group"),
}
REASON_LABELS = {
    m.code.removeprefix("campaigns.reason."): m
    for m in (
        Msg("campaigns.reason.opted_out", "đã từ chối quảng cáo", "opted out"),
        Msg("campaigns.reason.dnc", "trong danh sách DNC", "on the DNC list"),
        Msg("campaigns.reason.no_consent", "chưa đồng ý nhận quảng cáo", "no consent"),
        Msg("campaigns.reason.frequency_cap", "quá 3 tin QC/24 giờ", "over the 24-hour cap"),
        Msg("campaigns.reason.quiet_hours", "ngoài giờ cho phép, hoãn", "outside legal hours"),
        Msg("campaigns.reason.invalid_number", "số không hợp lệ", "invalid number"),
        Msg("campaigns.reason.budget", "vượt ngân sách", "over the budget"),
        Msg(
            "campaigns.reason.min_gap",
            "quá gần tin quảng cáo khác (khoảng cách tối thiểu)",
            "too close to another advertising message (minimum gap)",
        ),
        Msg(
            "campaigns.reason.render_failed", "thiếu dữ liệu cá nhân hoá", "personalization failed"
        ),
    )
}
H_DECISION = Msg("cli.campaigns.h_decision", "Quyết định", "Decision")
H_REASON = Msg("cli.campaigns.h_reason", "Lý do", "Reason")
H_COUNT = Msg("cli.campaigns.h_count", "Số người", "Recipients")
H_CARRIER = Msg("cli.campaigns.h_carrier", "Nhà mạng", "Carrier")
H_MESSAGES = Msg("cli.campaigns.h_messages", "Tin", "Messages")
H_PARTS = Msg("cli.campaigns.h_parts", "Số phần", "Parts")
H_COST = Msg("cli.campaigns.h_cost", "Chi phí (đ)", "Cost (VND)")


def _local(iso: str) -> str:
    """An instant as a Vietnamese reader expects it: local time, day/month/year."""
    from zoneinfo import ZoneInfo

    return (
        datetime.fromisoformat(iso)
        .astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
        .strftime("%H:%M:%S %d/%m/%Y")
    )


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., help="Campaign id."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan report as JSON."),
) -> None:
    """Decide every recipient and write the outbox; nothing is sent. Safe to run again."""
    from rich.progress import Progress as RichProgress

    from loa.services.campaigns.planner import plan_campaign

    state: State = ctx.obj
    store = state.store()
    if as_json:
        report = plan_campaign(store, campaign_id, actor=audit.cli_actor())
        _echo_json(report.to_json())
        return
    with RichProgress(transient=True, console=console) as bar:
        task = bar.add_task("…", total=None)

        def progress(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total or None)

        report = plan_campaign(store, campaign_id, actor=audit.cli_actor(), progress=progress)
    title = PLAN_TITLE.render(id=campaign_id, audience=report.audience, holdout=report.holdout)
    console.print(f"[bold]{title}[/]")
    decisions = Table()
    for h in (H_DECISION, H_REASON, H_COUNT):
        decisions.add_column(h.render())
    for decision, count in report.by_decision.items():
        decisions.add_row(DECISIONS.get(decision, DECISIONS["send"]).render(), "", str(count))
    for reason, count in report.by_reason.items():
        label = REASON_LABELS.get(reason)
        decisions.add_row("", f"{reason} — {label.render()}" if label else reason, str(count))
    console.print(decisions)
    carriers = Table()
    for h in (H_CARRIER, H_MESSAGES, H_PARTS, H_COST):
        carriers.add_column(h.render())
    for carrier, row in report.by_carrier.items():
        carriers.add_row(carrier, str(row["messages"]), str(row["parts"]), _vnd(row["cost_vnd"]))
    console.print(carriers)
    console.print(
        PLAN_COST.render(
            parts=report.parts_total,
            cost=_vnd(report.cost_vnd),
            parts_u=report.parts_unaccented,
            cost_u=_vnd(report.cost_unaccented_vnd),
        )
    )
    if report.first_at and report.last_at:
        console.print(
            PLAN_TIME.render(
                first=_local(report.first_at),
                last=_local(report.last_at),
                rate=report.rate_per_s,
                minutes=report.sending_time_s / 60,
            )
        )
    if report.budget_cut:
        console.print(PLAN_BUDGET.render(count=report.budget_cut))
    if report.best_hour:
        console.print(PLAN_BEST_HOUR.render(count=report.best_hour))
    for label, sample in ((PLAN_SHORTEST, report.shortest), (PLAN_LONGEST, report.longest)):
        if sample:
            console.print(f"{label.render()} ({sample['parts']}): {sample['text']}")
    console.print(PLAN_NEXT.render(id=campaign_id))


# --- prices -----------------------------------------------------------------------------------

prices_app = typer.Typer(
    no_args_is_help=True,
    help="Giá mỗi phần tin theo nhà mạng và loại tin (VND). / Prices per SMS part.",
)
PRICE_SET = Msg(
    "cli.prices.set",
    "Giá {cls} của {carrier}: {price} đ mỗi phần tin (giá riêng của workspace).",
    "{carrier} {cls} price: {price} VND per part (the workspace's own price).",
)
PRICE_H = {
    "carrier": Msg("cli.prices.h_carrier", "Nhà mạng", "Carrier"),
    "class": Msg("cli.prices.h_class", "Loại", "Class"),
    "price": Msg("cli.prices.h_price", "Giá/phần (đ)", "Price/part (VND)"),
    "source": Msg("cli.prices.h_source", "Nguồn", "Source"),
}
PRICE_SOURCES = {
    True: Msg("cli.prices.custom", "riêng", "custom"),
    False: Msg("cli.prices.default", "mặc định", "default"),
}


@prices_app.command("list")
def prices_list_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Every carrier × class price in effect: the workspace's own, else the shipped default."""
    from loa.services.campaigns.pricing import list_prices

    state: State = ctx.obj
    store = state.store()
    with store.engine.connect() as conn:
        found = list_prices(conn, workspace_id=store.workspace_id)
    if as_json:
        _echo_json(
            [
                {"carrier": p.carrier, "class": p.cls, "price_vnd": p.price_vnd, "custom": p.custom}
                for p in found
            ]
        )
        return
    table = Table()
    for key in ("carrier", "class", "price", "source"):
        table.add_column(PRICE_H[key].render(), justify="right" if key == "price" else "left")
    for p in found:
        table.add_row(p.carrier, p.cls.upper(), _vnd(p.price_vnd), PRICE_SOURCES[p.custom].render())
    console.print(table)


@prices_app.command("set")
def prices_set_command(
    ctx: typer.Context,
    carrier: str = typer.Argument(..., help="Viettel, MobiFone, VinaPhone, Vietnamobile…"),
    cls: str = typer.Argument(..., metavar="CLASS", help="qc, cskh or public"),
    price_vnd: int = typer.Argument(..., metavar="PRICE_VND", help="VND per SMS part"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Set the workspace's price per part for one carrier and class."""
    from loa.services.campaigns.pricing import set_price

    state: State = ctx.obj
    store = state.store()
    with store.engine.begin() as conn:
        price = set_price(
            conn,
            workspace_id=store.workspace_id,
            carrier=carrier,
            cls=cls.strip().lower(),
            price_vnd=price_vnd,
        )
        audit.record(
            conn,
            workspace_id=store.workspace_id,
            actor=audit.cli_actor(),
            action="prices.set",
            target=f"{price.carrier}:{price.cls}",
            details={"price_vnd": price.price_vnd},
        )
    if as_json:
        _echo_json({"carrier": price.carrier, "class": price.cls, "price_vnd": price.price_vnd})
        return
    console.print(
        PRICE_SET.render(carrier=price.carrier, cls=price.cls.upper(), price=_vnd(price.price_vnd))
    )
