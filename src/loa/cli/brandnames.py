"""`loa brandnames ...`: register sender names with the domains their links may go to."""

from __future__ import annotations

import json

import typer
from rich.markup import escape
from rich.table import Table

from loa.cli.common import State, console
from loa.cli.compliance import parse_day
from loa.i18n import Msg
from loa.services.audit import cli_actor
from loa.services.compliance.brandnames import add_brandname, list_brandnames

app = typer.Typer(
    no_args_is_help=True,
    help="Brandname và tên miền đã xác minh. / Brandnames and their verified domains.",
)

ADDED = Msg(
    "cli.brandnames.added",
    "Đã lưu brandname '{name}'; liên kết chỉ được tới: {domains}.",
    "Saved brandname '{name}'; links may go only to: {domains}.",
)
NONE = Msg(
    "cli.brandnames.none",
    "Chưa có brandname nào. Thêm: loa brandnames add TÊN --domains shop.vn",
    "No brandnames yet. Add one: loa brandnames add NAME --domains shop.vn",
)
ALL = Msg("cli.brandnames.all", "mọi nhà mạng", "all carriers")
NO_DOMAIN = Msg(
    "cli.brandnames.no_domain", "(không có; mọi liên kết bị chặn)", "(none; every link is refused)"
)
HEADERS = (
    Msg("cli.brandnames.h_name", "Brandname", "Brandname"),
    Msg("cli.brandnames.h_domains", "Tên miền", "Domains"),
    Msg("cli.brandnames.h_carriers", "Nhà mạng", "Carriers"),
    Msg("cli.brandnames.h_expires", "Hết hạn", "Expires"),
    Msg("cli.brandnames.h_optout", "Từ chối", "Opt-out"),
)


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


@app.command("add")
def add_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The brandname (≤ 11 characters)."),
    domains: str = typer.Option("", "--domains", help="Verified link domains: shop.vn,m.shop.vn"),
    carriers: str | None = typer.Option(None, "--carriers", help="Viettel,MobiFone,… (all)."),
    registered: str | None = typer.Option(None, "--registered", help="YYYY-MM-DD"),
    expires: str | None = typer.Option(None, "--expires", help="YYYY-MM-DD"),
    optout_keyword: str | None = typer.Option(None, "--optout-keyword", help="e.g. TC"),
    shortcode: str | None = typer.Option(None, "--shortcode", help="Where refusals are texted."),
    hotline: str | None = typer.Option(None, "--hotline", help="Refusal by call."),
    replace: bool = typer.Option(False, "--replace", help="Update an existing brandname."),
) -> None:
    """Register a brandname (or update it with --replace)."""
    state: State = ctx.obj
    brand = add_brandname(
        state.store(),
        name,
        domains=_split(domains) or [],
        carriers=_split(carriers),
        registered_on=parse_day(registered, "--registered") if registered else None,
        expires_on=parse_day(expires, "--expires") if expires else None,
        optout_keyword=optout_keyword,
        optout_shortcode=shortcode,
        hotline=hotline,
        replace=replace,
        actor=cli_actor(),
    )
    shown = ", ".join(brand.domains) if brand.domains else NO_DOMAIN.render()
    console.print(ADDED.render(name=escape(brand.name), domains=escape(shown)))


@app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """List the workspace's brandnames."""
    state: State = ctx.obj
    found = list_brandnames(state.store())
    if as_json:
        typer.echo(json.dumps([b.to_dict() for b in found], ensure_ascii=False))
        return
    if not found:
        console.print(NONE.render())
        return
    table = Table()
    for header in HEADERS:
        table.add_column(header.render())
    for b in found:
        optout = " ".join(x for x in (b.optout_keyword, b.optout_shortcode, b.hotline) if x)
        table.add_row(
            escape(b.name),
            escape(", ".join(b.domains)) or NO_DOMAIN.render(),
            ", ".join(b.carriers) if b.carriers is not None else ALL.render(),
            b.expires_on.strftime("%d/%m/%Y") if b.expires_on else "—",
            escape(optout) or "—",
        )
    console.print(table)
