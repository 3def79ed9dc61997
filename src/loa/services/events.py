"""Events: what customers did (orders above all), one at a time or imported from a CSV file.

An event belongs to a contact of the workspace, found by its phone number in E.164. The
source system's id (`external_id`, e.g. the order number) makes recording idempotent: an id
already stored is skipped and counted as a duplicate, so a file can be imported twice.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import polars as pl
from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy import text as sql_text
from sqlalchemy.dialects import postgresql, sqlite

from loa.domain.names import fold_accents
from loa.domain.phones import normalize_column, parse_phone
from loa.i18n import Lang, LoaError, Msg
from loa.services.automations.engine import EventFacts, prepare_reaction, react
from loa.services.stats import PURCHASE_TYPES, refresh_stats
from loa.store.bulk import attached_scratch, copy_rows
from loa.store.db import Store
from loa.store.tables import contacts, events

__all__ = [
    "PURCHASE_TYPES",
    "EventImportReport",
    "RowError",
    "import_events",
    "record_event",
]

BATCH_ROWS: Final = 50_000
ANALYZE_MIN_ROWS: Final = 10_000  # below this SQLite plans well enough without statistics
VN_TZ: Final = "Asia/Ho_Chi_Minh"
TYPE_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,47}$")
MAX_EXTERNAL_ID: Final = 128
MAX_CATEGORY: Final = 80

UnknownContact = Literal["report", "skip"]
Progress = Callable[[int, int], None]

# --- messages -------------------------------------------------------------------------------

NOT_FOUND = Msg("events.not_found", "Không tìm thấy tệp {path}.", "File not found: {path}.")
NOT_UTF8 = Msg(
    "events.not_utf8",
    "Tệp {path} không phải UTF-8. Hãy lưu lại dạng 'CSV UTF-8' rồi nhập lại.",
    "{path} is not UTF-8. Save it as 'CSV UTF-8' and import again.",
)
UNREADABLE = Msg(
    "events.unreadable",
    "Không đọc được tệp {path}: {error}. Kiểm tra đó là tệp CSV có dòng tiêu đề.",
    "Cannot read {path}: {error}. Check that it is a CSV file with a header line.",
)
MISSING_COLUMN = Msg(
    "events.missing_column",
    "Tệp thiếu cột {field}. Đặt tên một cột là một trong: {aliases}.",
    "The file has no {field} column. Name a column one of: {aliases}.",
)
AMBIGUOUS_COLUMNS = Msg(
    "events.ambiguous_columns",
    "Các cột {columns} đều có thể là {field}; đổi tên để chỉ còn một cột như vậy.",
    "The columns {columns} could each be {field}; rename them so that only one is.",
)
MISSING_PHONE = Msg(
    "events.missing_phone",
    "Thiếu số điện thoại.",
    "The phone number is missing.",
)
BAD_PHONE = Msg(
    "events.bad_phone",
    "Số điện thoại '{value}' không hợp lệ; sửa lại số.",
    "The phone number '{value}' is not valid; correct it.",
)
UNKNOWN_CONTACT = Msg(
    "events.unknown_contact",
    "Không có khách hàng nào có số {value} trong danh bạ; nhập khách hàng trước (loa contacts "
    "import) hoặc sửa số.",
    "No contact has the number {value}; import the contact first (loa contacts import) or "
    "correct the number.",
)
MISSING_TIME = Msg(
    "events.missing_time",
    "Thiếu thời gian; ghi dạng 25/12/2024 14:30 hoặc 2024-12-25T14:30:00+07:00.",
    "The time is missing; write it as 25/12/2024 14:30 or 2024-12-25T14:30:00+07:00.",
)
BAD_TIME = Msg(
    "events.bad_time",
    "Thời gian '{value}' không hợp lệ; ghi dạng 25/12/2024 14:30 hoặc 2024-12-25T14:30:00+07:00.",
    "The time '{value}' is not valid; write it as 25/12/2024 14:30 or 2024-12-25T14:30:00+07:00.",
)
BAD_AMOUNT = Msg(
    "events.bad_amount",
    "Số tiền '{value}' không hợp lệ; ghi số đồng nguyên, ví dụ 1250000 hoặc 1.250.000.",
    "The amount '{value}' is not valid; write whole đồng, e.g. 1250000 or 1.250.000.",
)
BAD_TYPE = Msg(
    "events.bad_type",
    "Loại sự kiện '{value}' không hợp lệ; dùng chữ thường không dấu, số và _ (tối đa 48 ký tự), "
    "ví dụ purchase.",
    "The event type '{value}' is not valid; use lower-case letters, digits and _ (at most 48), "
    "e.g. purchase.",
)
TOO_LONG = Msg(
    "events.too_long",
    "Giá trị dài {length} ký tự, vượt giới hạn {limit}; rút gọn lại.",
    "The value is {length} characters long, over the limit of {limit}; shorten it.",
)
BAD_PROPERTIES = Msg(
    "events.bad_properties",
    'Thuộc tính của sự kiện phải là một đối tượng JSON, ví dụ {{"sku": "A1"}}.',
    'The event properties must be a JSON object, e.g. {{"sku": "A1"}}.',
)
NAIVE_TIME = Msg(
    "events.naive_time",
    "Thời điểm sự kiện phải có múi giờ.",
    "The event time must carry a time zone.",
)

FIELD_NAMES: Final[dict[str, Msg]] = {
    "phone": Msg("events.field.phone", "số điện thoại", "phone number"),
    "occurred_at": Msg("events.field.occurred_at", "thời gian", "time"),
}

# Header aliases, compared without accents, case, or separators (see `_header_key`).
ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "external_id": ("order id", "id", "ma don", "ma don hang", "external id", "event id"),
    "phone": ("phone", "phone number", "so dien thoai", "sdt", "dien thoai", "mobile"),
    "type": ("type", "loai", "event", "event type", "loai su kien"),
    "occurred_at": (
        "occurred at",
        "time",
        "date",
        "ngay",
        "thoi gian",
        "datetime",
        "order date",
        "ngay mua",
        "ngay dat",
    ),
    "value_vnd": (
        "amount vnd",
        "amount",
        "value",
        "value vnd",
        "so tien",
        "gia tri",
        "tong tien",
        "thanh tien",
    ),
    "category": ("category", "danh muc", "nganh hang"),
}

# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one cell: the 1-based data row (header not counted), the column, why."""

    row: int
    column: str
    msg: Msg
    params: Mapping[str, Any] = field(default_factory=dict)

    def reason(self, lang: Lang | None = None) -> str:
        """Why the row was refused, in the user's language."""
        return self.msg.render(lang, **self.params)

    def to_json(self, lang: Lang | None = None) -> dict[str, Any]:
        """A plain dict for `--json` output."""
        return {"row": self.row, "column": self.column, "code": self.msg.code,
                "reason": self.reason(lang)}  # fmt: skip


