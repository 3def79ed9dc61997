"""`loa phone ...`: check phone numbers the way an import will read them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import polars as pl
import typer
from rich.table import Table
from rich.text import Text

from loa.cli.common import State, console
from loa.domain.phones import REASONS, VN, normalize_column
from loa.i18n import LoaError, Msg

app = typer.Typer(
    no_args_is_help=True,
    help="Số điện thoại: kiểm tra và chuẩn hoá. / Phone numbers: check and normalise.",
)

NO_INPUT = Msg(
    "phone.cli.no_input",
    "Chưa có số nào để kiểm tra: ghi số sau lệnh, hoặc dùng --file TỆP (--file - để đọc từ stdin).",
    "No numbers to check: write them after the command, or use --file FILE (--file - for stdin).",
)
FILE_UNREADABLE = Msg(
    "phone.cli.file_unreadable",
    "Không đọc được tệp {path}: {error}. Kiểm tra đường dẫn và lưu tệp dạng văn bản UTF-8.",
    "Cannot read {path}: {error}. Check the path and save the file as UTF-8 text.",
)
SUMMARY = Msg(
    "phone.cli.summary",
    "{valid}/{total} số hợp lệ, {legacy} số đã đổi từ 11 số sang 10 số.",
    "{valid} of {total} numbers valid, {legacy} converted from 11 to 10 digits.",
)
HEADERS = {
    "input": Msg("phone.cli.input", "Số đã nhập", "Input"),
    "e164": Msg("phone.cli.e164", "E.164", "E.164"),
    "type": Msg("phone.cli.type", "Loại", "Type"),
    "carrier": Msg("phone.cli.carrier", "Nhà mạng gốc", "Original carrier"),
    "note": Msg("phone.cli.note", "Lý do, ghi chú", "Reason, note"),
}
CONVERTED = Msg(
    "phone.cli.converted",
    "Số 11 chữ số cũ, đã đổi sang số mới theo quy định năm 2018.",
    "An old 11-digit number, converted to its new number by the 2018 rule.",
)
TYPES = {
    "mobile": Msg("phone.type.mobile", "di động", "mobile"),
    "fixed_line": Msg("phone.type.fixed_line", "cố định", "landline"),
    "fixed_line_or_mobile": Msg(
        "phone.type.fixed_line_or_mobile", "cố định hoặc di động", "landline or mobile"
    ),
    "toll_free": Msg("phone.type.toll_free", "miễn cước", "toll-free"),
    "premium_rate": Msg("phone.type.premium_rate", "dịch vụ giá cao", "premium rate"),
    "unknown": Msg("phone.type.unknown", "không rõ", "unknown"),
}


@app.command("check")
def check(
    ctx: typer.Context,
    numbers: list[str] | None = typer.Argument(
        None,
        metavar="NUMBER",
        help="Các số cần kiểm tra. / Numbers to check.",
        show_default=False,
    ),
    file: str | None = typer.Option(
        None,
        "--file",
        "-f",
        metavar="FILE",
        help="Tệp một số mỗi dòng; - là stdin. / One number per line; - reads stdin.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Mỗi số một dòng JSON. / One JSON object per number, per line."
    ),
) -> None:
    """Kiểm tra số: hợp lệ không, E.164, loại, nhà mạng gốc, lý do. / Check numbers."""
    inputs = list(numbers or [])
    if file is not None:
        inputs.extend(_read_lines(file))
    if not inputs:
        raise LoaError(NO_INPUT)
    # The settings' default region reads national numbers, as an import would.
    region = ctx.obj.settings.default_region if isinstance(ctx.obj, State) else VN
    frame = normalize_column(pl.Series("phone", inputs, dtype=pl.String), region)
    records = [
        _record(text, row) for text, row in zip(inputs, frame.iter_rows(named=True), strict=True)
    ]
    if as_json:
        # A checker reports every number and still succeeds; one line each, so scripts can stream.
        sys.stdout.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        return
    console.print(_table(records))


def _read_lines(path: str) -> list[str]:
    """The lines of `path` (stdin for "-"), a blank line being an empty entry."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        error = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise LoaError(FILE_UNREADABLE, path=path, error=error) from exc
    return text.removeprefix("\ufeff").splitlines()


def _record(text: str, row: dict[str, Any]) -> dict[str, Any]:
    reason = row["reason"]
    return {
        "input": text,
        "valid": row["valid"],
        "e164": row["e164"],
        "type": row["type"],
        "carrier": row["carrier"],
        "legacy_converted": row["legacy_converted"],
        "reason": REASONS[reason].render() if reason else None,
    }


def _table(records: list[dict[str, Any]]) -> Table:
    valid = sum(r["valid"] for r in records)
    legacy = sum(r["legacy_converted"] for r in records)
    table = Table(caption=SUMMARY.render(valid=valid, total=len(records), legacy=legacy))
    table.add_column("", no_wrap=True)
    for header in HEADERS.values():
        # Cells wrap at spaces and fold a long number rather than hide digits behind "…".
        table.add_column(header.render(), overflow="fold")
    for r in records:
        kind = TYPES[r["type"]].render() if r["type"] in TYPES else r["type"]
        note = r["reason"] or (CONVERTED.render() if r["legacy_converted"] else "")
        table.add_row(
            Text("✓", style="green") if r["valid"] else Text("✗", style="red"),
            # Text, not markup: a cell may hold "[" and must be shown as typed.
            Text(r["input"]),
            r["e164"] or "",
            kind or "",
            r["carrier"] or "",
            Text(note),
        )
    return table
