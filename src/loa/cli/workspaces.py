"""`loa workspaces ...`: tenants. The embedded setup has one, `default`."""

from __future__ import annotations

import typer
from rich.table import Table

from loa.cli.common import State, console
from loa.i18n import Msg
from loa.services.workspaces import create_workspace, list_workspaces
from loa.store.db import open_store

app = typer.Typer(no_args_is_help=True, help="Workspace (khách thuê) / Workspaces (tenants).")

CREATED = Msg(
    "cli.workspaces.created",
    "Đã tạo workspace '{slug}'. Dùng: loa --workspace {slug} ...",
    "Created the workspace '{slug}'. Use it with: loa --workspace {slug} ...",
)
HEADERS = Msg("cli.workspaces.headers", "Workspace|Tên|Khách hàng", "Workspace|Name|Customers")


@app.command("create")
def create(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="Short name, e.g. shop-hcm."),
    name: str | None = typer.Option(None, "--name", help="Display name."),
) -> None:
    """Create a workspace."""
    state: State = ctx.obj
    engine = open_store(state.settings.database_url).engine
    try:
        create_workspace(engine, slug, name)
    finally:
        engine.dispose()
    console.print("[bold green]✓[/] " + CREATED.render(slug=slug))


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every workspace and how many customers it has."""
    state: State = ctx.obj
    engine = open_store(state.settings.database_url).engine
    try:
        rows = list_workspaces(engine)
    finally:
        engine.dispose()
    table = Table()
    for header in HEADERS.render().split("|"):
        table.add_column(header)
    for row in rows:
        table.add_row(row["slug"], row["name"], f"{row['contacts']:,}")
    console.print(table)
