"""The national do-not-advertise (DNC) list: imported whole, kept with the date it was
published, and a warning for plans when it is older than the pack allows."""

from __future__ import annotations

import csv
import io
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import delete, insert, select

from loa.domain.names import header_key
from loa.domain.phones import REASONS as PHONE_REASONS
from loa.domain.phones import normalize_column
from loa.i18n import Lang, LoaError, Msg
from loa.services import audit
from loa.services.compliance.brandnames import workspace_pack
from loa.store.bulk import attached_scratch, copy_rows
from loa.store.db import Store
from loa.store.tables import dnc_imports, dnc_numbers

PHONE_HEADERS = frozenset(
    {"phone", "phonenumber", "mobile", "msisdn", "number", "sdt", "sodienthoai", "dienthoai",
     "sothuebao", "thuebao", "so", "isdn"}
)  # fmt: skip

NOT_FOUND = Msg("dnc.not_found", "Không tìm thấy tệp {path}.", "File not found: {path}.")
NOT_UTF8 = Msg(
    "dnc.not_utf8",
    "Tệp {path} không phải UTF-8. Hãy lưu lại dạng 'CSV UTF-8' rồi nhập lại.",
    "{path} is not UTF-8. Save it as 'CSV UTF-8' and import again.",
)
NO_PHONE_COLUMN = Msg(
    "dnc.no_phone_column",
    "Tệp {path} có nhiều cột ({columns}) nhưng không cột nào tên là số điện thoại; đặt tên "
    "cột số là 'phone' hoặc 'sdt'.",
    "{path} has several columns ({columns}) but none is named as a phone number; name the "
    "number column 'phone' or 'sdt'.",
)
EMPTY = Msg(
    "dnc.empty",
    "Tệp {path} không có số hợp lệ nào; danh sách cũ được giữ nguyên.",
    "{path} has no valid number; the previous list is kept.",
)
FUTURE_DATE = Msg(
    "dnc.future_date",
    "Ngày của danh sách ({list_date}) ở tương lai; hãy nhập ngày công bố, dạng YYYY-MM-DD.",
    "The list date ({list_date}) is in the future; give the publication date as YYYY-MM-DD.",
)
NEVER_IMPORTED = Msg(
    "dnc.never_imported",
    "Chưa nhập danh sách DNC quốc gia: hãy chạy loa dnc import TỆP trước khi gửi quảng cáo.",
    "The national DNC list was never imported: run loa dnc import FILE before advertising.",
)
STALE = Msg(
    "dnc.stale",
    "Danh sách DNC ngày {list_date} đã cũ {age_days} ngày (tối đa {max_days}); hãy nhập "
    "danh sách mới: loa dnc import TỆP.",
    "The DNC list of {list_date} is {age_days} days old (at most {max_days}); import a new "
    "one: loa dnc import FILE.",
)


@dataclass(frozen=True, slots=True)
class InvalidLine:
    """A line of the file that holds no valid number, and why."""

    line: int
    value: str
    reason: str

    def reason_text(self, lang: Lang | None = None) -> str:
        """Why, in the user's language."""
        return PHONE_REASONS[self.reason].render(lang)


@dataclass
class DncImportReport:
    """What an import did."""

    list_date: date
    numbers: int = 0
    duplicates: int = 0
    replaced: int = 0
    invalid: list[InvalidLine] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """As `--json` prints it."""
        return {
            "list_date": self.list_date.isoformat(),
            "numbers": self.numbers,
            "duplicates": self.duplicates,
            "replaced": self.replaced,
            "invalid": [
                {"line": e.line, "value": e.value, "reason": e.reason_text()} for e in self.invalid
            ],
        }


@dataclass(frozen=True, slots=True)
class DncStatus:
    """The list in force."""

    list_date: date
    numbers: int
    source: str
    imported_at: datetime


@dataclass(frozen=True, slots=True)
class DncWarning:
    """A warning for plans about the DNC list."""

    msg: Msg
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.msg.code

    def render(self, lang: Lang | None = None) -> str:
        """The warning in the user's language."""
        return self.msg.render(lang, **self.params)


