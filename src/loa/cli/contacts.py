"""`loa contacts ...`: import, list, show, count, export one person, forget one person."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from loa.cli.common import State, console, err_console
from loa.i18n import Msg
from loa.services.audit import cli_actor
from loa.services.contacts import people
from loa.services.contacts.columns import parse_map_options
from loa.services.contacts.importer import (
    ImportReport,
    OnConflict,
    OnInvalid,
    import_contacts,
    parse_consent_specs,
)

app = typer.Typer(
    no_args_is_help=True,
    help="Danh bạ khách hàng: nhập, xem, xuất, xoá. / The customer book.",
)

PHASES = {
    "read": Msg("cli.import.read", "Đọc tệp", "Reading"),
    "clean": Msg("cli.import.clean", "Kiểm tra dữ liệu", "Checking"),
    "stage": Msg("cli.import.stage", "Gộp trùng", "Merging duplicates"),
    "write": Msg("cli.import.write", "Ghi vào danh bạ", "Writing"),
}
SUMMARY = Msg(
    "cli.import.summary",
    "Đã nhập {imported} khách mới, cập nhật {updated}, bỏ qua {skipped}, {invalid} dòng lỗi "
    "(tổng {rows} dòng).",
    "Imported {imported} new customers, updated {updated}, skipped {skipped}, {invalid} bad rows "
    "({rows} rows in all).",
)
INVALID_FILE = Msg(
    "cli.import.invalid_file",
    "Các dòng lỗi đã ghi vào {path}: sửa ở cột được nêu rồi nhập lại tệp đó.",
    "The bad rows are in {path}: fix the named columns and import that file again.",
)
MORE_ERRORS = Msg(
    "cli.import.more_errors", "… và {n} lỗi khác (xem tệp lỗi).", "… and {n} more (see the file)."
)
ERRORS_TITLE = Msg("cli.import.errors_title", "Dòng không dùng được", "Rows that could not be used")
COLS = {
    "line": Msg("cli.col.line", "Dòng", "Line"),
    "column": Msg("cli.col.column", "Cột", "Column"),
    "value": Msg("cli.col.value", "Giá trị", "Value"),
    "reason": Msg("cli.col.reason", "Lý do", "Reason"),
    "phone": Msg("cli.col.phone", "Số điện thoại", "Phone"),
    "name": Msg("cli.col.name", "Họ tên", "Name"),
    "province": Msg("cli.col.province", "Tỉnh/Thành", "Province"),
    "carrier": Msg("cli.col.carrier", "Nhà mạng gốc", "Original carrier"),
    "email": Msg("cli.col.email", "Email", "Email"),
    "birthday": Msg("cli.col.birthday", "Ngày sinh", "Birthday"),
}
MAPPED = Msg("cli.import.mapped", "Cột → trường: {pairs}", "Columns → fields: {pairs}")
COUNT = Msg("cli.contacts.count", "{n} khách hàng.", "{n} customers.")
FORGOTTEN = Msg(
    "cli.contacts.forgotten",
    "Đã xoá hồ sơ của {phone}: {details}. Việc xoá đã ghi vào nhật ký kiểm toán.",
    "Erased the profile of {phone}: {details}. The erasure is recorded in the audit log.",
)
KEPT = Msg(
    "cli.contacts.forget_kept",
    "Vẫn giữ {consents} bản ghi đồng ý làm bằng chứng, trong nhật ký kiểm toán theo mã băm một "
    "chiều {fingerprint}: Nghị định 91/2020 (Điều 11.7) buộc lưu bản ghi đồng ý và từ chối ít "
    "nhất 1 năm, và Luật 91/2025 cho phép giữ dữ liệu cần để chứng minh việc gửi là hợp pháp.",
    "Kept {consents} consent records as evidence, in the audit log under the one-way token "
    "{fingerprint}: Decree 91/2020 (Art 11.7) requires keeping consents and refusals at least "
    "1 year, and Law 91/2025 allows keeping what proves the sending was lawful.",
)
KEPT_OPT_OUTS = Msg(
    "cli.contacts.forget_opt_outs",
    "Vẫn giữ {count} yêu cầu từ chối quảng cáo theo số điện thoại, để số này không nhận quảng "
    "cáo nữa, kể cả khi được nhập lại.",
    "Kept {count} advertising refusals by number, so this number gets no advertising, even if "
    "it is imported again.",
)
KEPT_DNC = Msg(
    "cli.contacts.forget_dnc",
    "Số này nằm trong danh sách DNC quốc gia; danh sách được giữ nguyên.",
    "This number is on the national DNC list; the list is kept as it is.",
)
CONFIRM_FORGET = Msg(
    "cli.contacts.confirm_forget",
    "Xoá vĩnh viễn hồ sơ của {phone}? (Yêu cầu từ chối và bằng chứng đồng ý vẫn được giữ.)",
    "Erase the profile of {phone} for good? (Refusals and consent proof are kept.)",
)
ERROR_ROWS_SHOWN = 20


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(PHASES["read"].render(), total=4)

        def tick(phase: str, done: int, total: int) -> None:
            bar.update(task, description=PHASES[phase].render(), completed=done, total=total)

        yield tick


def _print_report(report: ImportReport) -> None:
    for warning in report.warnings:
        console.print(f"[yellow]⚠[/] {warning}")
    if report.columns is not None:
        pairs = ", ".join(f"{h} → {f}" for f, h in report.columns.fields.items())
        extra = ", ".join(f"{h} → attrs.{k}" for k, h in report.columns.attributes.items())
        console.print(MAPPED.render(pairs=", ".join(p for p in (pairs, extra) if p)))
    if report.errors:
        table = Table(title=ERRORS_TITLE.render(), show_lines=False)
        for key in ("line", "column", "value", "reason"):
            table.add_column(COLS[key].render(), overflow="fold")
        for err in report.errors[:ERROR_ROWS_SHOWN]:
            table.add_row(str(err.line), err.column, err.value or "", err.reason)
        console.print(table)
        if len(report.errors) > ERROR_ROWS_SHOWN:
            console.print(MORE_ERRORS.render(n=len(report.errors) - ERROR_ROWS_SHOWN))
    console.print(
        "[bold green]✓[/] "
        + SUMMARY.render(
            imported=f"{report.imported:,}",
            updated=f"{report.updated:,}",
            skipped=f"{report.skipped:,}",
            invalid=f"{report.invalid:,}",
            rows=f"{report.rows:,}",
        )
    )
    if report.invalid_file:
        console.print(INVALID_FILE.render(path=report.invalid_file))


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV (UTF-8, UTF-16, legacy) or XLSX."),
    map_: list[str] = typer.Option(
        [], "--map", help='Column to field, e.g. --map "Di động=phone".'
    ),
    on_conflict: OnConflict = typer.Option("update", help="Existing numbers: update or skip."),
    invalid: OnInvalid = typer.Option("quarantine", help="Bad rows: quarantine or abort all."),
    invalid_file: Path | None = typer.Option(None, help="Where to write the bad rows."),
    consent: list[str] = typer.Option([], help="Consent the whole file carries: sms:marketing."),
    consent_method: str | None = typer.Option(None, help="sms_reply, form, hotline or app."),
    consent_evidence: str | None = typer.Option(None, help='e.g. "signup form, 2025".'),
    consent_date: datetime | None = typer.Option(None, help="When consent was given (ISO)."),
    source: str | None = typer.Option(None, help="Where these customers came from."),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
) -> None:
    """Import customers from a spreadsheet into the customer book."""
    state: State = ctx.obj
    store = state.store()
    given_at = consent_date.astimezone() if consent_date else None
    consents = parse_consent_specs(consent, consent_method, consent_evidence, given_at)
    with _progress(not as_json and err_console.is_terminal) as tick:
        report = import_contacts(
            store,
            file,
            column_map=parse_map_options(map_),
            on_conflict=on_conflict,
            on_invalid=invalid,
            consents=consents,
            invalid_file=invalid_file,
            source=source,
            actor=cli_actor(),
            progress=tick,
        )
    if as_json:
        typer.echo(json.dumps(report.summary(), ensure_ascii=False))
    else:
        _print_report(report)


@app.command("count")
def count(ctx: typer.Context) -> None:
    """How many customers the workspace has."""
    state: State = ctx.obj
    console.print(COUNT.render(n=f"{people.count_contacts(state.store()):,}"))


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: int = typer.Option(20, min=1, max=10_000),
    offset: int = typer.Option(0, min=0),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A page of customers, newest first."""
    state: State = ctx.obj
    rows = people.list_contacts(state.store(), limit=limit, offset=offset)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    table = Table()
    keys = ("phone", "name", "province", "carrier", "email", "birthday")
    for key in keys:
        table.add_column(COLS[key].render())
    for row in rows:
        table.add_row(*[str(row[k] or "") for k in keys])
    console.print(table)


