"""`loa templates ...`: message templates as the carriers approved them."""

from __future__ import annotations

import json

import typer
from rich.markup import escape
from rich.table import Table

from loa.cli.common import State, console
from loa.i18n import Msg
from loa.services.audit import cli_actor
from loa.services.compliance.templates import add_template, list_templates

app = typer.Typer(
    no_args_is_help=True,
    help="Mẫu tin đã đăng ký với nhà mạng. / Message templates registered with carriers.",
)

ADDED = Msg(
    "cli.templates.added",
    "Đã lưu mẫu '{name}' ({cls}, {state}).",
    "Saved template '{name}' ({cls}, {state}).",
)
APPROVED = Msg("cli.templates.approved", "đã duyệt", "approved")
APPROVED_BY = Msg("cli.templates.approved_by", "đã duyệt bởi {carriers}", "approved by {carriers}")
PENDING = Msg("cli.templates.pending", "chưa duyệt", "not approved")
NONE = Msg(
    "cli.templates.none",
    "Chưa có mẫu nào. Thêm: loa templates add TÊN --class cskh --text '…' --approved",
    "No templates yet. Add one: loa templates add NAME --class cskh --text '…' --approved",
)
HEADERS = (
    Msg("cli.templates.h_name", "Tên", "Name"),
    Msg("cli.templates.h_class", "Loại", "Class"),
    Msg("cli.templates.h_state", "Duyệt", "Approval"),
    Msg("cli.templates.h_text", "Nội dung", "Text"),
)


def _state(approved: bool, carriers: tuple[str, ...] | None) -> str:
    if not approved:
        return PENDING.render()
    if carriers is not None:
        return APPROVED_BY.render(carriers=", ".join(carriers))
    return APPROVED.render()


@app.command("add")
def add_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A name for the template."),
    cls: str = typer.Option(..., "--class", help="qc, cskh or public."),
    text: str = typer.Option(..., "--text", help="The text, with {{ variables }}."),
    approved: bool = typer.Option(False, "--approved", help="The carriers approved it."),
    carriers: str | None = typer.Option(None, "--carriers", help="Approved by: Viettel,…"),
    otp: bool = typer.Option(False, "--otp", help="A one-time-code template."),
    replace: bool = typer.Option(False, "--replace", help="Update an existing template."),
) -> None:
    """Register a template (or update it with --replace)."""
    state: State = ctx.obj
    by = [c.strip() for c in carriers.split(",") if c.strip()] if carriers else None
    template = add_template(
        state.store(), name, cls=cls, text=text, approved=approved, carriers=by, otp=otp,
        replace=replace, actor=cli_actor(),
    )  # fmt: skip
    console.print(
        ADDED.render(
            name=escape(template.name),
            cls=template.cls,
            state=_state(template.approved, template.approved_carriers),
        )
    )


@app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """List the workspace's templates."""
    state: State = ctx.obj
    found = list_templates(state.store())
    if as_json:
        typer.echo(json.dumps([t.to_dict() for t in found], ensure_ascii=False))
        return
    if not found:
        console.print(NONE.render())
        return
    table = Table()
    for header in HEADERS:
        table.add_column(header.render())
    for t in found:
        kind = f"{t.cls} (OTP)" if t.otp else t.cls
        table.add_row(escape(t.name), kind, _state(t.approved, t.approved_carriers), escape(t.text))
    console.print(table)
