"""Events on a real store: importing order files, recording one event, the stats after."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Connection, func, insert, select
from typer.testing import CliRunner, Result

import loa.services.events as events_service
from loa.cli import app
from loa.i18n import LoaError
from loa.services.events import import_events, record_event
from loa.store.db import Store
from loa.store.tables import contact_stats, contacts, events

NOW = datetime(2025, 6, 15, 3, 0, tzinfo=UTC)
Cli = Callable[..., Result]

# The sample generator's format: local numbers, ISO times with the Vietnam offset.
ORDERS = """order_id,phone,type,occurred_at,amount_vnd,category
DH0001,0912345678,purchase,2025-06-01T09:30:00+07:00,250000,Mỹ phẩm
DH0002,0912345678,purchase,2025-06-10T20:15:00+07:00,1250000,Thời trang
DH0003,0987654321,purchase,2025-05-20T08:00:00+07:00,90000,Sữa
DH0004,0901234567,order_completed,2025-04-02T12:00:00+07:00,4000000,Điện tử
"""


def add_contact(conn: Connection, workspace_id: int, phone: str) -> int:
    result = conn.execute(insert(contacts).values(workspace_id=workspace_id, phone=phone))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


@pytest.fixture
def book(store: Store) -> Store:
    """Three customers in the contact book."""
    with store.engine.begin() as conn:
        for phone in ("+84912345678", "+84987654321", "+84901234567"):
            add_contact(conn, store.workspace_id, phone)
    return store


def write(tmp_path: Path, text: str, name: str = "orders.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def stored(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                events.c.external_id,
                contacts.c.phone,
                events.c.type,
                events.c.occurred_at,
                events.c.value_vnd,
                events.c.category,
                events.c.properties,
            )
            .join(contacts, contacts.c.id == events.c.contact_id)
            .order_by(events.c.occurred_at)
        ).all()
    return [tuple(r) for r in rows]


def test_importing_the_sample_orders(book: Store, tmp_path: Path) -> None:
    report = import_events(book, write(tmp_path, ORDERS), now=NOW)
    assert (report.rows, report.imported, report.duplicate, report.invalid) == (4, 4, 0, 0)
    assert report.errors == []
    assert stored(book) == [
        ("DH0004", "+84901234567", "order_completed", datetime(2025, 4, 2, 5, tzinfo=UTC),
         4_000_000, "Điện tử", None),
        ("DH0003", "+84987654321", "purchase", datetime(2025, 5, 20, 1, tzinfo=UTC),
         90_000, "Sữa", None),
        ("DH0001", "+84912345678", "purchase", datetime(2025, 6, 1, 2, 30, tzinfo=UTC),
         250_000, "Mỹ phẩm", None),
        ("DH0002", "+84912345678", "purchase", datetime(2025, 6, 10, 13, 15, tzinfo=UTC),
         1_250_000, "Thời trang", None),
    ]  # fmt: skip


def test_stats_are_rebuilt_after_an_import(book: Store, tmp_path: Path) -> None:
    import_events(book, write(tmp_path, ORDERS), now=NOW)
    with book.engine.connect() as conn:
        rows = conn.execute(
            select(
                contacts.c.phone,
                contact_stats.c.orders_count,
                contact_stats.c.total_spend_vnd,
                contact_stats.c.first_order_at,
                contact_stats.c.last_order_at,
            )
            .join(contact_stats, contact_stats.c.contact_id == contacts.c.id)
            .order_by(contacts.c.phone)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("+84901234567", 1, 4_000_000, datetime(2025, 4, 2, 5, tzinfo=UTC),
         datetime(2025, 4, 2, 5, tzinfo=UTC)),
        ("+84912345678", 2, 1_500_000, datetime(2025, 6, 1, 2, 30, tzinfo=UTC),
         datetime(2025, 6, 10, 13, 15, tzinfo=UTC)),
        ("+84987654321", 1, 90_000, datetime(2025, 5, 20, 1, tzinfo=UTC),
         datetime(2025, 5, 20, 1, tzinfo=UTC)),
    ]  # fmt: skip


def test_importing_the_same_file_twice_adds_nothing(book: Store, tmp_path: Path) -> None:
    path = write(tmp_path, ORDERS)
    import_events(book, path, now=NOW)
    again = import_events(book, path, now=NOW)
    assert (again.imported, again.duplicate, again.invalid) == (0, 4, 0)
    assert len(stored(book)) == 4


def test_a_repeated_order_id_inside_one_file_is_a_duplicate(book: Store, tmp_path: Path) -> None:
    text = ORDERS + "DH0001,0912345678,purchase,2025-06-01T09:30:00+07:00,250000,Mỹ phẩm\n"
    report = import_events(book, write(tmp_path, text), now=NOW)
    assert (report.imported, report.duplicate) == (4, 1)


def test_the_first_row_of_a_repeated_order_id_wins(book: Store, tmp_path: Path) -> None:
    text = (
        "order_id,phone,occurred_at,amount_vnd\n"
        "X1,0987654321,2025-06-01T09:30:00+07:00,100\n"
        "X1,0912345678,2025-06-01T09:30:00+07:00,200\n"
    )
    report = import_events(book, write(tmp_path, text), now=NOW)
    assert (report.imported, report.duplicate) == (1, 1)
    assert [(r[0], r[1], r[4]) for r in stored(book)] == [("X1", "+84987654321", 100)]


def test_a_bad_date_is_reported_with_row_column_and_reason(book: Store, tmp_path: Path) -> None:
    text = (
        "order_id,phone,type,occurred_at,amount_vnd,category\n"
        "DH1,0912345678,purchase,2025-06-01T09:30:00+07:00,250000,A\n"
        "DH2,0987654321,purchase,2025-06-02T09:30:00+07:00,250000,A\n"
        "DH3,0901234567,purchase,31/02/2025 10:00,250000,A\n"
    )
    report = import_events(book, write(tmp_path, text), now=NOW)
    assert (report.imported, report.invalid) == (2, 1)
    [error] = report.errors
    assert (error.row, error.column) == (3, "occurred_at")
    assert error.reason() == (
        "Thời gian '31/02/2025 10:00' không hợp lệ; ghi dạng 25/12/2024 14:30 hoặc "
        "2024-12-25T14:30:00+07:00."
    )
    assert error.reason("en") == (
        "The time '31/02/2025 10:00' is not valid; write it as 25/12/2024 14:30 or "
        "2024-12-25T14:30:00+07:00."
    )


def test_every_kind_of_bad_row(book: Store, tmp_path: Path) -> None:
    text = (
        "order_id,phone,occurred_at,amount_vnd\n"
        "A1,,2025-06-01T09:30:00+07:00,100\n"
        "A2,0123,2025-06-01T09:30:00+07:00,100\n"
        "A3,0356789012,2025-06-01T09:30:00+07:00,100\n"
        "A4,0912345678,,100\n"
        "A5,0912345678,hôm qua,1.5\n"
        "A6,0912345678,2025-06-01T09:30:00+07:00,100\n"
    )
    report = import_events(book, write(tmp_path, text), now=NOW)
    assert (report.rows, report.imported, report.invalid) == (6, 1, 5)
    assert [(e.row, e.column, e.reason()) for e in report.errors] == [
        (1, "phone", "Thiếu số điện thoại."),
        (2, "phone", "Số điện thoại '0123' không hợp lệ; sửa lại số."),
        (3, "phone", "Không có khách hàng nào có số +84356789012 trong danh bạ; nhập khách "
                     "hàng trước (loa contacts import) hoặc sửa số."),
        (4, "occurred_at", "Thiếu thời gian; ghi dạng 25/12/2024 14:30 hoặc "
                           "2024-12-25T14:30:00+07:00."),
        (5, "occurred_at", "Thời gian 'hôm qua' không hợp lệ; ghi dạng 25/12/2024 14:30 hoặc "
                           "2024-12-25T14:30:00+07:00."),
        (5, "amount_vnd", "Số tiền '1.5' không hợp lệ; ghi số đồng nguyên, ví dụ 1250000 hoặc "
                          "1.250.000."),
    ]  # fmt: skip


def test_unknown_contacts_can_be_skipped_instead(book: Store, tmp_path: Path) -> None:
    text = ORDERS + "DH0005,0356789012,purchase,2025-06-01T09:30:00+07:00,1,X\n"
    report = import_events(book, write(tmp_path, text), on_unknown_contact="skip", now=NOW)
    assert (report.imported, report.invalid, report.skipped, report.errors) == (4, 0, 1, [])


def test_vietnamese_headers_semicolons_bom_and_local_dates(book: Store, tmp_path: Path) -> None:
    text = (
        "Mã đơn;Số điện thoại;Ngày;Số tiền;Ngành hàng;Ghi chú;Kênh\n"
        "HD-1;0912 345 678;25/12/2024 14:30;1.250.000 đ;Quà tặng;giao nhanh;\n"
        "HD-2;+84987654321;1/1/2025;2,000,000;;;Shopee\n"
    )
    report = import_events(book, write(tmp_path, text, bom=True), now=NOW)
    assert (report.imported, report.invalid) == (2, 0)
    assert stored(book) == [
        ("HD-1", "+84912345678", "purchase", datetime(2024, 12, 25, 7, 30, tzinfo=UTC),
         1_250_000, "Quà tặng", {"Ghi chú": "giao nhanh"}),
        ("HD-2", "+84987654321", "purchase", datetime(2024, 12, 31, 17, tzinfo=UTC),
         2_000_000, None, {"Kênh": "Shopee"}),
    ]  # fmt: skip


def test_a_file_without_a_phone_column_is_refused(book: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "order_id,date,amount\nA1,2025-06-01,100\n")
    with pytest.raises(LoaError) as caught:
        import_events(book, path)
    assert caught.value.render() == (
        "Tệp thiếu cột phone. Đặt tên một cột là một trong: phone, số điện thoại, sđt."
    )


def test_two_columns_for_the_time_are_refused(book: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "phone,date,time\n0912345678,01/06/2025,10:00\n")
    with pytest.raises(LoaError) as caught:
        import_events(book, path)
    assert caught.value.render("en") == (
        "The columns 'date', 'time' could each be occurred_at; rename them so that only one is."
    )


def test_a_file_that_is_not_utf8_is_refused(book: Store, tmp_path: Path) -> None:
    path = tmp_path / "cp1252.csv"
    path.write_bytes("phone,date,note\n0912345678,01/06/2025,café\n".encode("cp1252"))
    with pytest.raises(LoaError) as caught:
        import_events(book, path)
    assert caught.value.code == "events.not_utf8"


def test_an_import_is_one_transaction(
    book: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(events_service, "refresh_stats", broken)
    with pytest.raises(RuntimeError):
        import_events(book, write(tmp_path, ORDERS), now=NOW)
    assert stored(book) == []


def test_progress_is_reported_per_batch(
    book: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_service, "BATCH_ROWS", 3)
    seen: list[tuple[int, int]] = []
    import_events(book, write(tmp_path, ORDERS), progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 4), (3, 4), (4, 4)]


def test_record_event_is_idempotent_by_external_id(book: Store) -> None:
    with book.engine.begin() as conn:
        first = record_event(
            conn,
            workspace_id=book.workspace_id,
            phone="0912345678",
            type="Purchase",
            occurred_at=NOW,
            value_vnd=500_000,
            properties={"sku": "A1"},
            external_id="DH9",
        )
        second = record_event(
            conn,
            workspace_id=book.workspace_id,
            phone="+84912345678",
            type="purchase",
            occurred_at=NOW,
            external_id="DH9",
        )
    assert first is not None and second is None
    assert stored(book) == [("DH9", "+84912345678", "purchase", NOW, 500_000, None, {"sku": "A1"})]


def test_record_event_refuses_unknown_numbers_and_naive_times(book: Store) -> None:
    with book.engine.begin() as conn:
        with pytest.raises(LoaError) as unknown:
            record_event(
                conn, workspace_id=book.workspace_id, phone="0356789012", type="x", occurred_at=NOW
            )
        with pytest.raises(LoaError) as naive:
            record_event(
                conn,
                workspace_id=book.workspace_id,
                phone="0912345678",
                type="x",
                occurred_at=NOW.replace(tzinfo=None),
            )
        with pytest.raises(LoaError) as bad_type:
            record_event(
                conn,
                workspace_id=book.workspace_id,
                phone="0912345678",
                type="mua hàng",
                occurred_at=NOW,
            )
    assert unknown.value.code == "events.unknown_contact"
    assert naive.value.render() == "Thời điểm sự kiện phải có múi giờ."
    assert bad_type.value.code == "events.bad_type"


# --- the CLI --------------------------------------------------------------------------------


@pytest.fixture
def cli() -> Cli:
    """Runs `loa` with the given arguments."""
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_cli_import_json(book: Store, tmp_path: Path, db_url: str, cli: Cli) -> None:
    path = write(tmp_path, ORDERS + "DH0009,0912345678,purchase,ngày mai,1,A\n")
    result = cli("--db", db_url, "events", "import", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "imported": 4,
        "duplicate": 0,
        "invalid": 1,
        "skipped": 0,
        "errors": [
            {
                "row": 5,
                "column": "occurred_at",
                "code": "events.bad_time",
                "reason": "Thời gian 'ngày mai' không hợp lệ; ghi dạng 25/12/2024 14:30 hoặc "
                "2024-12-25T14:30:00+07:00.",
            }
        ],
    }


def test_cli_import_table_and_summary(book: Store, tmp_path: Path, db_url: str, cli: Cli) -> None:
    path = write(tmp_path, ORDERS + "DH0009,0912345678,purchase,ngày mai,1,A\n")
    first = cli("--db", db_url, "--lang", "en", "events", "import", str(path))
    assert first.exit_code == 0, first.output
    assert "Refused rows" in first.output
    assert "ngày mai" in first.output
    assert (
        "Imported 4 events; 0 were already there (skipped); 1 rows refused; 0 rows without a "
        "contact (skipped)." in " ".join(first.output.split())
    )
    again = cli("--db", db_url, "events", "import", str(path))
    assert "Đã nhập 0 sự kiện; 4 đã có từ trước (bỏ qua); 1 dòng lỗi;" in " ".join(
        again.output.split()
    )


def test_cli_send_records_a_purchase_and_updates_the_stats(
    book: Store, db_url: str, cli: Cli
) -> None:
    args = ["--db", db_url, "events", "send", "purchase", "--contact", "0912345678"]
    args += ["--value", "300000", "--id", "POS-1", "--props", '{"store": "Q1"}']
    args += ["--at", "2025-06-01T10:00:00"]
    first = cli(*args)
    again = cli(*args)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("Đã ghi sự kiện purchase (#")
    assert again.output.strip() == "Sự kiện có mã 'POS-1' đã được ghi trước đó; không ghi lại."
    assert stored(book) == [
        ("POS-1", "+84912345678", "purchase", datetime(2025, 6, 1, 3, tzinfo=UTC), 300_000,
         None, {"store": "Q1"}),
    ]  # fmt: skip
    with book.engine.connect() as conn:
        spend = conn.execute(select(func.sum(contact_stats.c.total_spend_vnd))).scalar_one()
    assert spend == 300_000


def test_cli_send_to_an_unknown_number_raises_a_domain_error(
    book: Store, db_url: str, cli: Cli
) -> None:
    result = cli("--db", db_url, "events", "send", "purchase", "--contact", "0356789012")
    assert isinstance(result.exception, LoaError)
    assert result.exception.render() == (
        "Không có khách hàng nào có số +84356789012 trong danh bạ; nhập khách hàng trước "
        "(loa contacts import) hoặc sửa số."
    )


def test_events_older_than_now_only_count_in_stats(book: Store, tmp_path: Path) -> None:
    later = NOW + timedelta(days=30)
    text = "phone,date,amount\n0912345678,2025-07-01T10:00:00+07:00,100\n"
    import_events(book, write(tmp_path, text), now=NOW)
    with book.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contact_stats)).scalar_one() == 0
    import_events(book, write(tmp_path, text.replace("07-01", "07-02"), "b.csv"), now=later)
    with book.engine.connect() as conn:
        assert conn.execute(select(contact_stats.c.orders_count)).scalar_one() == 2


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("2025-06-01T09:30:00+07:00", datetime(2025, 6, 1, 2, 30, tzinfo=UTC)),
        ("2025-06-01T09:30:00.25+07:00", datetime(2025, 6, 1, 2, 30, 0, 250_000, tzinfo=UTC)),
        ("2025-06-01T09:30:00Z", datetime(2025, 6, 1, 9, 30, tzinfo=UTC)),
        ("2025-06-01 09:30:00+0700", datetime(2025, 6, 1, 2, 30, tzinfo=UTC)),
        ("2025-06-01 09:30", datetime(2025, 6, 1, 2, 30, tzinfo=UTC)),
        ("2025-06-01", datetime(2025, 5, 31, 17, 0, tzinfo=UTC)),
        ("01/06/2025 09:30", datetime(2025, 6, 1, 2, 30, tzinfo=UTC)),
        ("1/6/2025", datetime(2025, 5, 31, 17, 0, tzinfo=UTC)),
        ("01/06/2025 09:30:15", datetime(2025, 6, 1, 2, 30, 15, tzinfo=UTC)),
        ("25/12/2024 14h30", datetime(2024, 12, 25, 7, 30, tzinfo=UTC)),
        (" 2024-12-31T17:00:00-05:00 ", datetime(2024, 12, 31, 22, 0, tzinfo=UTC)),
        ("31/02/2025", None),
        ("2025-13-01", None),
        ("06/01/2025 25:00", None),
        ("hôm qua", None),
        ("45678", None),
    ],
)
def test_times_as_people_write_them(written: str, utc: datetime | None) -> None:
    assert events_service.parse_times(pl.Series([written])).to_list() == [utc]


@pytest.mark.parametrize(
    ("written", "vnd"),
    [
        ("1250000", 1_250_000),
        ("1.250.000", 1_250_000),
        ("1,250,000", 1_250_000),
        ("1 250 000 đ", 1_250_000),
        ("1.250.000₫", 1_250_000),
        ("1250000 VND", 1_250_000),
        ("1250000.00", 1_250_000),
        ("-50000", -50_000),
        ("1.000", 1_000),
        ("1.5", None),
        ("12,50", None),
        ("abc", None),
        ("99999999999999999999", None),
    ],
)
def test_amounts_as_people_write_them(written: str, vnd: int | None) -> None:
    assert events_service.parse_amounts(pl.Series([written])).to_list() == [vnd]