@app.command("export-person")
def export_person(
    ctx: typer.Context,
    phone: str = typer.Argument(..., help="The person's number, in any written form."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to a file (JSON)."),
) -> None:
    """Everything Loa holds about one person, as JSON (the data subject's right of access)."""
    state: State = ctx.obj
    data = people.export_person(state.store(), phone, actor=cli_actor())
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    else:
        typer.echo(text)


@app.command("forget")
def forget(
    ctx: typer.Context,
    phone: str = typer.Argument(..., help="The person's number, in any written form."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Erase one person's profile (the right to erasure); refusals and consent proof stay."""
    state: State = ctx.obj
    e164 = people.resolve_phone(phone)
    if not yes:
        typer.confirm(CONFIRM_FORGET.render(phone=e164), abort=True)
    done = people.forget_person(state.store(), phone, actor=cli_actor())
    details = ", ".join(f"{k}={v}" for k, v in done.removed.items())
    console.print("[bold green]✓[/] " + FORGOTTEN.render(phone=e164, details=details))
    console.print(KEPT.render(consents=done.consents, fingerprint=done.fingerprint))
    if done.opt_outs:
        console.print(KEPT_OPT_OUTS.render(count=done.opt_outs))
    if done.on_dnc_list:
        console.print(KEPT_DNC.render())
