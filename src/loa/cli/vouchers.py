"""`loa vouchers ...`: issue single-use codes, redeem them once, list batches, print QR codes."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from loa.cli.common import State, console, err_console
from loa.cli.events import number
from loa.domain.vouchers import qr_png, qr_svg
from loa.i18n import LoaError, Msg
from loa.services.audit import cli_actor
from loa.services.segments import rule_from_text
from loa.services.vouchers import (
    Voucher,
    batch_summaries,
    expiry_from_date,
    find_voucher,
    issue_vouchers,
    list_vouchers,
    redeem_voucher,
    valid_until,
    vn_time,
)

app = typer.Typer(
    no_args_is_help=True,
    help="Phiếu giảm giá dùng một lần. / Single-use voucher codes.",
)

ISSUED = Msg(
    "cli.vouchers.issued",
    "Đã phát hành {issued} mã vào đợt '{batch}'.",
    "Issued {issued} codes into the batch '{batch}'.",
)
ALREADY_HELD = Msg(
    "cli.vouchers.already_held",
    "{count} khách đã có mã trong đợt này từ trước nên không nhận thêm.",
    "{count} contacts already had a code in this batch and got no second one.",
)
REDEEMED = Msg(
    "cli.vouchers.redeemed",
    "✓ Mã {code} hợp lệ: {value}. Đã đánh dấu đã dùng lúc {when} bởi {by}.",
    "✓ Code {code} is valid: {value}. Marked used at {when} by {by}.",
)
NO_VALUE = Msg("cli.vouchers.no_value", "(không ghi giá trị)", "(no value given)")
QR_SAVED = Msg(
    "cli.vouchers.qr_saved",
    "Đã lưu mã QR của {code} vào {path}.",
    "Saved the QR code of {code} to {path}.",
)
QR_FORMAT = Msg(
    "cli.vouchers.qr_format",
    "Tệp QR phải có đuôi .png hoặc .svg, không phải '{path}'.",
    "The QR file must end in .png or .svg, not '{path}'.",
)
NONE_YET = Msg(
    "cli.vouchers.none",
    "Chưa có mã nào. Phát hành bằng: loa vouchers issue --batch TEN --count 100",
    "No codes yet. Issue some with: loa vouchers issue --batch NAME --count 100",
)
EMPTY_BATCH = Msg(
    "cli.vouchers.empty_batch",
    "Đợt '{batch}' không có mã nào.",
    "The batch '{batch}' has no codes.",
)
H_BATCH = Msg("cli.vouchers.h_batch", "Đợt", "Batch")
H_VALUE = Msg("cli.vouchers.h_value", "Giá trị", "Value")
H_ISSUED = Msg("cli.vouchers.h_issued", "Đã phát", "Issued")
H_REDEEMED = Msg("cli.vouchers.h_redeemed", "Đã dùng", "Redeemed")
H_EXPIRED = Msg("cli.vouchers.h_expired", "Hết hạn chưa dùng", "Expired unused")
H_EXPIRES = Msg("cli.vouchers.h_expires", "Dùng được đến", "Valid until")
H_CODE = Msg("cli.vouchers.h_code", "Mã", "Code")
H_PHONE = Msg("cli.vouchers.h_phone", "Khách", "Contact")
H_USED = Msg("cli.vouchers.h_used", "Dùng lúc / bởi", "Used at / by")


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, default=str))


def _voucher_json(v: Voucher) -> dict[str, Any]:
    return {
        k: (val.isoformat() if isinstance(val, datetime) else val) for k, val in asdict(v).items()
    }


@app.command("issue")
def issue_command(
    ctx: typer.Context,
    batch: str = typer.Option(..., "--batch", help="Batch name, e.g. tet-2026."),
    segment: str | None = typer.Option(
        None, "--segment", help="One code per contact of this segment (name or JSON rule)."
    ),
    count: int | None = typer.Option(None, "--count", help="N codes not tied to a contact."),
    value: str | None = typer.Option(None, "--value", help='What it is worth, e.g. "50.000đ".'),
    expires: datetime | None = typer.Option(
        None, "--expires", formats=["%Y-%m-%d"], help="Last valid day (Vietnam time)."
    ),
    prefix: str | None = typer.Option(None, "--prefix", help="Code prefix, e.g. TET."),
    as_json: bool = typer.Option(False, "--json", help="Print the result and codes as JSON."),
) -> None:
    """Issue codes to a segment's contacts or N unassigned codes."""
    state: State = ctx.obj
    store = state.store()
    target: str | dict[str, Any] | None = segment
    if segment is not None and segment.strip().startswith("{"):
        target = rule_from_text(segment)
    expires_at = expiry_from_date(expires.date()) if expires else None
    with store.engine.begin() as conn:
        report = issue_vouchers(
            conn,
            workspace_id=store.workspace_id,
            batch=batch,
            segment=target,
            count=count,
            value=value,
            expires_at=expires_at,
            prefix=prefix,
            actor=cli_actor(),
        )
    if as_json:
        _echo_json(asdict(report))
        return
    console.print(ISSUED.render(issued=number(report.issued), batch=report.batch))
    if report.already_held:
        console.print(ALREADY_HELD.render(count=number(report.already_held)))


