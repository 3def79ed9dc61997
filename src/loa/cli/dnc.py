"""`loa dnc ...`: the national do-not-advertise list."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from loa.cli.common import State, console, err_console
from loa.cli.compliance import parse_day
from loa.cli.events import number
from loa.i18n import Msg
from loa.services.audit import cli_actor
from loa.services.compliance.dnc import dnc_age_warning, dnc_status, import_dnc

app = typer.Typer(
    no_args_is_help=True,
    help="Danh sách không nhận quảng cáo (DNC). / The national do-not-advertise list.",
)

IMPORTED = Msg(
    "cli.dnc.imported",
    "Đã thay danh sách DNC bằng {numbers} số (ngày {list_date}); {invalid} dòng không hợp lệ, "
    "{duplicates} số trùng.",
    "Replaced the DNC list with {numbers} numbers (dated {list_date}); {invalid} invalid "
    "lines, {duplicates} duplicates.",
)
INVALID_LINE = Msg(
    "cli.dnc.invalid_line",
    "  dòng {line}: '{value}': {reason}",
    "  line {line}: '{value}': {reason}",
)
MORE = Msg("cli.dnc.more", "  … và {count} dòng nữa.", "  … and {count} more lines.")
STATUS = Msg(
    "cli.dnc.status",
    "Danh sách DNC ngày {list_date}: {numbers} số, từ {source}.",
    "DNC list of {list_date}: {numbers} numbers, from {source}.",
)
SHOWN_ERRORS = 20


@app.command("import")
def import_command(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="One number per line, or a CSV with a phone column."),
    list_date: str | None = typer.Option(None, "--date", help="The list's date (default today)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Replace the DNC list with the numbers of FILE."""
    state: State = ctx.obj
    day = parse_day(list_date, "--date") if list_date else None
    report = import_dnc(state.store(), path, list_date=day, actor=cli_actor())
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    console.print(
        IMPORTED.render(
            numbers=number(report.numbers),
            list_date=report.list_date.strftime("%d/%m/%Y"),
            invalid=number(len(report.invalid)),
            duplicates=number(report.duplicates),
        )
    )
    for line in report.invalid[:SHOWN_ERRORS]:
        err_console.print(
            INVALID_LINE.render(line=line.line, value=escape(line.value), reason=line.reason_text())
        )
    if len(report.invalid) > SHOWN_ERRORS:
        err_console.print(MORE.render(count=number(len(report.invalid) - SHOWN_ERRORS)))


@app.command("status")
def status_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Show the list in force and whether it is too old."""
    state: State = ctx.obj
    store = state.store()
    status = dnc_status(store)
    warning = dnc_age_warning(store)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "list_date": status.list_date.isoformat() if status else None,
                    "numbers": status.numbers if status else 0,
                    "source": status.source if status else None,
                    "warning": (
                        {"code": warning.code, "message": warning.render()} if warning else None
                    ),
                },
                ensure_ascii=False,
            )
        )
        return
    if status:
        console.print(
            STATUS.render(
                list_date=status.list_date.strftime("%d/%m/%Y"),
                numbers=number(status.numbers),
                source=escape(status.source),
            )
        )
    if warning:
        console.print(f"[bold yellow]![/] {warning.render()}")