@dataclass(slots=True)
class EventImportReport:
    """What an import did: rows read, imported, already there, refused, skipped."""

    rows: int = 0
    imported: int = 0
    duplicate: int = 0
    invalid: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)

    def to_json(self, lang: Lang | None = None) -> dict[str, Any]:
        """The report as plain data."""
        return {
            "imported": self.imported,
            "duplicate": self.duplicate,
            "invalid": self.invalid,
            "skipped": self.skipped,
            "errors": [e.to_json(lang) for e in self.errors],
        }


# --- one event ------------------------------------------------------------------------------


def _insert_new(dialect: str) -> Any:
    """An INSERT into events that does nothing when the external id is already stored."""
    if dialect == "postgresql":
        return postgresql.insert(events).on_conflict_do_nothing(
            index_elements=["workspace_id", "external_id"]
        )
    return sqlite.insert(events).on_conflict_do_nothing(
        index_elements=["workspace_id", "external_id"]
    )


@lru_cache(maxsize=8)
def _insert_one(dialect: str) -> Any:
    """`_insert_new` returning the new id, built once: one event's values come as parameters
    (building a statement with `.values()` costs more Python than SQLite takes to run it)."""
    return _insert_new(dialect).returning(events.c.id)


_CONTACT_BY_PHONE: Final = select(contacts.c.id).where(
    contacts.c.workspace_id == bindparam("ws"), contacts.c.phone == bindparam("phone")
)


