"""`loa automations ...`: rules that answer events (orders, appointments, bills, deliveries)
and dates (birthdays, inactivity, milestones) with one message each, once."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from loa.cli.common import State, console, err_console
from loa.i18n import LoaError, Msg, current_lang
from loa.services.audit import cli_actor
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
from loa.services.compliance.templates import add_template, list_templates

app = typer.Typer(
    no_args_is_help=True,
    help="Tự động hoá: tin giao dịch và tin theo ngày. / Automations: transactional messages.",
)

CREATED = Msg(
    "cli.automations.created",
    "Đã tạo tự động hoá '{name}' (#{id}): {events} -> {template}, {channels}, gửi {timing}.",
    "Created automation '{name}' (#{id}): {events} -> {template}, {channels}, sent {timing}.",
)
PAUSED = Msg(
    "cli.automations.paused",
    "Đã tạm dừng '{name}': không phản hồi sự kiện mới; tin đã xếp hàng vẫn gửi.",
    "Paused '{name}': it answers no new event; messages already queued still go.",
)
RESUMED = Msg("cli.automations.resumed", "Đã chạy lại '{name}'.", "Resumed '{name}'.")
NONE = Msg(
    "cli.automations.none",
    "Chưa có tự động hoá nào. Tạo: loa automations create --event order_completed "
    "--template order_confirmation --sender BRAND",
    "No automations yet. Create one: loa automations create --event order_completed "
    "--template order_confirmation --sender BRAND",
)
NO_RUNS = Msg("cli.automations.no_runs", "Chưa có lần chạy nào.", "No runs yet.")
DAILY_DONE = Msg(
    "cli.automations.daily_done",
    "{name}: {queued} tin xếp hàng, {vouchers} voucher, {already} đã gửi trước đó, "
    "{suppressed} bị chặn, {skipped} bỏ qua.",
    "{name}: {queued} queued, {vouchers} vouchers, {already} done before, {suppressed} "
    "suppressed, {skipped} skipped.",
)
NO_DAILY = Msg(
    "cli.automations.no_daily",
    "Không có quy tắc hằng ngày nào đang chạy.",
    "No daily rule is active.",
)
REGISTERED = Msg(
    "cli.automations.registered",
    "Đã đăng ký {count} mẫu có sẵn (chưa duyệt); {skipped} mẫu đã có. Gửi chúng cho nhà mạng "
    "duyệt, rồi đánh dấu: loa templates add TÊN --class cskh --approved --replace --text '…'.",
    "Registered {count} ready templates (not approved); {skipped} were there already. Have the "
    "carriers approve them, then mark them: loa templates add NAME --class cskh --approved "
    "--replace --text '…'.",
)
BAD_DATE = Msg(
    "cli.automations.bad_date",
    "Ngày '{value}' không hợp lệ; viết dạng 2026-11-23.",
    "The date '{value}' is not valid; write it as 2026-11-23.",
)
HEADERS = (
    Msg("cli.automations.h_name", "Tên", "Name"),
    Msg("cli.automations.h_events", "Sự kiện", "Events"),
    Msg("cli.automations.h_template", "Mẫu", "Template"),
    Msg("cli.automations.h_channels", "Kênh", "Channels"),
    Msg("cli.automations.h_timing", "Gửi", "Sent"),
    Msg("cli.automations.h_state", "Trạng thái", "State"),
)
RUN_HEADERS = (
    Msg("cli.automations.h_when", "Lúc", "At"),
    Msg("cli.automations.h_rule", "Tự động hoá", "Automation"),
    Msg("cli.automations.h_phone", "Số", "Number"),
    Msg("cli.automations.h_status", "Kết quả", "Outcome"),
    Msg("cli.automations.h_message", "Tin nhắn", "Message"),
)


def _summary(found: Automation) -> dict[str, Any]:
    return {
        "name": found.name,
        "id": found.id,
        "events": ", ".join(found.events),
        "template": found.template,
        "channels": " -> ".join(found.channels),
        "timing": found.timing.describe(),
    }


@app.command("create")
def create_command(
    ctx: typer.Context,
    event: list[str] = typer.Option(
        ..., "--event", help="Event type (repeatable), e.g. order_completed or daily:birthday."
    ),
    template: str = typer.Option(..., "--template", help="A registered or ready template."),
    sender: str = typer.Option(..., "--sender", help="The brandname it is sent under."),
    name: str | None = typer.Option(None, "--name", help="Default: TEMPLATE-EVENT."),
    delay: str | None = typer.Option(
        None, "--delay", help="now, 30m, 2h, 09:00, '24h before starts_at', '2h after due_date'."
    ),
    channels: str = typer.Option("sms", "--channels", help="In order, e.g. push,sms."),
    fallback_after: int | None = typer.Option(
        None, "--fallback-after", help="Seconds to wait for delivery before the next channel."
    ),
    when: list[str] = typer.Option([], "--when", help="Event condition, e.g. total>=500000."),
    segment: str | None = typer.Option(None, "--segment", help="Only contacts in this segment."),
    limit_days: int | None = typer.Option(
        None, "--limit-days", help="At most once per contact in this many days."
    ),
    voucher_value: str | None = typer.Option(None, "--voucher-value", help="e.g. 20%."),
    voucher_days: int | None = typer.Option(None, "--voucher-days", help="Voucher validity."),
    days: int | None = typer.Option(None, "--days", help="daily:inactive: days without buying."),
    milestones: str | None = typer.Option(None, "--milestones", help="daily:milestone: 5,10,20."),
    as_json: bool = typer.Option(False, "--json", help="Print the rule as JSON."),
) -> None:
    """Create a rule: on EVENT send TEMPLATE under SENDER, when and where it says."""
    state: State = ctx.obj
    store = state.store()
    builtin = BUILTINS.get(template)
    voucher: dict[str, Any] | None = None
    if voucher_value is not None or voucher_days is not None:
        voucher = dict((builtin.voucher if builtin else None) or {})
        if voucher_value is not None:
            voucher["value"] = voucher_value
        if voucher_days is not None:
            voucher["valid_days"] = voucher_days
    params: dict[str, Any] | None = None
    if days is not None or milestones is not None:
        params = dict((builtin.params if builtin else None) or {})
        if days is not None:
            params["days"] = days
        if milestones is not None:
            params["milestones"] = [int(m) for m in milestones.split(",") if m.strip()]
    with store.engine.begin() as conn:
        found = create_automation(
            conn,
            workspace_id=store.workspace_id,
            event=event,
            template=template,
            sender=sender,
            name=name,
            timing=parse_delay(delay) if delay is not None else None,
            channels=channels.split(","),
            fallback_after_s=fallback_after,
            conditions=[parse_condition(w) for w in when],
            segment=segment,
            limit_days=limit_days,
            voucher=voucher,
            params=params,
            actor=cli_actor(),
        )
    if as_json:
        typer.echo(json.dumps(found.to_dict(), ensure_ascii=False))
    else:
        console.print(CREATED.render(**_summary(found)))


@app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Every rule of the workspace."""
    store = ctx.obj.store()
    with store.engine.connect() as conn:
        found = list_automations(conn, workspace_id=store.workspace_id)
    if as_json:
        typer.echo(json.dumps([a.to_dict() for a in found], ensure_ascii=False))
        return
    if not found:
        console.print(NONE.render())
        return
    table = Table()
    for header in HEADERS:
        table.add_column(header.render())
    for a in found:
        table.add_row(
            escape(a.name),
            ", ".join(a.events),
            escape(a.template),
            " -> ".join(a.channels),
            a.timing.describe(),
            a.state,
        )
    console.print(table)


def _set(ctx: typer.Context, name: str, to: str, done: Msg) -> None:
    store = ctx.obj.store()
    with store.engine.begin() as conn:
        found = set_state(
            conn, workspace_id=store.workspace_id, name=name, state=to, actor=cli_actor()
        )
    console.print(done.render(name=found.name))


@app.command("pause")
def pause_command(ctx: typer.Context, name: str = typer.Argument(..., help="Name or id.")) -> None:
    """Stop a rule answering new events (what it queued still goes)."""
    _set(ctx, name, STATE_PAUSED, PAUSED)


@app.command("resume")
def resume_command(ctx: typer.Context, name: str = typer.Argument(..., help="Name or id.")) -> None:
    """Let a paused rule answer events again."""
    _set(ctx, name, STATE_ACTIVE, RESUMED)


@app.command("history")
def history_command(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="One rule (name or id); default: all."),
    limit: int = typer.Option(50, "--limit", help="How many runs, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """What the rules did: each run, its message and that message's fate."""
    store = ctx.obj.store()
    with store.engine.connect() as conn:
        rule_id = (
            get_automation(conn, workspace_id=store.workspace_id, name=name).id if name else None
        )
        runs = run_history(
            conn, workspace_id=store.workspace_id, automation_id=rule_id, limit=limit
        )
    if as_json:
        typer.echo(json.dumps(runs, ensure_ascii=False))
        return
    if not runs:
        console.print(NO_RUNS.render())
        return
    table = Table()
    for header in RUN_HEADERS:
        table.add_column(header.render())
    for run in runs:
        outcome = run["status"] + (f" ({run['reason']})" if run["reason"] else "")
        message = f"{run['channel']}: {run['message']}" if run["channel"] else ""
        table.add_row(
            run["created_at"][:19], escape(run["automation"]), run["phone"] or "", outcome, message
        )
    console.print(table)


@app.command("run-daily")
def run_daily_command(
    ctx: typer.Context,
    day: str | None = typer.Option(
        None, "--date", help="The day, e.g. 2026-11-23 (default today)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Run the date rules (birthdays, anniversaries, inactivity, milestones) for a day; running
    it again the same day sends nothing more."""
    try:
        parsed = date.fromisoformat(day) if day else None
    except ValueError as exc:
        raise LoaError(BAD_DATE, value=day) from exc
    store = ctx.obj.store()
    reports = run_daily(store, day=parsed)
    if as_json:
        typer.echo(json.dumps({k: v.to_dict() for k, v in reports.items()}, ensure_ascii=False))
        return
    if not reports:
        console.print(NO_DAILY.render())
    for rule_name, report in reports.items():
        if report.error is not None:
            err_console.print(f"[bold red]✗[/] {escape(rule_name)}: {escape(report.error)}")
            continue
        console.print(DAILY_DONE.render(name=rule_name, **report.to_dict()))


@app.command("templates")
def templates_command(
    ctx: typer.Context,
    register: bool = typer.Option(
        False, "--register", help="Register the ready texts as templates (to be approved)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """The built-in event types and their ready messages."""
    lang = current_lang()
    if register:
        store = ctx.obj.store()
        have = {t.name for t in list_templates(store)}
        added = 0
        for b in BUILTINS.values():
            if b.name not in have:
                add_template(store, b.name, cls=b.cls, text=b.text(lang), actor=cli_actor())
                added += 1
        console.print(REGISTERED.render(count=added, skipped=len(BUILTINS) - added))
        return
    rows: list[dict[str, Any]] = [
        {
            "template": b.name,
            "event": b.event,
            "also": list(b.also),
            "class": b.cls,
            "timing": b.timing,
            "text": b.text(lang),
        }
        for b in BUILTINS.values()
    ]
    if as_json:
        types = {**EVENT_TYPES, **DAILY_TYPES}
        typer.echo(
            json.dumps(
                {"events": {k: v.render() for k, v in types.items()}, "templates": rows},
                ensure_ascii=False,
            )
        )
        return
    table = Table()
    for header in (HEADERS[2], HEADERS[1], HEADERS[4]):
        table.add_column(header.render())
    table.add_column("Text", overflow="fold")
    for row in rows:
        table.add_row(
            row["template"],
            ", ".join([row["event"], *row["also"]]),
            json.dumps(row["timing"]),
            escape(row["text"]),
        )
    console.print(table)
