"""`loa routes ...`, `loa worker` and `loa campaigns report`: where messages leave, the
process that sends them, and what became of them."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from loa.cli.common import State, console
from loa.domain.compose import load_carriers
from loa.i18n import LoaError, Msg
from loa.services.dispatch.routes import (
    add_route,
    build_channel,
    get_route,
    list_routes,
    remove_route,
)
from loa.services.dispatch.worker import Worker, WorkerOptions, WorkerStats

routes_app = typer.Typer(
    no_args_is_help=True,
    help="Tuyến gửi (SMPP, HTTP, SMTP, push). / Routes: where messages leave.",
)

ADDED = Msg(
    "cli.routes.added",
    "Đã thêm tuyến '{name}' ({kind}, {carriers}). Kiểm tra: loa routes test {name}",
    "Added route '{name}' ({kind}, {carriers}). Test it: loa routes test {name}",
)
REMOVED = Msg("cli.routes.removed", "Đã xoá tuyến '{name}'.", "Removed route '{name}'.")
NONE = Msg(
    "cli.routes.none",
    "Chưa có tuyến nào. Thêm tuyến tới SMSC giả lập: loa routes add sandbox --kind smpp "
    "--host 127.0.0.1 --port 2775 --system-id loa --password loa",
    "No routes yet. Add one to the sandbox SMSC: loa routes add sandbox --kind smpp "
    "--host 127.0.0.1 --port 2775 --system-id loa --password loa",
)
ALL_CARRIERS = Msg("cli.routes.all", "mọi nhà mạng", "every carrier")
TEST_OK = Msg(
    "cli.routes.test_ok",
    "Tuyến '{name}' kết nối được ({ms} ms).",
    "Route '{name}' connects ({ms} ms).",
)
TEST_FAILED = Msg(
    "cli.routes.test_failed",
    "Tuyến '{name}' không kết nối được: {reason}",
    "Route '{name}' does not connect: {reason}",
)
BAD_SETTING = Msg(
    "cli.routes.bad_setting",
    "--set '{value}' không đúng dạng KHOÁ=GIÁ_TRỊ (ví dụ --set url=https://api.example.vn/sms).",
    "--set '{value}' is not KEY=VALUE (e.g. --set url=https://api.example.vn/sms).",
)
BAD_JSON = Msg(
    "cli.routes.bad_json",
    "--settings không phải JSON hợp lệ: {error}",
    "--settings is not valid JSON: {error}",
)
HEADERS = (
    Msg("cli.routes.h_name", "Tuyến", "Route"),
    Msg("cli.routes.h_kind", "Loại", "Kind"),
    Msg("cli.routes.h_carriers", "Nhà mạng", "Carriers"),
    Msg("cli.routes.h_tps", "TPS", "TPS"),
    Msg("cli.routes.h_window", "Cửa sổ", "Window"),
    Msg("cli.routes.h_target", "Đích", "Target"),
    Msg("cli.routes.h_failover", "Dự phòng", "Failover"),
)

WORKER_STARTED = Msg(
    "cli.worker.started",
    "Worker {id} bắt đầu gửi (Ctrl-C để dừng).",
    "Worker {id} started sending (Ctrl-C to stop).",
)
WORKER_TICK = Msg(
    "cli.worker.tick",
    "đã gửi {submitted} · báo cáo {receipts} · thử lại {retried} · lỗi {failed} · "
    "chặn {suppressed} · hoãn {deferred} · không rõ {uncertain} · tin đến {inbound} · {rate}/s",
    "sent {submitted} · receipts {receipts} · retried {retried} · failed {failed} · "
    "blocked {suppressed} · deferred {deferred} · uncertain {uncertain} · replies {inbound} · "
    "{rate}/s",
)
WORKER_DONE = Msg(
    "cli.worker.done",
    "Worker dừng: đã gửi {submitted} tin trong {seconds} giây; {receipts} báo cáo phát; "
    "chiến dịch hoàn tất: {completed}.",
    "Worker stopped: sent {submitted} messages in {seconds} s; {receipts} delivery receipts; "
    "campaigns completed: {completed}.",
)
REPORT_TITLE = Msg(
    "cli.report.title",
    "Báo cáo gửi chiến dịch #{id} '{name}' ({state})",
    "Delivery report of campaign #{id} '{name}' ({state})",
)
REPORT_CODES = Msg("cli.report.codes", "Mã lỗi nhà mạng", "Carrier error codes")
STATUS_WORDS: dict[str, Msg] = {
    s: Msg(f"cli.report.s_{s}", vi, en)
    for s, vi, en in (
        ("delivered", "đã đến máy", "delivered"),
        ("undelivered", "không đến được", "undelivered"),
        ("expired", "hết hạn", "expired"),
        ("rejected", "bị từ chối", "rejected"),
        ("failed", "lỗi khi gửi", "failed"),
        ("uncertain", "không rõ (worker dừng giữa chừng)", "uncertain (worker stopped mid-send)"),
        ("submitted", "đã gửi, chờ báo cáo", "sent, awaiting receipt"),
        ("submitting", "đang gửi", "submitting"),
        ("leased", "đang nhận", "being picked up"),
        ("queued", "chờ gửi", "queued"),
        ("planned", "đã lập kế hoạch", "planned"),
        ("suppressed", "bị chặn (luật)", "blocked (law)"),
        ("holdout", "nhóm đối chứng", "holdout"),
        ("cancelled", "đã huỷ", "cancelled"),
    )
}


def _target(settings: dict[str, Any]) -> str:
    if "host" in settings:
        return f"{settings['host']}:{settings.get('port', '')}"
    return str(settings.get("url") or settings.get("api_base") or "")


def _value(raw: str) -> Any:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    try:
        return int(raw)
    except ValueError:
        return raw


@routes_app.command("add")
def add_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A short name, e.g. viettel-smpp."),
    kind: str = typer.Option(..., "--kind", help="smpp / http-sms / smtp / fcm / webpush"),
    host: str | None = typer.Option(None, "--host"),
    port: int | None = typer.Option(None, "--port"),
    system_id: str | None = typer.Option(None, "--system-id", help="SMPP login."),
    password: str | None = typer.Option(None, "--password"),
    system_type: str | None = typer.Option(None, "--system-type"),
    tps: int | None = typer.Option(None, "--tps", help="SMS parts per second, all workers."),
    window: int = typer.Option(50, "--window", help="Requests in flight at once."),
    carriers: str | None = typer.Option(None, "--carriers", help="viettel,mobifone,… (all)."),
    priority: int = typer.Option(0, "--priority", help="Higher wins when several serve."),
    failover: str | None = typer.Option(None, "--failover", help="Route to use while down."),
    sets: list[str] = typer.Option([], "--set", help="Other setting KEY=VALUE (repeatable)."),
    settings_json: str | None = typer.Option(None, "--settings", help="All settings as JSON."),
) -> None:
    """Add a route (its settings are checked before it is saved)."""
    state: State = ctx.obj
    settings: dict[str, Any] = {}
    if settings_json:
        try:
            settings.update(json.loads(settings_json))
        except json.JSONDecodeError as exc:
            raise LoaError(BAD_JSON, error=str(exc)) from None
    for key, value in (
        ("host", host),
        ("port", port),
        ("system_id", system_id),
        ("password", password),
        ("system_type", system_type),
    ):
        if value is not None:
            settings[key] = value
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise LoaError(BAD_SETTING, value=item)
        settings[key.strip()] = _value(raw.strip())
    carrier_list = (
        [c.strip().lower() for c in carriers.split(",") if c.strip()] if carriers else None
    )
    store = state.store()
    with store.engine.begin() as conn:
        route = add_route(
            conn,
            workspace_id=store.workspace_id,
            name=name,
            kind=kind,
            settings=settings,
            carriers=carrier_list,
            tps=tps,
            window=window,
            priority=priority,
            failover=failover,
            known_carriers=sorted(load_carriers()),
        )
    shown = ", ".join(route.carriers) if route.carriers else ALL_CARRIERS.render()
    console.print(ADDED.render(name=escape(route.name), kind=route.kind, carriers=shown))


@routes_app.command("list")
def list_command(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """The workspace's routes, best first."""
    state: State = ctx.obj
    store = state.store()
    with store.engine.connect() as conn:
        found = list_routes(conn, workspace_id=store.workspace_id)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in found], ensure_ascii=False, indent=2))
        return
    if not found:
        console.print(NONE.render())
        return
    table = Table(*(h.render() for h in HEADERS))
    for r in found:
        table.add_row(
            escape(r.name),
            r.kind,
            ", ".join(r.carriers) if r.carriers else ALL_CARRIERS.render(),
            str(r.tps or "—"),
            str(r.window),
            escape(_target(dict(r.settings))),
            escape(r.failover or "—"),
        )
    console.print(table)