def record_event(
    conn: Connection,
    *,
    workspace_id: int,
    phone: str,
    type: str,
    occurred_at: datetime,
    value_vnd: int | None = None,
    category: str | None = None,
    properties: Mapping[str, Any] | None = None,
    external_id: str | None = None,
) -> int | None:
    """Record one event for the contact with `phone`; None when `external_id` was seen before."""
    if occurred_at.tzinfo is None:
        raise LoaError(NAIVE_TIME)
    kind = type.strip().lower()
    if not TYPE_RE.match(kind):
        raise LoaError(BAD_TYPE, value=type)
    if properties is not None and not isinstance(properties, Mapping):
        raise LoaError(BAD_PROPERTIES)
    if external_id is not None and len(external_id) > MAX_EXTERNAL_ID:
        raise LoaError(TOO_LONG, length=len(external_id), limit=MAX_EXTERNAL_ID)
    if category is not None and len(category) > MAX_CATEGORY:
        raise LoaError(TOO_LONG, length=len(category), limit=MAX_CATEGORY)
    parsed = parse_phone(phone)
    if not parsed.valid or parsed.e164 is None:
        raise LoaError(BAD_PHONE, value=phone)
    contact_id = conn.execute(
        _CONTACT_BY_PHONE, {"ws": workspace_id, "phone": parsed.e164}
    ).scalar_one_or_none()
    if contact_id is None:
        raise LoaError(UNKNOWN_CONTACT, value=parsed.e164)
    # The automations' reaction is worked out before the insert and written with it, in
    # this transaction: an event is never kept without it, and the write lock is held briefly.
    reaction = prepare_reaction(
        conn,
        workspace_id=workspace_id,
        facts=[
            EventFacts(None, kind, int(contact_id), occurred_at, value_vnd, properties, external_id)
        ],
    )
    new_id = conn.execute(
        _insert_one(conn.dialect.name),
        {
            "workspace_id": workspace_id,
            "contact_id": contact_id,
            "type": kind,
            "occurred_at": occurred_at,
            "value_vnd": value_vnd,
            "category": category,
            "properties": dict(properties) if properties is not None else None,
            "external_id": external_id,
            "created_at": datetime.now(UTC),
        },
    ).scalar_one_or_none()
    if new_id is None:
        return None
    reaction.apply(conn, event_id=int(new_id))
    return int(new_id)


# --- reading the file -----------------------------------------------------------------------


def _header_key(header: str) -> str:
    """A header as compared with the aliases: lower case, no accents, one space between words."""
    bare = fold_accents(header.strip().lower())
    return " ".join(re.split(r"[\s_\-./]+", bare)).strip()


def map_headers(headers: list[str]) -> dict[str, str]:
    """Which header holds which field (field -> header); the other headers become properties."""
    found: dict[str, list[str]] = {}
    for header in headers:
        key = _header_key(header)
        for name, aliases in ALIASES.items():
            if key in aliases:
                found.setdefault(name, []).append(header)
    for name, columns in found.items():
        if len(columns) > 1:
            raise LoaError(
                AMBIGUOUS_COLUMNS,
                columns=", ".join(f"'{c}'" for c in columns),
                field=name,
            )
    mapped = {name: columns[0] for name, columns in found.items()}
    for required in ("phone", "occurred_at"):
        if required not in mapped:
            raise LoaError(
                MISSING_COLUMN, field=required, aliases=", ".join(_display_aliases(required))
            )
    return mapped


def _display_aliases(name: str) -> list[str]:
    shown = {
        "phone": ["phone", "số điện thoại", "sđt"],
        "occurred_at": ["occurred_at", "time", "date", "ngày", "thời gian"],
    }
    return shown.get(name, [name])


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_event_file(path: Path) -> pl.DataFrame:
    """The CSV as text columns, whatever its delimiter; UTF-8 with or without a BOM."""
    if not path.is_file():
        raise LoaError(NOT_FOUND, path=str(path))
    with path.open("rb") as fh:
        head = fh.read(65_536)
    try:
        # A multi-byte character may be cut at the end of the sample; that is not an error.
        sample = head.decode("utf-8-sig", errors="strict" if len(head) < 65_536 else "ignore")
    except UnicodeDecodeError as exc:
        raise LoaError(NOT_UTF8, path=str(path)) from exc
    first_lines = "\n".join(sample.splitlines()[:20])
    try:
        return pl.read_csv(
            path,
            separator=_sniff_delimiter(first_lines),
            infer_schema=False,
            encoding="utf8",
            raise_if_empty=False,
        )
    except pl.exceptions.ComputeError as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            raise LoaError(NOT_UTF8, path=str(path)) from exc
        raise LoaError(UNREADABLE, path=str(path), error=str(exc).splitlines()[0]) from exc


