"""`loa sample`: realistic Vietnamese sample data."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import cast

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from loa.cli.common import console
from loa.i18n import LoaError, Msg, current_lang
from loa.services import sample as svc

HELP_CONTACTS = Msg("sample.help.contacts", "Số khách hàng", "Number of customers")
HELP_ORDERS = Msg("sample.help.orders", "Số đơn hàng", "Number of orders")
HELP_OUT = Msg("sample.help.out", "Thư mục ghi tệp", "Folder to write the files into")
HELP_MESSY = Msg(
    "sample.help.messy",
    "Thêm lỗi như bảng tính thật (ghi manifest.json)",
    "Add the damage real spreadsheets have (see manifest.json)",
)
HELP_SEED = Msg("sample.help.seed", "Cùng seed, cùng dữ liệu", "Same seed, same data")
HELP_ENCODING = Msg(
    "sample.help.encoding",
    "Bảng mã của contacts.csv: {choices}",
    "Encoding of contacts.csv: {choices}",
)
HELP_NOW = Msg(
    "sample.help.now",
    "Ngày tham chiếu YYYY-MM-DD (mặc định hôm nay)",
    "Reference date YYYY-MM-DD (default today)",
)

BAD_NOW = Msg(
    "sample.bad_now",
    "--now '{value}' không phải ngày: dùng dạng YYYY-MM-DD, ví dụ 2026-05-09.",
    "--now '{value}' is not a date: use YYYY-MM-DD, e.g. 2026-05-09.",
)
BAD_ENCODING = Msg(
    "sample.bad_encoding",
    "--encoding '{value}' không được hỗ trợ: chọn một trong {choices}.",
    "--encoding '{value}' is not supported: choose one of {choices}.",
)
BAD_COUNT = Msg(
    "sample.bad_count",
    "{option} phải là số nguyên từ {low} trở lên, không phải {value}.",
    "{option} must be a whole number of at least {low}, not {value}.",
)
STAGE_GENERATE = Msg("sample.stage.generate", "Tạo dữ liệu", "Generating")
STAGE_WRITE = Msg("sample.stage.write", "Ghi {file}", "Writing {file}")
DONE = Msg(
    "sample.done",
    "Đã tạo dữ liệu mẫu trong {dir} (seed {seed}, ngày tham chiếu {now}) sau {seconds} giây:",
    "Sample data written to {dir} (seed {seed}, reference date {now}) in {seconds} s:",
)
CONTACTS_LINE = Msg(
    "sample.contacts_line",
    "{path}: {rows} khách hàng, {encoding}",
    "{path}: {rows} customers, {encoding}",
)
ORDERS_LINE = Msg("sample.orders_line", "{path}: {rows} đơn hàng", "{path}: {rows} orders")
MANIFEST_LINE = Msg(
    "sample.manifest_line",
    "{path}: các dòng bị làm lỗi và kết quả nhập mong đợi",
    "{path}: the damaged rows and the expected import result",
)
DAMAGE_TITLE = Msg(
    "sample.damage_title",
    "{rows} dòng bị làm lỗi ({percent}%). Mong đợi: {valid} khách hợp lệ, {duplicates} dòng trùng, "
    "{invalid} dòng không có số di động, {dates} ngày sinh sai.",
    "{rows} damaged rows ({percent}%). Expected: {valid} valid customers, {duplicates} duplicate "
    "rows, {invalid} rows without a mobile number, {dates} bad birthdays.",
)
COL_KIND = Msg("sample.col.kind", "Loại lỗi", "Damage")
COL_CODE = Msg("sample.col.code", "Mã", "Code")
COL_ROWS = Msg("sample.col.rows", "Số dòng", "Rows")
COL_EFFECT = Msg("sample.col.effect", "Khi nhập", "On import")
EFFECTS: dict[str, Msg] = {
    "valid": Msg("sample.effect.valid", "vẫn hợp lệ", "still valid"),
    "invalid_phone": Msg("sample.effect.invalid_phone", "bị loại", "rejected"),
    "duplicate": Msg(
        "sample.effect.duplicate", "gộp với dòng trước", "merged into the earlier row"
    ),
    "invalid_date": Msg(
        "sample.effect.invalid_date", "bị loại (sửa ngày)", "rejected (fix the date)"
    ),
}


def _both(msg: Msg, **params: object) -> str:
    # Typer reads help before --lang is known, so help shows both languages.
    return f"{msg.render('vi', **params)} / {msg.render('en', **params)}"


def _number(value: int) -> str:
    """A count the way the reader writes it: 1.000.000 in Vietnamese, 1,000,000 in English."""
    text = f"{value:,}"
    return text.replace(",", ".") if current_lang() == "vi" else text


def _decimal(value: float) -> str:
    text = f"{value:.1f}"
    return text.replace(".", ",") if current_lang() == "vi" else text


def _parse_now(value: str | None) -> date:
    if value is None:
        return svc.today_in_vietnam()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise LoaError(BAD_NOW, value=value) from None


def sample(
    contacts: int = typer.Option(1000, "--contacts", help=_both(HELP_CONTACTS)),
    orders: int = typer.Option(2000, "--orders", help=_both(HELP_ORDERS)),
    out: Path = typer.Option(..., "--out", help=_both(HELP_OUT)),
    messy: bool = typer.Option(False, "--messy", help=_both(HELP_MESSY)),
    seed: int = typer.Option(42, "--seed", help=_both(HELP_SEED)),
    encoding: str = typer.Option(
        "utf-8", "--encoding", help=_both(HELP_ENCODING, choices=", ".join(svc.ENCODINGS))
    ),
    now: str | None = typer.Option(None, "--now", help=_both(HELP_NOW)),
) -> None:
    """Write realistic Vietnamese customers and orders (CSV) / Tạo khách hàng và đơn hàng mẫu."""
    if contacts < 1:
        raise LoaError(BAD_COUNT, option="--contacts", low=1, value=contacts)
    if orders < 0:
        raise LoaError(BAD_COUNT, option="--orders", low=0, value=orders)
    if encoding not in svc.ENCODINGS:
        raise LoaError(BAD_ENCODING, value=encoding, choices=", ".join(svc.ENCODINGS))
    spec = svc.SampleSpec(
        contacts=contacts,
        orders=orders,
        now=_parse_now(now),
        seed=seed,
        messy=messy,
        encoding=cast(svc.Encoding, encoding),
    )
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # a bar in a log file is noise
    ) as bar:
        tasks = {
            "generate": bar.add_task(STAGE_GENERATE.render(), total=3),
            "contacts": bar.add_task(
                STAGE_WRITE.render(file=svc.CONTACTS_FILE), total=contacts, start=False
            ),
            "orders": bar.add_task(
                STAGE_WRITE.render(file=svc.ORDERS_FILE), total=orders, start=False
            ),
        }

        def progress(stage: str, done: int, total: int) -> None:
            task = tasks.get(stage)
            if task is not None:
                bar.start_task(task)
                bar.update(task, completed=done, total=total)

        files = svc.write_sample(spec, out, progress)
    _summary(spec, files, time.perf_counter() - started)


def _summary(spec: svc.SampleSpec, files: svc.SampleFiles, seconds: float) -> None:
    manifest = files.manifest_data
    console.print(
        "[bold green]✓[/] "
        + DONE.render(
            dir=files.contacts.parent,
            seed=spec.seed,
            now=spec.now.isoformat(),
            seconds=_decimal(seconds),
        )
    )
    console.print(
        "  "
        + CONTACTS_LINE.render(
            path=files.contacts, rows=_number(manifest["rows"]), encoding=spec.encoding
        )
    )
    console.print("  " + ORDERS_LINE.render(path=files.orders, rows=_number(manifest["orders"])))
    console.print("  " + MANIFEST_LINE.render(path=files.manifest))
    if not spec.messy:
        return
    damaged = manifest["damaged_rows"]
    console.print(
        DAMAGE_TITLE.render(
            rows=_number(damaged),
            percent=_decimal(100 * damaged / manifest["rows"]),
            valid=_number(manifest["expected_valid_unique_contacts"]),
            duplicates=_number(manifest["duplicates"]),
            invalid=_number(manifest["invalid_rows"]),
            dates=_number(manifest["invalid_dates"]),
        )
    )
    table = Table(show_edge=False, pad_edge=False)
    table.add_column(COL_KIND.render())
    table.add_column(COL_CODE.render())
    table.add_column(COL_ROWS.render(), justify="right")
    table.add_column(COL_EFFECT.render())
    for kind in svc.DAMAGE_KINDS:
        table.add_row(
            kind.label.render(),
            kind.code,
            _number(len(manifest["damage"][kind.code])),
            EFFECTS[kind.effect].render(),
        )
    console.print(table)