@routes_app.command("remove")
def remove_command(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Remove a route."""
    state: State = ctx.obj
    store = state.store()
    with store.engine.begin() as conn:
        remove_route(conn, workspace_id=store.workspace_id, name=name)
    console.print(REMOVED.render(name=escape(name)))


@routes_app.command("test")
def test_command(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Connect (bind) to the route's provider and disconnect; sends nothing."""
    state: State = ctx.obj
    store = state.store()
    with store.engine.connect() as conn:
        route = get_route(conn, workspace_id=store.workspace_id, name=name)
    channel = build_channel(route.kind, dict(route.settings), window=route.window, tps=route.tps)

    async def _try() -> float:
        started = time.perf_counter()
        await asyncio.wait_for(channel.open(), timeout=15)
        took = time.perf_counter() - started
        await channel.close()
        return took

    try:
        took = asyncio.run(_try())
    except Exception as exc:  # every way a connection can fail is a message for the user
        reason = escape(str(exc) or type(exc).__name__)
        console.print(f"[red]✗[/] {TEST_FAILED.render(name=escape(name), reason=reason)}")
        raise typer.Exit(1) from None
    console.print(f"[green]✓[/] {TEST_OK.render(name=escape(name), ms=round(took * 1000))}")


def worker_command(
    ctx: typer.Context,
    until_idle: bool = typer.Option(
        False, "--until-idle", help="Exit when nothing is due and receipts are in."
    ),
    batch: int = typer.Option(2000, "--batch", help="Rows leased at once."),
    lease_seconds: float = typer.Option(30.0, "--lease-seconds", help="Lease before reclaim."),
    validity_hours: float = typer.Option(24.0, "--validity-hours", help="SMS validity period."),
    resend_uncertain: str = typer.Option(
        "",
        "--resend-uncertain",
        help="Classes to resend after a crash (e.g. cskh); advertising never is.",
    ),
    receipt_wait: float = typer.Option(
        15.0, "--receipt-wait", help="--until-idle: seconds to wait for missing receipts."
    ),
    worker_id: str = typer.Option("", "--id", help="Name shown in leases (host:pid)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress line."),
    as_json: bool = typer.Option(False, "--json", help="Print the final counts as JSON."),
) -> None:
    """Send what is due: lease outbox rows, submit them, record every answer and receipt."""
    state: State = ctx.obj
    store = state.store()
    classes = frozenset(c.strip() for c in resend_uncertain.split(",") if c.strip())
    classes -= {"qc"}  # never twice for advertising
    options = WorkerOptions(
        worker_id=worker_id,
        batch=batch,
        lease_for=timedelta(seconds=lease_seconds),
        validity=timedelta(hours=validity_hours),
        resend_uncertain=classes,
        until_idle=until_idle,
        receipt_wait=receipt_wait,
    )
    started = time.perf_counter()
    last = [started, 0]

    def _tick(stats: WorkerStats) -> None:
        if quiet or as_json:
            return
        now = time.perf_counter()
        rate = (stats.submitted - last[1]) / max(now - last[0], 1e-6)
        last[0], last[1] = now, stats.submitted
        console.print(WORKER_TICK.render(**_counts(stats), rate=round(rate)), highlight=False)

    worker = Worker(store.engine, options, on_tick=_tick)

    async def _run() -> WorkerStats:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.stop)
        return await worker.run()

    if not quiet and not as_json:
        console.print(WORKER_STARTED.render(id=worker.id))
    stats = asyncio.run(_run())
    if as_json:
        typer.echo(json.dumps(stats.to_dict(), ensure_ascii=False))
        return
    console.print(
        WORKER_DONE.render(
            submitted=stats.submitted,
            seconds=round(time.perf_counter() - started, 1),
            receipts=stats.receipts,
            completed=", ".join(f"#{c}" for c in stats.completed) or "—",
        )
    )


def _counts(stats: WorkerStats) -> dict[str, Any]:
    return {k: v for k, v in stats.to_dict().items() if isinstance(v, int)}


def report_command(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., help="Campaign id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV."),
    html: Path | None = typer.Option(None, "--html", help="Also write an HTML page here."),
    png: Path | None = typer.Option(None, "--png", help="Also write the charts as a PNG here."),
) -> None:
    """What became of a campaign: delivered, undelivered (the carriers' codes in words),
    clicks, orders, revenue, cost, ROI, by variant, segment and carrier, and the effect
    against the holdout."""
    from loa.cli.reports import show_report

    show_report(ctx.obj, campaign_id, as_json=as_json, as_csv=as_csv, html=html, png=png)
