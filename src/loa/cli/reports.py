"""`loa reports ...` (comparisons and HTML exports), `loa tracker` (the redirect service on its
own) and the printed campaign report behind `loa campaigns report`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from loa.cli.common import State, console
from loa.i18n import Msg, current_lang
from loa.services.tracking.export import (
    compare_csv,
    compare_html,
    report_csv,
    report_html,
    report_png,
    segment_name,
)
from loa.services.tracking.report import campaign_report, compare_campaigns

app = typer.Typer(
    no_args_is_help=True,
    help="Báo cáo và so sánh chiến dịch. / Reports and comparisons of campaigns.",
)

WROTE = Msg("cli.reports.wrote", "Đã ghi báo cáo vào {path}.", "Wrote the report to {path}.")
TRACKER_STARTED = Msg(
    "cli.tracker.started",
    "Dịch vụ chuyển hướng liên kết chạy tại http://{host}:{port}/r/<mã> (Ctrl-C để dừng).",
    "The link redirect service runs at http://{host}:{port}/r/<code> (Ctrl-C to stop).",
)
TITLE = Msg(
    "cli.reports.title",
    "Chiến dịch #{id} '{name}' ({state})",
    "Campaign #{id} '{name}' ({state})",
)
ROWS: tuple[tuple[str, Msg], ...] = tuple(
    (key, Msg(f"cli.reports.{key}", vi, en))
    for key, vi, en in (
        ("recipients", "Người nhận", "Recipients"),
        ("holdout", "Nhóm đối chứng", "Holdout"),
        ("suppressed", "Bị chặn (luật)", "Blocked (law)"),
        ("sent", "Đã gửi", "Sent"),
        ("delivered", "Đã đến máy", "Delivered"),
        ("undelivered", "Không đến được", "Undelivered"),
        ("expired", "Hết hạn", "Expired"),
        ("failed", "Lỗi khi gửi", "Failed"),
        ("uncertain", "Không rõ", "Uncertain"),
        ("pending", "Chưa xong", "Pending"),
        ("unique_clicks", "Người nhấn liên kết", "Unique clicks"),
        ("bot_clicks", "Lượt mở bởi máy (không tính)", "Bot opens (not counted)"),
        ("orders", "Đơn hàng", "Orders"),
        ("revenue_vnd", "Doanh thu (đ)", "Revenue (VND)"),
        ("cost_vnd", "Chi phí (đ)", "Cost (VND)"),
        ("roi", "ROI", "ROI"),
        ("cost_per_delivered_vnd", "Chi phí / tin đến (đ)", "Cost per delivered (VND)"),
        ("cost_per_click_vnd", "Chi phí / lượt nhấn (đ)", "Cost per click (VND)"),
        ("cost_per_order_vnd", "Chi phí / đơn (đ)", "Cost per order (VND)"),
    )
)
FAILURES = Msg("cli.reports.failures", "Lý do không đến", "Why messages did not arrive")
EFFECT = Msg("cli.reports.effect", "So với nhóm đối chứng", "Against the holdout")
CARRIERS = Msg("cli.reports.carriers", "Theo nhà mạng", "By carrier")
VARIANTS = Msg("cli.reports.variants", "Theo phiên bản", "By variant")
SEGMENTS = Msg("cli.reports.segments", "Theo phân khúc", "By segment")
_PARTS = ("sent", "delivered", "unique_clicks", "orders", "roi")  # the columns of each part


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return str(value)


def _report(state: State, campaign_id: int) -> dict[str, Any]:
    store = state.store()
    # A transaction that commits: the orders credited on the way are kept.
    with store.engine.begin() as conn:
        return campaign_report(conn, workspace_id=store.workspace_id, campaign_id=campaign_id)


def show_report(
    state: State,
    campaign_id: int,
    *,
    as_json: bool,
    as_csv: bool,
    html: Path | None,
    png: Path | None = None,
) -> None:
    """Print (and/or export) one campaign's report."""
    data = _report(state, campaign_id)
    lang = current_lang()
    written: list[Path] = []
    if html is not None:
        html.write_text(report_html(data, lang), encoding="utf-8")
        written.append(html)
    if png is not None:
        png.write_bytes(report_png(data, lang))
        written.append(png)
    if written and not as_json and not as_csv:
        for path in written:
            console.print(WROTE.render(path=escape(str(path))))
        return
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if as_csv:
        typer.echo(report_csv(data, lang), nl=False)
        return
    console.print(TITLE.render(id=campaign_id, name=escape(data["name"]), state=data["state"]))
    table = Table("", "")
    for key, label in ROWS:
        table.add_row(label.render(), _shown(data[key]))
    console.print(table)
    if data["failures"]:
        failures = Table(FAILURES.render(), "#")
        for f in data["failures"]:
            failures.add_row(escape(f[f"reason_{lang}"]), _shown(f["count"]))
        console.print(failures)
    labels = dict(ROWS)
    for key, title in (
        ("by_variant", VARIANTS),
        ("by_segment", SEGMENTS),
        ("by_carrier", CARRIERS),
    ):
        if data.get(key):
            part = Table(title.render(), *(labels[k].render() for k in _PARTS))
            for row in data[key]:
                name = segment_name(row, lang) if key == "by_segment" else row[key[3:]]
                part.add_row(escape(name), *(_shown(row[k]) for k in _PARTS))
            console.print(part)
    inc = data["incremental"]
    console.print(f"{EFFECT.render()}: {inc['words'][lang]}")


