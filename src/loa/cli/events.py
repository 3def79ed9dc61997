"""`loa events ...`: import orders and other events from CSV, or record one event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from loa.cli.common import State, console
from loa.i18n import LoaError, Msg, current_lang
from loa.services.automations.engine import event_runs
from loa.services.events import (
    BAD_TIME,
    EventImportReport,
    import_events,
    properties_from_text,
    record_event,
)
from loa.services.segments.rules import VN
from loa.services.stats import PURCHASE_TYPES, refresh_stats

app = typer.Typer(
    no_args_is_help=True,
    help="Sự kiện và đơn hàng: nhập từ CSV, ghi từng sự kiện. / Events and orders.",
)

IMPORTING = Msg("cli.events.importing", "Đang nhập sự kiện", "Importing events")
SUMMARY = Msg(
    "cli.events.summary",
    "Đã nhập {imported} sự kiện; {duplicate} đã có từ trước (bỏ qua); {invalid} dòng lỗi; "
    "{skipped} dòng không có khách hàng (bỏ qua).",
    "Imported {imported} events; {duplicate} were already there (skipped); {invalid} rows "
    "refused; {skipped} rows without a contact (skipped).",
)
MORE_ERRORS = Msg(
    "cli.events.more_errors",
    "… và {count} lỗi nữa (dùng --json để xem tất cả).",
    "… and {count} more errors (use --json to see them all).",
)
ERRORS_TITLE = Msg("cli.events.errors_title", "Dòng bị từ chối", "Refused rows")
COL_ROW = Msg("cli.events.col_row", "Dòng", "Row")
COL_COLUMN = Msg("cli.events.col_column", "Cột", "Column")
COL_REASON = Msg("cli.events.col_reason", "Lý do", "Reason")
RECORDED = Msg(
    "cli.events.recorded",
    "Đã ghi sự kiện {type} (#{id}).",
    "Recorded the {type} event (#{id}).",
)
ALREADY = Msg(
    "cli.events.already",
    "Sự kiện có mã '{key}' đã được ghi trước đó; không ghi lại.",
    "An event with the id '{key}' was recorded before; nothing was written.",
)

REACTED = Msg(
    "cli.events.reacted",
    "Tự động hoá: {queued} tin nhắn đã xếp hàng, {suppressed} bị chặn, {skipped} bỏ qua "
    "(xem: loa automations history).",
    "Automations: {queued} message(s) queued, {suppressed} suppressed, {skipped} skipped "
    "(see: loa automations history).",
)

SHOWN_ERRORS = 50


def number(value: int) -> str:
    """A count as the reader writes it: 1.234.567 in Vietnamese, 1,234,567 in English."""
    text = f"{value:,}"
    return text.replace(",", ".") if current_lang() == "vi" else text


class OnUnknown(StrEnum):
    """What to do with a row whose phone number is not in the contact book."""

    report = "report"
    skip = "skip"


def _print_report(report: EventImportReport) -> None:
    if report.errors:
        table = Table(title=ERRORS_TITLE.render(), title_justify="left")
        table.add_column(COL_ROW.render(), justify="right")
        table.add_column(COL_COLUMN.render())
        table.add_column(COL_REASON.render(), overflow="fold")
        for error in report.errors[:SHOWN_ERRORS]:
            table.add_row(str(error.row), error.column, error.reason())
        console.print(table)
        if len(report.errors) > SHOWN_ERRORS:
            console.print(MORE_ERRORS.render(count=len(report.errors) - SHOWN_ERRORS))
    console.print(
        SUMMARY.render(
            imported=number(report.imported),
            duplicate=number(report.duplicate),
            invalid=number(report.invalid),
            skipped=number(report.skipped),
        )
    )


@app.command("import")
def import_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV file (UTF-8) of orders or other events."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    unknown_contact: OnUnknown = typer.Option(
        OnUnknown.report,
        "--unknown-contact",
        help="report: refuse rows whose phone is not a contact; skip: count and skip them.",
    ),
) -> None:
    """Import events (orders) from a CSV file; a file can be imported again safely."""
    state: State = ctx.obj
    store = state.store()
    if as_json or not console.is_terminal:
        report = import_events(store, file, on_unknown_contact=unknown_contact.value)
    else:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(IMPORTING.render(), total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = import_events(
                store, file, on_unknown_contact=unknown_contact.value, progress=advance
            )
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        _print_report(report)


def _parse_at(text: str) -> datetime:
    """An ISO time; without an offset it is Vietnam time."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise LoaError(BAD_TIME, value=text) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=VN)


@app.command("send")
def send_command(
    ctx: typer.Context,
    event_type: str = typer.Argument(..., metavar="TYPE", help="e.g. purchase, account_created"),
    contact: str = typer.Option(..., "--contact", help="The contact's phone number."),
    props: str | None = typer.Option(None, "--props", help='JSON object, e.g. {"sku": "A1"}.'),
    value: int | None = typer.Option(None, "--value", help="Value in đồng."),
    key: str | None = typer.Option(None, "--id", help="Idempotency key (e.g. the order id)."),
    category: str | None = typer.Option(None, "--category", help="Product category."),
    at: str | None = typer.Option(None, "--at", help="ISO time (default: now)."),
) -> None:
    """Record one event for a contact; purchases update the RFM scores at once."""
    state: State = ctx.obj
    store = state.store()
    properties = properties_from_text(props) if props is not None else None
    occurred_at = _parse_at(at) if at is not None else datetime.now(UTC)
    with store.engine.begin() as conn:
        new_id = record_event(
            conn,
            workspace_id=store.workspace_id,
            phone=contact,
            type=event_type,
            occurred_at=occurred_at,
            value_vnd=value,
            category=category,
            properties=properties,
            external_id=key,
        )
        if new_id is not None and event_type.strip().lower() in PURCHASE_TYPES:
            refresh_stats(conn, workspace_id=store.workspace_id, now=datetime.now(UTC))
    if new_id is None:
        console.print(ALREADY.render(key=key))
        return
    console.print(RECORDED.render(type=event_type.strip().lower(), id=new_id))
    with store.engine.connect() as conn:
        runs = event_runs(conn, new_id)
    if runs:
        console.print(
            REACTED.render(
                queued=runs.get("queued", 0),
                suppressed=runs.get("suppressed", 0),
                skipped=runs.get("skipped", 0),
            )
        )