# --- cleaning -------------------------------------------------------------------------------

_ISO = (
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)
_VN = r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T,]+(\d{1,2})[:hH](\d{2})(?::(\d{2}))?)?$"


def parse_times(raw: pl.Series) -> pl.Series:
    """Text to UTC datetimes: ISO 8601 (an offset, or none for Vietnam time) or dd/mm/yyyy
    [HH:MM[:SS]] in Vietnam time; null where the text is neither or the date does not exist."""
    text = raw.str.strip_chars()
    # Exports from shop systems nearly always use one exact ISO form; parse that directly
    # and leave the slower forms to the regular expressions below.
    parsed = text.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC", time_unit="us"
    )
    todo = parsed.is_null() & text.is_not_null()
    if todo.any():
        parsed = parsed.scatter(todo.arg_true(), _parse_other_times(text.filter(todo)))
    return parsed


def _parse_other_times(text: pl.Series) -> pl.Series:
    frame = text.to_frame("t").select(
        pl.col("t").str.extract_groups(_ISO).alias("iso"),
        pl.col("t").str.extract_groups(_VN).alias("vn"),
    )
    iso, vn = frame["iso"].struct, frame["vn"].struct

    def part(iso_i: int, vn_i: int | None, width: int, default: str | None = None) -> pl.Series:
        value = iso.field(str(iso_i))
        if vn_i is not None:
            value = value.fill_null(vn.field(str(vn_i)))
        if default is not None:
            value = value.fill_null(default)
        return value.str.zfill(width)

    offset = (
        iso.field("8")
        .str.replace(r"^[Zz]$", "+00:00")
        .str.replace(r"^([+-]\d{2})(\d{2})$", "$1:$2")
        .fill_null("+07:00")
    )
    canonical = pl.DataFrame(
        {
            "y": part(1, 3, 4),
            "mo": part(2, 2, 2),
            "d": part(3, 1, 2),
            "h": part(4, 4, 2, "0"),
            "mi": part(5, 5, 2, "0"),
            "s": part(6, 6, 2, "0"),
            "f": iso.field("7").fill_null("0").str.pad_end(6, "0"),
            "z": offset,
        }
    ).select(
        pl.format(
            "{}-{}-{}T{}:{}:{}.{}{}", "y", "mo", "d", "h", "mi", "s", "f", "z"
        ).str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC", time_unit="us")
    )
    return canonical.to_series()


def parse_amounts(raw: pl.Series) -> pl.Series:
    """Whole đồng from text as people write it: 1250000, 1.250.000, 1,250,000 đ, 1250000.00;
    null where the text is none of these."""
    # Plain digits, as exports write them, need no regular expressions.
    parsed = raw.str.strip_chars().str.to_integer(strict=False).cast(pl.Int64)
    todo = parsed.is_null() & raw.is_not_null()
    if todo.any():
        parsed = parsed.scatter(todo.arg_true(), _parse_written_amounts(raw.filter(todo)))
    return parsed


def _parse_written_amounts(raw: pl.Series) -> pl.Series:
    text = raw.str.to_lowercase().str.replace_all(r"vnđ|vnd|đồng|đ|₫|\s", "")
    grouped = text.str.contains(r"^-?\d{1,3}([.,]\d{3})+$")
    zero_decimals = text.str.contains(r"^-?\d+[.,]0{1,2}$")
    digits = pl.select(
        pl.when(grouped)
        .then(text.str.replace_all(r"[.,]", ""))
        .when(zero_decimals)
        .then(text.str.replace(r"[.,]0+$", ""))
        .otherwise(text)
    ).to_series()
    valid = digits.str.contains(r"^-?\d{1,18}$")
    return pl.select(pl.when(valid).then(digits.cast(pl.Int64, strict=False))).to_series()