@app.command("compare")
def compare_command(
    ctx: typer.Context,
    campaign_ids: list[int] = typer.Argument(..., help="Two or more campaign ids."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV."),
    html: Path | None = typer.Option(None, "--html", help="Also write an HTML page here."),
) -> None:
    """Campaigns side by side: delivered, clicks, orders, revenue, cost, ROI."""
    state: State = ctx.obj
    store = state.store()
    with store.engine.begin() as conn:
        rows = compare_campaigns(conn, workspace_id=store.workspace_id, campaign_ids=campaign_ids)
    if html is not None:
        html.write_text(compare_html(rows, current_lang()), encoding="utf-8")
        if not as_json and not as_csv:
            console.print(WROTE.render(path=escape(str(html))))
            return
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if as_csv:
        typer.echo(compare_csv(rows), nl=False)
        return
    table = Table("", *(f"#{r['campaign_id']} {escape(r['name'])}" for r in rows))
    for key, label in ROWS:
        if key in rows[0]:
            table.add_row(label.render(), *(_shown(r[key]) for r in rows))
    for key in ("delivery_rate", "ctr"):
        table.add_row(key, *(_shown(r[key]) for r in rows))
    console.print(table)


@app.command("html")
def html_command(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., help="Campaign id."),
    output: Path = typer.Option(..., "--output", "-o", help="The HTML file to write."),
) -> None:
    """Write one campaign's report as an HTML page with charts (opens offline)."""
    show_report(ctx.obj, campaign_id, as_json=False, as_csv=False, html=output)


@app.command("png")
def png_command(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., help="Campaign id."),
    output: Path = typer.Option(..., "--output", "-o", help="The PNG file to write."),
) -> None:
    """Write one campaign's charts as a PNG image (states, funnel, carriers, segments)."""
    show_report(ctx.obj, campaign_id, as_json=False, as_csv=False, html=None, png=output)


def tracker_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8081, "--port", help="Port to listen on."),
) -> None:
    """Run the click redirect service (`/r/<code>`) on its own."""
    import uvicorn

    from loa.tracker import create_tracker_app

    state: State = ctx.obj
    app_ = create_tracker_app(state.store(), state.settings)
    console.print(TRACKER_STARTED.render(host=host, port=port))
    uvicorn.run(
        app_,
        host=host,
        port=port,
        http="httptools",
        loop="uvloop",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )
