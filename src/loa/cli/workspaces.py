"""`loa workspaces ...`: tenants and their rules. The embedded setup has one, `default`."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from loa.cli.common import State, console
from loa.i18n import LoaError, Msg
from loa.services import audit
from loa.services.accounts.settings import (
    BAD_SETTING,
    DESCRIPTIONS,
    HINTS,
    WorkspaceSettings,
    get_settings,
    update_settings,
)
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


SETTINGS_HEADERS = Msg(
    "cli.workspaces.settings_headers",
    "Cài đặt|Giá trị|Mặc định|Cho phép|Mô tả",
    "Setting|Value|Default|Allowed|Description",
)
BAD_SET = Msg(
    "cli.workspaces.bad_set",
    "--set viết dạng TÊN=GIÁ_TRỊ (ví dụ min_gap_hours=48); nhận được '{value}'.",
    "Write --set as NAME=VALUE (e.g. min_gap_hours=48); got '{value}'.",
)
CHANGED = Msg(
    "cli.workspaces.settings_changed",
    "Đã lưu cài đặt của workspace '{slug}':",
    "Saved the settings of workspace '{slug}':",
)
ANY_ZONE = Msg(
    "cli.workspaces.any_zone",
    "múi giờ IANA, ví dụ Asia/Ho_Chi_Minh",
    "an IANA time zone, e.g. Asia/Ho_Chi_Minh",
)
UNCHANGED = Msg("cli.workspaces.unchanged", "không đổi", "unchanged")
_TRUE = {"true", "yes", "1", "có"}
_FALSE = {"false", "no", "0", "không"}
_TYPES = {f.name: f.type for f in fields(WorkspaceSettings)}
_DEFAULTS = WorkspaceSettings()


def _shown(value: Any) -> str:
    """A setting's value as a user types it after `--set name=`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _allowed(name: str) -> str:
    kind = _TYPES[name]
    if kind == "bool":
        return "true / false"
    if kind == "str":
        return ANY_ZONE.render()
    return HINTS[name]


def _parsed(item: str) -> tuple[str, Any]:
    """One `--set NAME=VALUE`, the value converted to the setting's type."""
    name, sep, raw = item.partition("=")
    name, raw = name.strip(), raw.strip()
    if not sep or not name:
        raise LoaError(BAD_SET, value=item)
    kind = _TYPES.get(name)
    if kind is None:
        # update_settings names every setting there is; let it say so.
        return name, raw
    if kind == "bool":
        if raw.lower() in _TRUE:
            return name, True
        if raw.lower() in _FALSE:
            return name, False
        raise LoaError(BAD_SETTING, field=name, value=raw, hint=_allowed(name))
    if kind == "int":
        try:
            return name, int(raw)
        except ValueError:
            raise LoaError(BAD_SETTING, field=name, value=raw, hint=_allowed(name)) from None
    return name, raw  # the time zone: update_settings checks it


@app.command("settings")
def settings_command(
    ctx: typer.Context,
    set_: list[str] = typer.Option(
        [], "--set", help="NAME=VALUE, e.g. min_gap_hours=48 (repeatable; all or nothing)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the settings as JSON."),
) -> None:
    """Show the workspace's rules, or change some of them (audited)."""
    changes = dict(_parsed(item) for item in set_)
    state: State = ctx.obj
    store = state.store()
    with store.engine.begin() as conn:
        before = get_settings(conn, store.workspace_id)
        after = (
            update_settings(conn, store.workspace_id, changes, actor=audit.cli_actor())
            if changes
            else before
        )
    if as_json:
        typer.echo(json.dumps(asdict(after), ensure_ascii=False))
        return
    if changes:
        console.print(CHANGED.render(slug=escape(state.settings.workspace)))
        for name in changes:
            old, new = _shown(getattr(before, name)), _shown(getattr(after, name))
            line = f"{old} → {new}" if old != new else f"{new} ({UNCHANGED.render()})"
            console.print(f"  {name}: {escape(line)}")
        return
    table = Table()
    for header in SETTINGS_HEADERS.render().split("|"):
        table.add_column(header)
    for name in _TYPES:
        table.add_row(
            name,
            escape(_shown(getattr(after, name))),
            _shown(getattr(_DEFAULTS, name)),
            _allowed(name),
            DESCRIPTIONS[name].render(),
        )
    console.print(table)