def _clean(frame: pl.DataFrame, mapped: dict[str, str]) -> pl.DataFrame:
    """Typed columns next to the raw text; `row` is the 1-based data row."""

    def raw(name: str) -> pl.Expr:
        if name in mapped:
            return pl.col(mapped[name]).str.strip_chars().replace("", None)
        return pl.lit(None, dtype=pl.String)

    extra = [c for c in frame.columns if c not in mapped.values()]
    # Empty cells are left out, so a row with no extra values stores NULL, not {"note": null}.
    pairs = [
        pl.when(pl.col(c).str.strip_chars() != "").then(
            pl.struct(pl.col(c).str.strip_chars())
            .struct.json_encode()
            .str.strip_prefix("{")
            .str.strip_suffix("}")
        )
        for c in extra
    ]
    joined = pl.concat_str(pairs, separator=",", ignore_nulls=True) if pairs else pl.lit("")
    properties = pl.when(joined != "").then(pl.concat_str([pl.lit("{"), joined, pl.lit("}")]))
    cleaned = frame.with_row_index("row", offset=1).select(
        pl.col("row").cast(pl.Int64),
        raw("phone").alias("raw_phone"),
        raw("occurred_at").alias("raw_time"),
        raw("value_vnd").alias("raw_amount"),
        raw("type").alias("raw_type"),
        raw("type").str.to_lowercase().fill_null(PURCHASE_TYPES[0]).alias("type"),
        raw("category").alias("category"),
        raw("external_id").alias("external_id"),
        properties.alias("properties"),
    )
    return cleaned.with_columns(
        parse_times(cleaned["raw_time"]).alias("occurred_at"),
        parse_amounts(cleaned["raw_amount"]).alias("value_vnd"),
    )


def _contact_ids(conn: Connection, workspace_id: int) -> pl.DataFrame:
    result = conn.execute(
        select(contacts.c.phone, contacts.c.id).where(contacts.c.workspace_id == workspace_id)
    )
    # The driver's own tuples: building a Row per contact costs seconds at a million.
    rows = result.cursor.fetchall()
    result.close()
    return pl.DataFrame(rows, schema={"e164": pl.String, "contact_id": pl.Int64}, orient="row")


def _with_contacts(conn: Connection, workspace_id: int, frame: pl.DataFrame) -> pl.DataFrame:
    """Adds e164, phone_valid and contact_id; each distinct number is normalised and looked up
    once, and only the result is joined to the (much longer) list of rows."""
    distinct = frame.select(pl.col("raw_phone").drop_nulls().unique())
    normal = normalize_column(distinct["raw_phone"])
    phones = distinct.with_columns(
        pl.when(normal["valid"]).then(normal["e164"]).alias("e164"),
        normal["valid"].fill_null(False).alias("phone_valid"),
    ).join(_contact_ids(conn, workspace_id), on="e164", how="left")
    return frame.join(phones, on="raw_phone", how="left", maintain_order="left")


@dataclass(frozen=True, slots=True)
class _Check:
    target: str  # the field (phone, occurred_at, ...) whose column is named in the error
    bad: pl.Expr
    msg: Msg
    value: str | None = None  # the column whose text names the bad value
    params: Mapping[str, pl.Expr] = field(default_factory=dict)


def _checks(on_unknown: UnknownContact) -> list[_Check]:
    checks = [
        _Check("phone", pl.col("raw_phone").is_null(), MISSING_PHONE),
        _Check(
            "phone",
            pl.col("raw_phone").is_not_null() & ~pl.col("phone_valid").fill_null(False),
            BAD_PHONE,
            "raw_phone",
        ),
        _Check("occurred_at", pl.col("raw_time").is_null(), MISSING_TIME),
        _Check(
            "occurred_at",
            pl.col("raw_time").is_not_null() & pl.col("occurred_at").is_null(),
            BAD_TIME,
            "raw_time",
        ),
        _Check(
            "value_vnd",
            pl.col("raw_amount").is_not_null() & pl.col("value_vnd").is_null(),
            BAD_AMOUNT,
            "raw_amount",
        ),
        _Check("type", ~pl.col("type").str.contains(TYPE_RE.pattern), BAD_TYPE, "raw_type"),
    ]
    for name, limit in (("external_id", MAX_EXTERNAL_ID), ("category", MAX_CATEGORY)):
        checks.append(
            _Check(
                name,
                pl.col(name).str.len_chars() > limit,
                TOO_LONG,
                params={"length": pl.col(name).str.len_chars(), "limit": pl.lit(limit)},
            )
        )
    if on_unknown == "report":
        checks.append(
            _Check(
                "phone",
                pl.col("phone_valid").fill_null(False) & pl.col("contact_id").is_null(),
                UNKNOWN_CONTACT,
                "e164",
            )
        )
    return checks


