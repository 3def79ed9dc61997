"""`loa contacts import`: a messy spreadsheet in, a clean deduplicated customer book out, and
a report of every row that could not be used, with its line, column and reason.

The whole import is one transaction: it lands completely or not at all. Rows are cleaned
column-wise with Polars, staged in temporary tables, then merged into `contacts` with one
INSERT … SELECT … ON CONFLICT per table, which both SQLite and PostgreSQL run natively. On
SQLite the staged rows go in parts (disjoint numbers, in number order), each written by ADBC in
a background thread while the part before it is merged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl
from sqlalchemy import Connection, bindparam, text

from loa.domain.phones import REASONS as PHONE_REASONS
from loa.domain.phones import normalize_column
from loa.i18n import LoaError, Msg, current_lang
from loa.services.audit import record
from loa.services.contacts import cleaning
from loa.services.contacts.columns import ColumnMap, map_columns
from loa.services.contacts.reading import LINE, read_sheet, trimmed
from loa.store.bulk import attached_in_turn, copy_rows
from loa.store.db import Store
from loa.store.tables import UtcDateTime

OnConflict = Literal["update", "skip"]
OnInvalid = Literal["quarantine", "abort"]
Progress = Callable[[str, int, int], None]


NOT_MOBILE = Msg(
    "import.not_mobile",
    "{e164} là số {kind}, không nhận được SMS; cần số di động.",
    "{e164} is a {kind} number and cannot receive SMS; a mobile number is needed.",
)
PHONE_MISSING = Msg(
    "import.phone_missing",
    "Thiếu số điện thoại; mỗi khách hàng cần một số di động.",
    "The phone number is missing; every customer needs a mobile number.",
)
ABORTED = Msg(
    "import.aborted",
    "Không nhập gì cả: {invalid} dòng lỗi (dòng đầu tiên: dòng {line}, cột '{column}': "
    "{reason}). Danh sách lỗi: {invalid_file}. Sửa rồi nhập lại, hoặc dùng --invalid quarantine "
    "để nhập các dòng đúng.",
    "Nothing was imported: {invalid} bad rows (first: line {line}, column '{column}': "
    "{reason}). The list is in {invalid_file}. Fix them and import again, or use "
    "--invalid quarantine to import the good rows.",
)
BAD_CONSENT_SPEC = Msg(
    "import.bad_consent_spec",
    "--consent '{spec}' không hợp lệ: dùng kênh:mục đích, ví dụ --consent sms:marketing.",
    "--consent '{spec}' is not valid: use channel:purpose, e.g. --consent sms:marketing.",
)
CONSENT_METHOD_NEEDED = Msg(
    "import.consent_method_needed",
    "--consent cần --consent-method (sms_reply, form, hotline hoặc app) và nên có "
    "--consent-evidence mô tả bằng chứng.",
    "--consent needs --consent-method (sms_reply, form, hotline or app) and should have "
    "--consent-evidence describing the proof.",
)
PHONE_TYPE_NAMES = {
    "fixed_line": ("cố định", "fixed-line"),
    "toll_free": ("miễn cước (1800)", "toll-free"),
    "premium_rate": ("dịch vụ (1900)", "premium-rate"),
}


@dataclass(frozen=True, slots=True)
class FileConsent:
    """Consent that the whole file carries (`--consent sms:marketing --consent-method form`)."""

    channel: str
    purpose: str
    method: str
    evidence: str | None
    given_at: datetime


@dataclass(frozen=True, slots=True)
class RowError:
    """One unusable cell: the spreadsheet line (header = 1), the column, the value, why."""

    line: int
    column: str
    value: str | None
    reason: str


@dataclass(slots=True)
class ImportReport:
    """What an import did. rows = imported + updated + skipped + invalid."""

    rows: int = 0
    imported: int = 0
    updated: int = 0
    skipped: int = 0
    invalid: int = 0
    duplicates_in_file: int = 0
    invalid_file: Path | None = None
    encoding: str = ""
    columns: ColumnMap | None = None
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The machine-readable summary `--json` prints."""
        return {
            "imported": self.imported,
            "updated": self.updated,
            "skipped": self.skipped,
            "invalid": self.invalid,
            "invalid_file": str(self.invalid_file) if self.invalid_file else None,
            "rows": self.rows,
            "duplicates_in_file": self.duplicates_in_file,
            "encoding": self.encoding,
            "warnings": self.warnings,
            "errors": [
                {"line": e.line, "column": e.column, "value": e.value, "reason": e.reason}
                for e in self.errors
            ],
        }


