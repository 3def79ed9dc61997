"""`loa compliance ...`: judge one message as it would leave; export the record for an inspector."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer
from rich.markup import escape

from loa.cli import compliance_decide
from loa.cli.common import State, console
from loa.i18n import LoaError, Msg
from loa.services.audit import cli_actor
from loa.services.compliance.check import check_message
from loa.services.compliance.export import export_compliance

app = typer.Typer(
    no_args_is_help=True,
    help="Tuân thủ: kiểm tra tin nhắn, xuất hồ sơ. / Compliance: check messages, export records.",
)
app.command("explain")(compliance_decide.explain)

ALLOWED = Msg("cli.compliance.allowed", "Được phép gửi.", "Allowed.")
REFUSED = Msg(
    "cli.compliance.refused", "Không được gửi ({count} lý do):", "Refused ({count} reasons):"
)
MATCHED = Msg("cli.compliance.matched", "Khớp mẫu '{name}'.", "Matches template '{name}'.")
EXPORTED = Msg(
    "cli.compliance.exported",
    "Đã xuất {rows} dòng ({start} → {end}) vào {path}: {consent} đồng ý, {opt_out} từ chối, "
    "{confirmation} xác nhận, {registration} tin DKQC.",
    "Exported {rows} rows ({start} → {end}) to {path}: {consent} consents, {opt_out} opt-outs, "
    "{confirmation} confirmations, {registration} DKQC messages.",
)
BAD_DATE = Msg(
    "cli.compliance.bad_date",
    "{option} '{value}' không phải ngày dạng YYYY-MM-DD.",
    "{option} '{value}' is not a date of the form YYYY-MM-DD.",
)


def parse_day(value: str, option: str) -> date:
    """A YYYY-MM-DD option value; a clear error naming the option otherwise."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise LoaError(BAD_DATE, option=option, value=value) from exc


@app.command("check")
def check_command(
    ctx: typer.Context,
    text: str = typer.Option(..., "--text", help="The message exactly as it would leave."),
    sender: str | None = typer.Option(None, "--sender", help="The brandname it is sent under."),
    cls: str = typer.Option("qc", "--class", help="qc, cskh or public."),
    template: str | None = typer.Option(None, "--template", help="The template it renders from."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Judge one message (nothing added); exit code 1 when it may not be sent."""
    state: State = ctx.obj
    result = check_message(state.store(), text, sender, cls, template)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    elif result.allowed:
        console.print(f"[bold green]✓[/] {ALLOWED.render()}")
        if result.template:
            console.print(MATCHED.render(name=escape(result.template)))
    else:
        console.print(f"[bold red]✗[/] {REFUSED.render(count=len(result.reasons))}")
        for reason in result.reasons:
            console.print(f"  • [bold]{reason.code}[/]: {escape(reason.render())}")
    if not result.allowed:
        raise typer.Exit(1)


@app.command("export")
def export_command(
    ctx: typer.Context,
    start: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD."),
    end: str = typer.Option(..., "--to", help="Last day, YYYY-MM-DD (included)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="A .csv or .xlsx file."),
) -> None:
    """Export consents, opt-outs, confirmations and DKQC messages of a period."""
    state: State = ctx.obj
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    path = output or Path(f"compliance-{first.isoformat()}-{last.isoformat()}.csv")
    report = export_compliance(state.store(), first, last, path, actor=cli_actor())
    counts = report.counts
    console.print(
        EXPORTED.render(
            rows=report.rows,
            start=first.isoformat(),
            end=last.isoformat(),
            path=escape(str(path)),
            consent=counts["consent"],
            opt_out=counts["opt_out"],
            confirmation=counts["confirmation"],
            registration=counts["registration"],
        )
    )