def _row_errors(
    frame: pl.DataFrame, mapped: dict[str, str], checks: list[_Check]
) -> tuple[pl.Series, list[RowError]]:
    """A mask of the refused rows and one error per bad cell, ordered by row then column."""
    bad_any = pl.lit(False)
    for check in checks:
        bad_any = bad_any | check.bad.fill_null(False)
    mask = frame.select(bad_any.alias("bad"))["bad"]
    errors: list[RowError] = []
    order = {name: i for i, name in enumerate(ALIASES)}
    for check in checks:
        exprs = [pl.col("row")]
        if check.value is not None:
            exprs.append(pl.col(check.value).alias("value"))
        exprs.extend(e.alias(k) for k, e in check.params.items())
        hits = frame.filter(check.bad.fill_null(False)).select(exprs)
        column = mapped.get(check.target, check.target)
        for hit in hits.iter_rows(named=True):
            row = hit.pop("row")
            errors.append(RowError(row=row, column=column, msg=check.msg, params=hit))
    errors.sort(key=lambda e: (e.row, order.get(_field_of(e.column, mapped), 99)))
    return mask, errors


def _field_of(column: str, mapped: dict[str, str]) -> str:
    return next((name for name, header in mapped.items() if header == column), column)


# --- writing --------------------------------------------------------------------------------

STAGE_COLUMNS: Final = (
    "contact_id",
    "type",
    "occurred_at",
    "value_vnd",
    "category",
    "properties",
    "external_id",
)
# The statement that moves staged rows into events; the stage name and columns are fixed
# here, every value is a bound parameter.
_FROM_STAGE_SQLITE = sql_text(
    "INSERT INTO events (workspace_id, contact_id, type, occurred_at, value_vnd, category, "
    "properties, external_id, created_at) "
    "SELECT :ws, contact_id, type, occurred_at, value_vnd, category, properties, external_id, "
    ":created FROM loa_events_stage.staged WHERE rowid > :low AND rowid <= :high "
    "ON CONFLICT (workspace_id, external_id) DO NOTHING"
)
_FROM_STAGE_PG = sql_text(
    "INSERT INTO events (workspace_id, contact_id, type, occurred_at, value_vnd, category, "
    "properties, external_id, created_at) "
    "SELECT :ws, contact_id, type, occurred_at, value_vnd, category, CAST(properties AS jsonb), "
    "external_id, :created FROM loa_events_stage WHERE seq >= :low AND seq < :high "
    "ON CONFLICT (workspace_id, external_id) DO NOTHING"
)
_PG_STAGE_DDL = (
    "CREATE TEMP TABLE loa_events_stage (seq bigint PRIMARY KEY, contact_id bigint, type text, "
    "occurred_at timestamp, value_vnd bigint, category text, properties text, "
    "external_id text) ON COMMIT DROP"
)