def parse_consent_specs(
    specs: list[str], method: str | None, evidence: str | None, given_at: datetime | None
) -> list[FileConsent]:
    """`["sms:marketing"]` plus method and evidence -> consents for every row of the file."""
    if not specs:
        return []
    resolved_method = cleaning.METHODS.get((method or "").strip().lower())
    if resolved_method is None:
        raise LoaError(CONSENT_METHOD_NEEDED)
    result = []
    for spec in specs:
        channel, _, purpose = spec.partition(":")
        ch = cleaning.CHANNELS.get(channel.strip().lower())
        pu = cleaning.PURPOSES.get(purpose.strip().lower())
        if ch is None or pu is None:
            raise LoaError(BAD_CONSENT_SPEC, spec=spec)
        result.append(FileConsent(ch, pu, resolved_method, evidence, given_at or datetime.now(UTC)))
    return result


def import_contacts(
    store: Store,
    path: Path,
    *,
    column_map: dict[str, str] | None = None,
    on_conflict: OnConflict = "update",
    on_invalid: OnInvalid = "quarantine",
    consents: list[FileConsent] | None = None,
    invalid_file: Path | None = None,
    source: str | None = None,
    actor: str = "cli",
    now: datetime | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a customer file into the store's workspace; see the module docstring."""
    now = now or datetime.now(UTC)
    tick = progress or (lambda _phase, _done, _total: None)
    sheet = read_sheet(path)
    columns = map_columns(sheet.headers, column_map)
    report = ImportReport(rows=sheet.frame.height, encoding=sheet.encoding, columns=columns)
    report.warnings.extend(sheet.warnings)
    tick("read", 1, 4)

    frame, errors = _clean(sheet.frame, columns, now)
    raw = sheet.frame
    del sheet  # the raw cells are needed only for the invalid file
    tick("clean", 2, 4)
    bad_lines = errors.get_column("line").unique()
    report.invalid = bad_lines.len()
    in_order = errors.sort("line", maintain_order=True).select("line", "column", "value", "reason")
    report.errors = [RowError(*row) for row in in_order.rows()]  # tuples: no dict per row
    if report.invalid:
        target = invalid_file or path.with_name(f"{path.stem}.invalid.csv")
        _write_invalid_file(raw, errors, target)
        report.invalid_file = target
        if on_invalid == "abort":
            first = report.errors[0]
            raise LoaError(
                ABORTED,
                invalid=report.invalid,
                line=first.line,
                column=first.column,
                reason=first.reason,
                invalid_file=target,
            )

    del raw
    staged = _one_row_per_number(_good_rows(frame, bad_lines), on_conflict)
    del frame  # from here on only the staged rows are held in memory
    report.duplicates_in_file = report.rows - report.invalid - staged.height
    tick("stage", 3, 4)

    with _staging_area(store, staged) as (conn, stages):
        existed = _write(
            conn, store, staged, stages, on_conflict, consents or [], now, source or path.name
        )
        new = staged.height - existed
        report.imported = new
        if on_conflict == "update":
            report.updated = existed + report.duplicates_in_file
        else:
            report.skipped = existed + report.duplicates_in_file
        record(
            conn,
            workspace_id=store.workspace_id,
            actor=actor,
            action="contacts.import",
            target=path.name,
            details={k: v for k, v in report.summary().items() if k != "errors"},
            now=now,
        )
        conn.commit()
    _refresh_planner_statistics(store)
    tick("write", 4, 4)
    return report


def _refresh_planner_statistics(store: Store) -> None:
    """Without statistics SQLite walks the workspace index row by row for every segment
    filter (seconds at 1M contacts); a sampled ANALYZE costs milliseconds."""
    if store.dialect != "sqlite":
        return  # PostgreSQL's autovacuum keeps its own statistics
    with store.engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE contacts")


# --- cleaning -------------------------------------------------------------------------------


CLEAN_ROWS = 200_000
BIRTHDAY_PARSED = "__loa_birthday"
NAME_SPACED = "__loa_name_spaced"
NAME_VALUE = "__loa_name"


def _clean(
    raw: pl.DataFrame, columns: ColumnMap, now: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Clean every mapped column; return the clean frame and a long frame of row errors.

    Every rule is per row, so the work goes in slices: the temporaries stay small.
    """
    parts = [
        _clean_slice(trimmed(raw.slice(offset, CLEAN_ROWS)), columns, now)
        for offset in range(0, raw.height, CLEAN_ROWS)
    ]
    return pl.concat([p[0] for p in parts]), pl.concat([p[1] for p in parts])


def _clean_slice(
    raw: pl.DataFrame, columns: ColumnMap, now: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    fields = columns.fields
    phone_header = fields["phone"]
    phones = normalize_column(raw.get_column(phone_header))
    phone_cols = ["phone", "_valid", "phone_type", "carrier", "legacy_converted", "_reason"]
    phones = phones.select(
        pl.col("e164").alias("phone"),
        pl.col("valid").alias("_valid"),
        pl.col("type").alias("phone_type"),
        "carrier",
        "legacy_converted",
        pl.col("reason").alias("_reason"),
    )
    work = pl.concat([raw, phones], how="horizontal")
    if "birthday" in fields:
        birthdays = cleaning.parse_dates(raw.get_column(fields["birthday"]))
        work = work.with_columns(birthdays.alias(BIRTHDAY_PARSED))
    if "name" in fields:
        spaced, named = cleaning.names(raw.get_column(fields["name"]))
        work = work.with_columns(spaced.alias(NAME_SPACED), named.alias(NAME_VALUE))
    checks: list[tuple[str, pl.Expr]] = [(phone_header, _phone_error())]
    values: list[pl.Expr] = []
    today = now.date()

    def add(field_name: str, cleaned: cleaning.Cleaned) -> None:
        values.append(cleaned.value.alias(field_name))
        checks.append((fields[field_name], cleaned.error))

    col = {name: pl.col(header) for name, header in fields.items()}
    if "name" in col:
        add("name", cleaning.Cleaned(pl.col(NAME_VALUE), cleaning.name_error(pl.col(NAME_SPACED))))
    if "email" in col:
        add("email", cleaning.email(col["email"]))
    if "gender" in col:
        add("gender", cleaning.gender(col["gender"]))
    if "birthday" in col:
        add("birthday", cleaning.birthday(col["birthday"], pl.col(BIRTHDAY_PARSED), today))
    if "consent_channel" in col:
        add("consent_channel", cleaning.consent_channel(col["consent_channel"]))
    if "consent_purpose" in col:
        add("consent_purpose", cleaning.consent_purpose(col["consent_purpose"]))
    if "consent_method" in col:
        add("consent_method", cleaning.consent_method(col["consent_method"]))
    if "consent_date" in col:
        parsed = cleaning.parse_date(col["consent_date"])
        values.append(parsed.alias("consent_date"))
        bad = col["consent_date"].is_not_null() & parsed.is_null()
        checks.append(
            (
                fields["consent_date"],
                pl.when(bad).then(cleaning.reason(cleaning.BAD_DATE, col["consent_date"])),
            )
        )
    for simple in ("province", "source"):
        if simple in col:
            values.append(cleaning.text(col[simple]).alias(simple))
    if "consent_evidence" in col:
        values.append(cleaning.text(col["consent_evidence"]).alias("consent_evidence"))
    if "customer_type" in col:
        values.append(cleaning.customer_type(col["customer_type"]).alias("attr:customer_type"))
    if "tags" in col:
        values.append(cleaning.tags(col["tags"]).alias("tags"))
    for key, header in columns.attributes.items():
        values.append(cleaning.text(pl.col(header)).alias(f"attr:{key}"))

    consent_cols = [c for c in ("consent_channel", "consent_purpose", "consent_method") if c in col]
    if consent_cols:
        checks.append((fields[consent_cols[0]], _consent_incomplete(col)))

    headers = list(dict.fromkeys(h for h, _ in checks))
    raw_copies = [pl.col(h).alias(f"_raw:{h}") for h in headers]
    errors_expr = [e.alias(f"_err{i}") for i, (_, e) in enumerate(checks)]
    # Lazy, so shared sub-expressions (a cleaned column used by its check) run once, in parallel.
    frame = work.lazy().select([LINE, *phone_cols, *values, *errors_expr, *raw_copies]).collect()
    found = frame.lazy()  # lazy: each check's filter reads its own four columns, not all
    errors = pl.concat(
        [
            found.filter(pl.col(f"_err{i}").is_not_null()).select(
                pl.col(LINE).cast(pl.Int64).alias("line"),
                pl.lit(header).alias("column"),
                pl.col(f"_raw:{header}").alias("value"),
                pl.col(f"_err{i}").alias("reason"),
            )
            for i, (header, _) in enumerate(checks)
        ]
    ).collect()
    frame = frame.drop([f"_err{i}" for i in range(len(checks))] + [f"_raw:{h}" for h in headers])
    return frame, errors


def _phone_error() -> pl.Expr:
    reason_text = pl.col("_reason").replace_strict(
        {code: msg.render() for code, msg in PHONE_REASONS.items()},
        default=pl.col("_reason"),
        return_dtype=pl.Utf8,
    )
    lang = 0 if current_lang() == "vi" else 1
    kind = pl.col("phone_type").replace_strict(
        {k: v[lang] for k, v in PHONE_TYPE_NAMES.items()},
        default=pl.col("phone_type"),
        return_dtype=pl.Utf8,
    )
    before, middle, after = _split3(NOT_MOBILE.render(e164="\x00", kind="\x01"))
    not_mobile = pl.concat_str(
        [pl.lit(before), pl.col("phone"), pl.lit(middle), kind, pl.lit(after)]
    )
    return (
        pl.when(pl.col("phone").is_null() & (pl.col("_reason") == "empty"))
        .then(pl.lit(PHONE_MISSING.render()))
        .when(~pl.col("_valid"))
        .then(reason_text)
        .when(pl.col("phone_type") != "mobile")
        .then(not_mobile)
    )


def _split3(template: str) -> tuple[str, str, str]:
    before, rest = template.split("\x00", 1)
    middle, after = rest.split("\x01", 1)
    return before, middle, after


def _consent_incomplete(col: dict[str, pl.Expr]) -> pl.Expr:
    names = {
        "consent_channel": ("kênh", "channel"),
        "consent_purpose": ("mục đích", "purpose"),
        "consent_method": ("cách đồng ý", "method"),
    }
    lang = 0 if current_lang() == "vi" else 1
    given = [col[c].is_not_null() for c in names if c in col]
    any_given = pl.any_horizontal(given)
    missing_parts = [
        pl.when(col[c].is_null() if c in col else pl.lit(True)).then(pl.lit(label[lang]))
        for c, label in names.items()
    ]
    missing = pl.concat_str(missing_parts, separator=", ", ignore_nulls=True)
    before, after = cleaning.CONSENT_INCOMPLETE.render(missing="\x00").split("\x00", 1)
    message = pl.concat_str([pl.lit(before), missing, pl.lit(after)])
    return pl.when(any_given & (missing != "")).then(message)


# --- merging and staging --------------------------------------------------------------------


def _good_rows(frame: pl.DataFrame, bad_lines: pl.Series) -> pl.DataFrame:
    """The rows without errors, in number order (the contacts index then grows at its end
    instead of all over); copies of a number stay in file order."""
    good = frame.drop("_valid", "_reason", "phone_type")  # every good row is a mobile
    if bad_lines.len():
        good = good.filter(~pl.col(LINE).is_in(bad_lines.implode()))
    # Gathering rows from one chunk is several times cheaper than from the cleaned slices.
    good = good.rechunk().drop(LINE)
    # E.164 is "+" and at most 15 digits: padded to 15 digits, with the length as the last
    # figure, it sorts as an integer in the order the text sorts, and integers sort faster.
    if not good.get_column("phone").str.contains(r"^\+[0-9]{1,15}$").all():
        return good.sort("phone", maintain_order=True)
    digits = pl.col("phone").str.slice(1)
    key = digits.str.pad_end(15, "0").cast(pl.Int64) * 16 + digits.str.len_bytes()
    return good.sort(key, maintain_order=True)


def _one_row_per_number(good: pl.DataFrame, on_conflict: OnConflict) -> pl.DataFrame:
    """Staging rows, one per number: `skip` keeps the first copy of a number, `update` merges
    the copies, later non-empty cells winning and tags added up. `good` is in number order, so
    the copies of a number are neighbours."""
    phone = good.get_column("phone")
    same_as_previous = (phone == phone.shift(1)).fill_null(False)
    if on_conflict == "skip":
        first = good.filter(~same_as_previous) if same_as_previous.any() else good
        return _staging_frame(first.lazy()).collect()
    repeated = same_as_previous | same_as_previous.shift(-1).fill_null(False)
    if not repeated.any():
        return _staging_frame(good.lazy()).collect()
    names = good.columns
    aggs: list[pl.Expr] = []
    for name in names:
        if name == "phone":
            continue
        if name == "tags":
            aggs.append(
                pl.col("tags")
                .list.explode(keep_nulls=False, empty_as_null=False)
                .unique(maintain_order=True)
            )
        else:
            aggs.append(pl.col(name).drop_nulls().last())
    merged = (
        good.lazy().filter(repeated).group_by("phone", maintain_order=True).agg(aggs).select(names)
    )
    # Most numbers appear once: their rows go straight to staging without an extra copy.
    single = good.lazy().filter(~repeated)
    return pl.concat([_staging_frame(single), _staging_frame(merged)]).collect()


def _staging_frame(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The exact columns of the staging table, as text the store parses identically."""
    names = frame.collect_schema().names()
    present = set(names)

    def opt(name: str, dtype: type[pl.DataType] = pl.Utf8) -> pl.Expr:
        return pl.col(name) if name in present else pl.lit(None, dtype=dtype)

    attr_cols = [c for c in names if c.startswith("attr:")]
    if attr_cols:
        pieces = [
            pl.when(pl.col(c).is_not_null()).then(
                pl.struct(pl.col(c).alias(c.removeprefix("attr:")))
                .struct.json_encode()
                .str.slice(1)
                .str.strip_suffix("}")
            )
            for c in attr_cols
        ]
        joined = pl.concat_str(pieces, separator=",", ignore_nulls=True)
        attrs: pl.Expr = pl.when(joined != "").then(
            pl.concat_str([pl.lit("{"), joined, pl.lit("}")])
        )
    else:
        attrs = pl.lit(None, dtype=pl.Utf8)
    name = opt("name")
    birthday = opt("birthday", pl.Date)
    consent_at = opt("consent_date", pl.Date)
    staged = frame.select(
        pl.col("phone"),
        name.alias("name"),
        cleaning.given_name(name).alias("given_name"),
        opt("email").alias("email"),
        opt("gender").alias("gender"),
        birthday.dt.to_string("%Y-%m-%d").alias("birthday"),
        cleaning.birth_mmdd(birthday).alias("birth_mmdd"),
        opt("province").alias("province"),
        pl.col("carrier"),
        pl.col("legacy_converted"),
        attrs.alias("attrs"),
        opt("source").alias("source"),  # the file's name when null, bound once in SQL
        opt("consent_channel").alias("c_channel"),
        opt("consent_purpose").alias("c_purpose"),
        opt("consent_method").alias("c_method"),
        opt("consent_evidence").alias("c_evidence"),
        consent_at.dt.to_string("%Y-%m-%d 00:00:00.000000").alias("c_given_at"),
        opt("tags", pl.List(pl.Utf8)).alias("tags"),  # type: ignore[arg-type]
    )
    return staged


# --- writing --------------------------------------------------------------------------------


_PG_STAGE_DDL = (
    "CREATE TEMP TABLE loa_import (phone text PRIMARY KEY, name text, given_name text, "
    "email text, gender text, birthday date, birth_mmdd smallint, province text, "
    "carrier text, legacy_converted boolean, attrs jsonb, source text, "
    "c_channel text, c_purpose text, c_method text, c_evidence text, "
    "c_given_at timestamp, existed boolean NOT NULL DEFAULT false) ON COMMIT DROP",
    "CREATE TEMP TABLE loa_import_tags (phone text, tag text) ON COMMIT DROP",
)


def _split_tags(staged: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows = staged.drop("tags")
    tag_rows = (
        staged.select("phone", "tags").explode("tags").drop_nulls("tags").rename({"tags": "tag"})
    )
    return rows, tag_rows


STAGE_ROWS = 200_000  # rows per scratch file on SQLite: written while the last is merged
MAX_STAGES = 4


@contextmanager
def _staging_area(
    store: Store, staged: pl.DataFrame
) -> Iterator[tuple[Connection, list[Callable[[], str | None]]]]:
    """A connection in an open transaction, and the staged rows as `loa_import(_tags)` in
    parts: each function waits for its part and returns the schema that holds it (None: the
    connection's own temporary tables). Parts hold disjoint numbers, in number order."""
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            rows, tag_rows = _split_tags(staged)
            for ddl in _PG_STAGE_DDL:
                conn.exec_driver_sql(ddl)
            copy_rows(conn, "loa_import", rows)
            copy_rows(conn, "loa_import_tags", tag_rows)
            yield conn, [lambda: None]
            return
        count = min(MAX_STAGES, max(1, staged.height // STAGE_ROWS))
        size = -(-staged.height // count)
        parts = []
        for offset in range(0, max(staged.height, 1), size or 1):
            rows, tag_rows = _split_tags(staged.slice(offset, size))
            existed = pl.lit(0, dtype=pl.Int8).alias("existed")
            parts.append({"loa_import": rows.with_columns(existed), "loa_import_tags": tag_rows})
        # Every reference the import writes is to rows it has just read in this transaction
        # (its workspace, contacts it joined): checking each again costs a third of the write.
        # The pragma only takes effect outside a transaction, hence before ATTACH and after it.
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            with attached_in_turn(conn, "loa_stage", parts) as stages:
                yield conn, list(stages)
        finally:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")


_UPSERT = """
INSERT INTO contacts (workspace_id, phone, name, given_name, email, gender, birthday,
    birth_mmdd, province, carrier, phone_type, legacy_converted, attrs, source, dnc,
    created_at, updated_at)
SELECT :ws, phone, name, given_name, email, gender, birthday, birth_mmdd, province, carrier,
    'mobile', legacy_converted, attrs, COALESCE(source, :source), false, :now, :now
FROM loa_import WHERE {where}
ON CONFLICT (workspace_id, phone) DO {action}
"""
_UPDATE_SET = """UPDATE SET
    name = COALESCE(excluded.name, contacts.name),
    given_name = COALESCE(excluded.given_name, contacts.given_name),
    email = COALESCE(excluded.email, contacts.email),
    gender = COALESCE(excluded.gender, contacts.gender),
    birthday = COALESCE(excluded.birthday, contacts.birthday),
    birth_mmdd = COALESCE(excluded.birth_mmdd, contacts.birth_mmdd),
    province = COALESCE(excluded.province, contacts.province),
    carrier = excluded.carrier,
    phone_type = excluded.phone_type,
    legacy_converted = excluded.legacy_converted,
    attrs = {attrs_merge},
    source = COALESCE(contacts.source, excluded.source),
    updated_at = excluded.updated_at"""
_ATTRS_MERGE = {
    "sqlite": "CASE WHEN excluded.attrs IS NULL THEN contacts.attrs "
    "ELSE json_patch(COALESCE(contacts.attrs, '{}'), excluded.attrs) END",
    "postgresql": "CASE WHEN excluded.attrs IS NULL THEN contacts.attrs "
    "ELSE COALESCE(contacts.attrs, '{}'::jsonb) || excluded.attrs END",
}
# CROSS JOIN fixes SQLite's join order (staging rows outer, contacts by unique index);
# PostgreSQL plans it as an ordinary inner join.
_TAGS = """
INSERT INTO contact_tags (contact_id, tag, workspace_id)
SELECT c.id, t.tag, :ws FROM loa_import_tags t CROSS JOIN contacts c
WHERE c.workspace_id = :ws AND c.phone = t.phone AND {where}
ON CONFLICT DO NOTHING
"""
_CONSENTS_FROM_ROWS = """
INSERT INTO consents (workspace_id, contact_id, channel, purpose, method, evidence, given_at,
    source, created_at)
SELECT :ws, c.id, s.c_channel, s.c_purpose, s.c_method, s.c_evidence,
    COALESCE(s.c_given_at, :now), COALESCE(s.source, :source), :now
FROM loa_import s CROSS JOIN contacts c
WHERE c.workspace_id = :ws AND c.phone = s.phone AND s.c_channel IS NOT NULL AND {where}
AND NOT EXISTS (
    SELECT 1 FROM consents k WHERE k.contact_id = c.id AND k.channel = s.c_channel
    AND k.purpose = s.c_purpose AND k.method = s.c_method
    AND k.given_at = COALESCE(s.c_given_at, :now))
"""
_CONSENTS_FOR_FILE = """
INSERT INTO consents (workspace_id, contact_id, channel, purpose, method, evidence, given_at,
    source, created_at)
SELECT :ws, c.id, CAST(:channel AS TEXT), CAST(:purpose AS TEXT), CAST(:method AS TEXT),
    CAST(:evidence AS TEXT), :given_at, COALESCE(s.source, CAST(:source AS TEXT)), :now
FROM loa_import s CROSS JOIN contacts c
WHERE c.workspace_id = :ws AND c.phone = s.phone AND {where} AND NOT EXISTS (
    SELECT 1 FROM consents k WHERE k.contact_id = c.id AND k.channel = CAST(:channel AS TEXT)
    AND k.purpose = CAST(:purpose AS TEXT) AND k.method = CAST(:method AS TEXT)
    AND k.given_at = :given_at)
"""


def _write(
    conn: Connection,
    store: Store,
    staged: pl.DataFrame,
    stages: list[Callable[[], str | None]],
    on_conflict: OnConflict,
    consents: list[FileConsent],
    now: datetime,
    source: str,
) -> int:
    """Merge the staged parts; returns how many staged numbers were already in the book."""
    dialect = store.dialect
    times = [bindparam("now", type_=UtcDateTime), bindparam("given_at", type_=UtcDateTime)]
    ws = {"ws": store.workspace_id, "now": now, "source": source}
    book_is_empty = (
        conn.execute(text("SELECT 1 FROM contacts WHERE workspace_id = :ws LIMIT 1"), ws).first()
        is None
    )
    has_tags = bool(staged.get_column("tags").list.len().sum())
    has_row_consents = staged.get_column("c_channel").null_count() < staged.height
    existed = 0
    for stage in stages:
        schema = stage()  # waits until this part is written
        existed += _write_part(
            conn, schema, dialect, times, ws, on_conflict, consents, book_is_empty, has_tags,
            has_row_consents,
        )  # fmt: skip
    return existed


def _write_part(
    conn: Connection,
    schema: str | None,
    dialect: str,
    times: list[Any],
    ws: dict[str, Any],
    on_conflict: OnConflict,
    consents: list[FileConsent],
    book_is_empty: bool,
    has_tags: bool,
    has_row_consents: bool,
) -> int:
    """One part's statements; the parts' numbers are disjoint, so each part sees the book
    as the whole import would."""

    def run(sql: str, **params: Any) -> int:
        if schema is not None:
            sql = re.sub(r"\bloa_import(_tags)?\b", rf"{schema}.loa_import\1", sql)
        stmt = text(sql).bindparams(*[b for b in times if f":{b.key}" in sql])
        return int(conn.execute(stmt, {**ws, **params}).rowcount or 0)

    existed = 0
    if not book_is_empty:  # a first import skips a million pointless look-ups
        existed = run(
            "UPDATE loa_import SET existed = true WHERE EXISTS (SELECT 1 FROM contacts c "
            "WHERE c.workspace_id = :ws AND c.phone = loa_import.phone)"
        )
    new_only = "s.existed = false" if on_conflict == "skip" else "true"
    new_tags = (
        "t.phone NOT IN (SELECT s.phone FROM loa_import s WHERE s.existed = true)"
        if on_conflict == "skip"
        else "true"
    )
    if on_conflict == "skip":
        run(_UPSERT.format(where="existed = false", action="NOTHING"))
    else:
        update_set = _UPDATE_SET.format(attrs_merge=_ATTRS_MERGE[dialect])
        run(_UPSERT.format(where="true", action=update_set))
    if has_tags:
        run(_TAGS.format(where=new_tags))
    if has_row_consents:
        run(_CONSENTS_FROM_ROWS.format(where=new_only))
    for consent in consents:
        run(
            _CONSENTS_FOR_FILE.format(where=new_only),
            channel=consent.channel,
            purpose=consent.purpose,
            method=consent.method,
            evidence=consent.evidence,
            given_at=consent.given_at,
        )
    return existed


def _write_invalid_file(raw: pl.DataFrame, errors: pl.DataFrame, target: Path) -> None:
    """The bad rows as the user wrote them, plus loa_row and loa_errors: fix and re-import."""
    notes = errors.group_by("line").agg(
        pl.concat_str([pl.col("column"), pl.lit(": "), pl.col("reason")]).str.join(" | ")
    )
    lines = pl.col(LINE).cast(pl.Int64)
    bad = (
        raw.filter(lines.is_in(notes.get_column("line").implode()))  # before copying any cell
        .with_columns(lines)
        .join(notes.rename({"line": LINE, "column": "loa_errors"}), on=LINE, how="inner")
        .sort(LINE)
        .rename({LINE: "loa_row"})
    )
    ordered = [c for c in bad.columns if c not in {"loa_row", "loa_errors"}]
    target.parent.mkdir(parents=True, exist_ok=True)
    bad.select([*ordered, "loa_row", "loa_errors"]).write_csv(target, include_bom=True)
