"""`loa segments ...`: create, list, count, preview and delete segments; rebuild RFM scores."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import typer
from rich.table import Table

from loa.cli.common import State, console
from loa.cli.events import number
from loa.i18n import Msg
from loa.services.segments import (
    count_segment,
    create_segment,
    delete_segment,
    list_segments,
    preview_segment,
    rule_from_text,
)
from loa.services.stats import refresh_stats

app = typer.Typer(
    no_args_is_help=True,
    help="Phân khúc khách hàng theo điều kiện (JSON). / Customer segments from rules (JSON).",
)

CREATED = Msg(
    "cli.segments.created",
    "Đã tạo phân khúc '{name}': hiện có {count} khách hàng.",
    "Created the segment '{name}': {count} contacts now.",
)
DELETED = Msg("cli.segments.deleted", "Đã xoá phân khúc '{name}'.", "Deleted the segment '{name}'.")
COUNTED = Msg("cli.segments.counted", "{name}: {count} khách hàng.", "{name}: {count} contacts.")
REFRESHED = Msg(
    "cli.segments.refreshed",
    "Đã tính lại số liệu mua hàng và điểm RFM cho {count} khách hàng đã mua.",
    "Rebuilt purchase figures and RFM scores for {count} buyers.",
)
EMPTY = Msg("cli.segments.empty", "Phân khúc không có ai.", "The segment is empty.")
H_NAME = Msg("cli.segments.h_name", "Tên", "Name")
H_TITLE = Msg("cli.segments.h_title", "Mô tả", "Description")
H_KIND = Msg("cli.segments.h_kind", "Loại", "Kind")
H_COUNT = Msg("cli.segments.h_count", "Số khách", "Contacts")
H_PHONE = Msg("cli.segments.h_phone", "Số điện thoại", "Phone")
H_PERSON = Msg("cli.segments.h_person", "Họ tên", "Name")
H_PROVINCE = Msg("cli.segments.h_province", "Tỉnh/thành", "Province")
H_CARRIER = Msg("cli.segments.h_carrier", "Nhà mạng", "Carrier")
H_ORDERS = Msg("cli.segments.h_orders", "Đơn", "Orders")
H_SPEND = Msg("cli.segments.h_spend", "Chi tiêu (đ)", "Spend (VND)")
BUILTIN = Msg("cli.segments.builtin", "có sẵn", "built-in")
STORED = Msg("cli.segments.stored", "đã lưu", "saved")


def _target(name_or_rule: str) -> str | Mapping[str, Any]:
    """A segment name, or an ad-hoc rule when the argument is a JSON object."""
    text = name_or_rule.strip()
    return rule_from_text(text) if text.startswith("{") else text


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False))


@app.command("create")
def create_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A name for the segment."),
    rule: str = typer.Option(..., "--rule", help='The rule as JSON, e.g. {"tag": "vip"}.'),
    description: str | None = typer.Option(None, "--description", help="What it is for."),
) -> None:
    """Save a segment defined by a rule."""
    state: State = ctx.obj
    store = state.store()
    parsed = rule_from_text(rule)
    with store.engine.begin() as conn:
        segment = create_segment(
            conn,
            workspace_id=store.workspace_id,
            name=name,
            rule=parsed,
            description=description,
        )
        count = count_segment(conn, workspace_id=store.workspace_id, segment=segment)
    console.print(CREATED.render(name=segment.name, count=number(count)))


@app.command("list")
def list_command(
    ctx: typer.Context,
    counts: bool = typer.Option(False, "--counts", help="Count the members of each segment."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """List the built-in and saved segments."""
    state: State = ctx.obj
    store = state.store()
    with store.engine.connect() as conn:
        found = list_segments(conn, workspace_id=store.workspace_id, counts=counts)
    if as_json:
        _echo_json(
            [
                {"name": s.name, "title": s.title(), "builtin": s.builtin, "rule": s.rule}
                | ({"count": s.count} if counts else {})
                for s in found
            ]
        )
        return
    table = Table()
    table.add_column(H_NAME.render(), style="bold")
    table.add_column(H_TITLE.render())
    table.add_column(H_KIND.render())
    if counts:
        table.add_column(H_COUNT.render(), justify="right")
    for s in found:
        cells = [s.name, s.title(), (BUILTIN if s.builtin else STORED).render()]
        if counts:
            cells.append(number(s.count or 0))
        table.add_row(*cells)
    console.print(table)


@app.command("count")
def count_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A segment name, or a rule as JSON."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Count the contacts in a segment."""
    state: State = ctx.obj
    store = state.store()
    target = _target(name)
    with store.engine.connect() as conn:
        count = count_segment(conn, workspace_id=store.workspace_id, segment=target)
    if as_json:
        _echo_json({"segment": name, "count": count})
    else:
        console.print(COUNTED.render(name=name, count=number(count)))


@app.command("preview")
def preview_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A segment name, or a rule as JSON."),
    limit: int = typer.Option(20, "--limit", min=1, max=10_000, help="How many contacts."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Show the first members of a segment with their orders and spend."""
    state: State = ctx.obj
    store = state.store()
    target = _target(name)
    with store.engine.connect() as conn:
        rows = preview_segment(conn, workspace_id=store.workspace_id, segment=target, limit=limit)
    if as_json:
        _echo_json([asdict(r) for r in rows])
        return
    if not rows:
        console.print(EMPTY.render())
        return
    table = Table()
    for header, justify in (
        (H_PHONE, "left"),
        (H_PERSON, "left"),
        (H_PROVINCE, "left"),
        (H_CARRIER, "left"),
        (H_ORDERS, "right"),
        (H_SPEND, "right"),
    ):
        table.add_column(header.render(), justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            r.phone,
            r.name or "",
            r.province or "",
            r.carrier or "",
            number(r.orders_count),
            number(r.total_spend_vnd),
        )
    console.print(table)


@app.command("delete")
def delete_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The saved segment to delete."),
) -> None:
    """Delete a saved segment (built-in ones stay)."""
    state: State = ctx.obj
    store = state.store()
    with store.engine.begin() as conn:
        delete_segment(conn, workspace_id=store.workspace_id, name=name)
    console.print(DELETED.render(name=name))


@app.command("refresh")
def refresh_command(ctx: typer.Context) -> None:
    """Rebuild the purchase figures and RFM scores from the events."""
    state: State = ctx.obj
    store = state.store()
    with store.engine.begin() as conn:
        buyers = refresh_stats(conn, workspace_id=store.workspace_id, now=datetime.now(UTC))
    console.print(REFRESHED.render(count=number(buyers)))