def _staged(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows as stored: naive UTC written as SQLAlchemy writes DateTime on SQLite, so that
    bound datetimes compare with them correctly (PostgreSQL parses the same text)."""
    occurred = (
        pl.col("occurred_at")
        .dt.replace_time_zone(None)
        .dt.strftime("%Y-%m-%d %H:%M:%S%.6f")
        .alias("occurred_at")
    )
    return rows.select(pl.col(c) if c != "occurred_at" else occurred for c in STAGE_COLUMNS)


@contextmanager
def _staging_area(conn: Connection, rows: pl.DataFrame) -> Iterator[None]:
    """Makes `rows` readable by `conn` as a staging table, without a Python object per row:
    COPY into a temporary table on PostgreSQL, an attached scratch file on SQLite."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_PG_STAGE_DDL)
        copy_rows(conn, "loa_events_stage", rows.with_row_index("seq"))
        yield
        return
    with attached_scratch(conn, "loa_events_stage", {"staged": rows}):
        yield


def _insert_staged(
    conn: Connection, workspace_id: int, total: int, progress: Progress | None
) -> int:
    """Move the staged rows into events in batches; returns how many were new."""
    created = datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    params: dict[str, Any] = {"ws": workspace_id, "created": created}
    if progress is not None:
        progress(0, total)
    statement = _FROM_STAGE_PG if conn.dialect.name == "postgresql" else _FROM_STAGE_SQLITE
    inserted = 0
    for low in range(0, total, BATCH_ROWS):
        high = min(low + BATCH_ROWS, total)
        result = conn.execute(statement, {**params, "low": low, "high": high})
        inserted += max(int(result.rowcount), 0)
        if progress is not None:
            progress(high, total)
    return inserted


def import_events(
    store: Store,
    path: Path,
    *,
    on_unknown_contact: UnknownContact = "report",
    progress: Progress | None = None,
    now: datetime | None = None,
) -> EventImportReport:
    """Import events from a CSV file in one transaction, then rebuild the purchase stats."""
    frame = read_event_file(path)
    mapped = map_headers(frame.columns)
    cleaned = _clean(frame, mapped)
    report = EventImportReport(rows=cleaned.height)
    with store.engine.connect() as conn:
        cleaned = _with_contacts(conn, store.workspace_id, cleaned)
        refused, report.errors = _row_errors(cleaned, mapped, _checks(on_unknown_contact))
        report.invalid = int(refused.sum())
        good = cleaned.filter(~refused)
        if on_unknown_contact == "skip":
            report.skipped = good.filter(pl.col("contact_id").is_null()).height
            good = good.filter(pl.col("contact_id").is_not_null())
        # The first row of an id repeated in the file wins. Rows keep the file's order: shop
        # exports run by order id and time, so the id and time indexes grow at their ends
        # (1.6x faster at 2M rows than inserting in contact order).
        first = pl.col("external_id").is_null() | pl.col("external_id").is_first_distinct()
        good = good.filter(first)
        last_id = conn.execute(
            select(func.coalesce(func.max(events.c.id), 0)).where(
                events.c.workspace_id == store.workspace_id
            )
        ).scalar_one()
        with _staging_area(conn, _staged(good)):
            report.imported = _insert_staged(conn, store.workspace_id, good.height, progress)
            if report.imported:
                react(conn, workspace_id=store.workspace_id, after_id=int(last_id), now=now)
                if conn.dialect.name == "sqlite":
                    # Before the rebuild: without statistics on the new rows SQLite reads
                    # them through the time index, one random row at a time.
                    _analyze_if_grown(conn)
                refresh_stats(conn, workspace_id=store.workspace_id, now=now or datetime.now(UTC))
            conn.commit()
    report.duplicate = report.rows - report.invalid - report.skipped - report.imported
    return report


def _analyze_if_grown(conn: Connection) -> None:
    """Refresh SQLite's planner statistics when events have doubled since they were taken.

    Without them SQLite takes an index on workspace_id for every filter on contacts, which
    with one workspace means a lookup per row: a province count at 1M contacts then takes
    seconds instead of a tenth of one. PostgreSQL keeps its statistics itself."""
    has_stats = conn.exec_driver_sql(
        "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).scalar_one()
    analysed_rows = 0
    if has_stats:
        stat = conn.exec_driver_sql(
            "SELECT stat FROM sqlite_stat1 WHERE tbl = 'events' LIMIT 1"
        ).scalar_one_or_none()
        analysed_rows = int(str(stat).split()[0]) if stat else 0
    current_rows = conn.exec_driver_sql("SELECT max(rowid) FROM events").scalar_one() or 0
    if current_rows >= 2 * analysed_rows + ANALYZE_MIN_ROWS:
        conn.exec_driver_sql("ANALYZE main")


def properties_from_text(text: str) -> dict[str, Any]:
    """A JSON object given on the command line, or a clear error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoaError(BAD_PROPERTIES) from exc
    if not isinstance(value, dict):
        raise LoaError(BAD_PROPERTIES)
    return value