@app.command("redeem")
def redeem_command(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="The code as typed or scanned."),
    by: str | None = typer.Option(None, "--by", help="Who redeems: shop, till, staff."),
    as_json: bool = typer.Option(False, "--json", help="Print the voucher as JSON."),
) -> None:
    """Mark a code used; refuse (exit 1) an unknown, mistyped, expired or used one."""
    state: State = ctx.obj
    store = state.store()
    actor = cli_actor()
    with store.engine.connect() as conn:
        try:
            voucher = redeem_voucher(
                conn, workspace_id=store.workspace_id, code=code, by=by or actor, actor=actor
            )
        except LoaError as exc:
            conn.commit()  # keep the refusal's audit entry
            if as_json:
                _echo_json({"ok": False, "reason": exc.code, "message": exc.render()})
            else:
                err_console.print(f"[bold red]✗[/] {exc.render()}")
            raise typer.Exit(1) from None
        conn.commit()
    if as_json:
        _echo_json({"ok": True, **_voucher_json(voucher)})
        return
    assert voucher.redeemed_at is not None
    console.print(
        REDEEMED.render(
            code=voucher.code,
            value=voucher.value or NO_VALUE.render(),
            when=vn_time(voucher.redeemed_at),
            by=voucher.redeemed_by,
        )
    )


@app.command("list")
def list_command(
    ctx: typer.Context,
    batch: str | None = typer.Option(None, "--batch", help="List this batch's codes."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many codes."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Batches with their counts, or the codes of one batch."""
    state: State = ctx.obj
    store = state.store()
    with store.engine.connect() as conn:
        if batch is None:
            summaries = batch_summaries(conn, workspace_id=store.workspace_id)
            codes: list[Voucher] = []
        else:
            codes = list_vouchers(conn, workspace_id=store.workspace_id, batch=batch, limit=limit)
    if batch is None:
        if as_json:
            _echo_json([asdict(s) for s in summaries])
            return
        if not summaries:
            console.print(NONE_YET.render())
            return
        table = Table()
        for header in (H_BATCH, H_VALUE, H_ISSUED, H_REDEEMED, H_EXPIRED, H_EXPIRES):
            table.add_column(header.render())
        for s in summaries:
            table.add_row(
                s.batch,
                s.value or "",
                number(s.issued),
                number(s.redeemed),
                number(s.expired),
                valid_until(s.expires_at) if s.expires_at else "",
            )
        console.print(table)
        return
    if as_json:
        _echo_json([_voucher_json(v) for v in codes])
        return
    if not codes:
        console.print(EMPTY_BATCH.render(batch=batch))
        return
    table = Table()
    for header in (H_CODE, H_PHONE, H_VALUE, H_EXPIRES, H_USED):
        table.add_column(header.render())
    for v in codes:
        used = f"{vn_time(v.redeemed_at)} / {v.redeemed_by}" if v.redeemed_at else ""
        expires_at = valid_until(v.expires_at) if v.expires_at else ""
        table.add_row(v.code, v.phone or "", v.value or "", expires_at, used)
    console.print(table)


@app.command("qr")
def qr_command(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="An issued code."),
    out: Path = typer.Option(..., "-o", "--out", help="Where to write: file.png or file.svg."),
    scale: int = typer.Option(8, "--scale", min=1, max=40, help="Pixels per QR module."),
) -> None:
    """Write the QR code of an issued voucher as PNG or SVG."""
    suffix = out.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise LoaError(QR_FORMAT, path=str(out))
    state: State = ctx.obj
    store = state.store()
    with store.engine.connect() as conn:
        voucher = find_voucher(conn, workspace_id=store.workspace_id, code=code)
    render = qr_png if suffix == ".png" else qr_svg
    out.write_bytes(render(voucher.code, scale=scale))
    console.print(QR_SAVED.render(code=voucher.code, path=str(out)))