def _read_lines(path: Path) -> tuple[list[int], list[str]]:
    """The numbers of a file as (line numbers, values): one per line, or a CSV column."""
    if not path.is_file():
        raise LoaError(NOT_FOUND, path=path)
    try:
        content = path.read_text("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoaError(NOT_UTF8, path=path) from exc
    sample = content[:4096]
    delimiter = next((d for d in (",", ";", "\t") if d in sample), None)
    if delimiter is None:
        rows = [[line] for line in content.splitlines()]
    else:
        rows = list(csv.reader(io.StringIO(content), delimiter=delimiter))
    first = next((r for r in rows if any(c.strip() for c in r)), [])
    keys = [header_key(c) for c in first]
    # A header names the number column, or is a row of words above several columns.
    words = [k for k in keys if k and not any(ch.isdigit() for ch in k)]
    has_header = any(k in PHONE_HEADERS for k in keys) or (len(first) > 1 and bool(words))
    column = 0
    if has_header:
        found = [i for i, k in enumerate(keys) if k in PHONE_HEADERS]
        if found:
            column = found[0]
        elif len(first) > 1:
            raise LoaError(NO_PHONE_COLUMN, path=path, columns=", ".join(first))
    lines: list[int] = []
    values: list[str] = []
    header_seen = not has_header
    for number, row in enumerate(rows, start=1):
        if not any(c.strip() for c in row):
            continue
        if not header_seen:
            header_seen = True
            continue
        lines.append(number)
        values.append(row[column].strip() if column < len(row) else "")
    return lines, values


def _today(store: Store) -> date:
    with store.engine.connect() as conn:
        zone = workspace_pack(conn, store.workspace_id).timezone
    tz = ZoneInfo(zone) if zone != "recipient" else UTC
    return datetime.now(tz).date()


def import_dnc(
    store: Store,
    path: Path,
    *,
    list_date: date | None = None,
    actor: str = "cli",
    now: datetime | None = None,
) -> DncImportReport:
    """Replace the workspace's DNC list with the numbers in `path`, in one transaction."""
    now = now or datetime.now(UTC)
    today = _today(store)
    list_date = list_date or today
    if list_date > today:
        raise LoaError(FUTURE_DATE, list_date=list_date.isoformat())
    lines, values = _read_lines(path)
    verdicts = normalize_column(pl.Series("phone", values, dtype=pl.String))
    report = DncImportReport(list_date=list_date)
    valid = verdicts.get_column("valid").fill_null(False).to_list()
    reasons = verdicts.get_column("reason").to_list()
    for line, value, ok, reason in zip(lines, values, valid, reasons, strict=True):
        if not ok:
            report.invalid.append(InvalidLine(line, value, reason or "not_a_number"))
    phones = verdicts.filter(pl.col("valid").fill_null(False)).get_column("e164")
    unique = phones.unique(maintain_order=True)
    report.duplicates = phones.len() - unique.len()
    report.numbers = unique.len()
    if not report.numbers:
        raise LoaError(EMPTY, path=path)
    frame = pl.DataFrame({"phone": unique})
    with store.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        staged: AbstractContextManager[None] = (
            attached_scratch(conn, "dnc_stage", {"numbers": frame}) if sqlite else nullcontext()
        )
        with staged:
            import_id = conn.execute(
                insert(dnc_imports)
                .values(
                    workspace_id=store.workspace_id,
                    source=str(path.name)[:200],
                    list_date=list_date,
                    numbers=report.numbers,
                    imported_at=now,
                )
                .returning(dnc_imports.c.id)
            ).scalar_one()
            report.replaced = conn.execute(
                delete(dnc_numbers).where(dnc_numbers.c.workspace_id == store.workspace_id)
            ).rowcount
            if sqlite:
                conn.exec_driver_sql(
                    "INSERT INTO dnc_numbers (workspace_id, phone, import_id) "
                    "SELECT ?, phone, ? FROM dnc_stage.numbers",
                    (store.workspace_id, import_id),
                )
            else:
                copy_rows(
                    conn,
                    "dnc_numbers",
                    frame.select(
                        pl.lit(store.workspace_id).alias("workspace_id"),
                        "phone",
                        pl.lit(import_id).alias("import_id"),
                    ),
                )
            audit.record(
                conn,
                workspace_id=store.workspace_id,
                actor=actor,
                action="dnc.import",
                target=str(path.name)[:200],
                details={
                    "list_date": list_date.isoformat(),
                    "numbers": report.numbers,
                    "invalid": len(report.invalid),
                },
                now=now,
            )
            conn.commit()
    return report


def dnc_status(store: Store) -> DncStatus | None:
    """The list in force (the latest import), or None when none was imported."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(dnc_imports)
            .where(dnc_imports.c.workspace_id == store.workspace_id)
            .order_by(dnc_imports.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    return DncStatus(row.list_date, row.numbers, row.source, row.imported_at)


def dnc_age_warning(store: Store, today: date | None = None) -> DncWarning | None:
    """A warning when the list is missing or older than the pack's `dnc_max_age_days`."""
    with store.engine.connect() as conn:
        pack = workspace_pack(conn, store.workspace_id)
    if not pack.dnc_enforced:
        return None
    status = dnc_status(store)
    if status is None:
        return DncWarning(NEVER_IMPORTED)
    today = today or _today(store)
    age_days = (today - status.list_date).days
    if age_days > pack.dnc_max_age_days:
        return DncWarning(
            STALE,
            {
                "list_date": status.list_date.strftime("%d/%m/%Y"),
                "age_days": age_days,
                "max_days": pack.dnc_max_age_days,
            },
        )
    return None
