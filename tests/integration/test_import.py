"""Importing customer files: what lands in the book, and the exact report of what did not."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import xlsxwriter
from sqlalchemy import func, select
from typer.testing import CliRunner

from loa.cli import app
from loa.i18n import LoaError, set_lang
from loa.services.contacts import importer
from loa.services.contacts.importer import import_contacts, parse_consent_specs
from loa.store import bulk
from loa.store.db import Store
from loa.store.tables import audit_log, consents, contact_tags, contacts

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

MESSY = """\
Họ tên,Số điện thoại,Email,Ngày sinh,Giới tính,Tỉnh/Thành,Loại khách,Nhãn,Ghi chú
NGUYỄN VĂN AN,0912345678,AN@Gmail.com,05/09/1990,Nam,Hà Nội,Lẻ,"vip;hội viên",hay mua
Trần Thị Bình,+84 987 654 321,binh@,31/02/1991,Nữ,TP. Hồ Chí Minh,Sỉ,,
Lê Văn Cường,024 3826 1234,,1985-01-01,Nam,Hà Nội,Lẻ,,
Phạm Thị Dung,84912345678,dung@yahoo.com,,Nữ,Đà Nẵng,,,ghi chú 2
,,,,,,,,
Võ Thị Em,0383 456 789,,1/1/2000,nữ,Cần Thơ,,khách mới,
"""


def write(tmp_path: Path, body: str, name: str = "khach.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(body.encode(encoding))
    return path


def book(store: Store) -> dict[str, dict[str, object]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(contacts).order_by(contacts.c.phone)).mappings().all()
    return {r["phone"]: dict(r) for r in rows}


def count(store: Store, table: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_messy_file_gives_a_clean_book_and_names_every_bad_cell(
    store: Store, tmp_path: Path
) -> None:
    report = import_contacts(store, write(tmp_path, MESSY), now=NOW)

    assert (report.rows, report.imported, report.updated, report.invalid) == (5, 2, 1, 2)
    assert report.rows == report.imported + report.updated + report.skipped + report.invalid
    assert [(e.line, e.column, e.value, e.reason) for e in report.errors] == [
        (
            3,
            "Email",
            "binh@",
            "'binh@' không phải địa chỉ email; dạng đúng: ten@vidu.vn (hoặc để trống).",
        ),
        (
            3,
            "Ngày sinh",
            "31/02/1991",
            "'31/02/1991' không phải ngày có thật; dùng dd/mm/yyyy (ví dụ 05/09/1990) "
            "hoặc yyyy-mm-dd.",
        ),
        (
            4,
            "Số điện thoại",
            "024 3826 1234",
            "+842438261234 là số cố định, không nhận được SMS; cần số di động.",
        ),
    ]
    people = book(store)
    assert sorted(people) == ["+84383456789", "+84912345678"]
    # Line 5 repeats line 2's number: the later non-empty cells win, the rest are kept.
    dung = people["+84912345678"]
    assert dung["name"] == "Phạm Thị Dung"
    assert dung["given_name"] == "Dung"
    assert dung["email"] == "dung@yahoo.com"
    assert dung["birthday"] == date(1990, 9, 5)
    assert dung["birth_mmdd"] == 905
    assert dung["attrs"] == {"customer_type": "retail", "Ghi chú": "ghi chú 2"}
    em = people["+84383456789"]
    assert (em["name"], em["given_name"], em["gender"], em["birthday"]) == (
        "Võ Thị Em",
        "Em",
        "female",
        date(2000, 1, 1),
    )
    assert em["carrier"] == "Viettel"
    assert em["source"] == "khach.csv"


def test_update_merges_later_cells_and_keeps_tags_of_every_copy(
    store: Store, tmp_path: Path
) -> None:
    import_contacts(store, write(tmp_path, MESSY), now=NOW)
    with store.engine.connect() as conn:
        tags = conn.execute(select(contact_tags.c.tag).order_by(contact_tags.c.tag)).scalars()
        assert list(tags) == ["hội viên", "khách mới", "vip"]
    assert book(store)["+84912345678"]["attrs"] == {
        "customer_type": "retail",
        "Ghi chú": "ghi chú 2",
    }


def test_skip_keeps_the_first_copy_and_importing_again_changes_nothing(
    store: Store, tmp_path: Path
) -> None:
    path = write(tmp_path, MESSY)
    first = import_contacts(store, path, on_conflict="skip", now=NOW)
    assert (first.imported, first.skipped, first.invalid) == (2, 1, 2)
    an = book(store)["+84912345678"]
    assert (an["name"], an["given_name"], an["email"]) == ("Nguyễn Văn An", "An", "an@gmail.com")

    again = import_contacts(store, path, on_conflict="skip", now=NOW)
    assert (again.imported, again.updated, again.skipped, again.invalid) == (0, 0, 3, 2)
    assert count(store, contacts) == 2

    updated = import_contacts(store, path, on_conflict="update", now=NOW)
    assert (updated.imported, updated.updated, updated.skipped) == (0, 3, 0)
    assert book(store)["+84912345678"]["name"] == "Phạm Thị Dung"


def test_the_invalid_file_can_be_fixed_and_imported_again(store: Store, tmp_path: Path) -> None:
    report = import_contacts(store, write(tmp_path, MESSY), now=NOW)
    assert report.invalid_file == tmp_path / "khach.invalid.csv"
    quarantined = report.invalid_file.read_text(encoding="utf-8-sig").splitlines()
    assert quarantined[0].endswith(",loa_row,loa_errors")
    assert quarantined[1].startswith("Trần Thị Bình,+84 987 654 321,binh@,31/02/1991,")
    assert ",3,Email: 'binh@' không phải địa chỉ email" in quarantined[1]
    assert quarantined[2].startswith("Lê Văn Cường,024 3826 1234,")

    fixed = report.invalid_file.read_text(encoding="utf-8-sig")
    fixed = fixed.replace("binh@,31/02/1991", "binh@gmail.com,28/02/1991")
    fixed = fixed.replace("024 3826 1234", "0903 826 123")
    again = import_contacts(store, write(tmp_path, fixed, "fixed.csv"), now=NOW)
    assert (again.imported, again.invalid, again.invalid_file) == (2, 0, None)
    binh = book(store)["+84987654321"]
    assert (binh["email"], binh["birthday"]) == ("binh@gmail.com", date(1991, 2, 28))
    assert binh["attrs"] == {"customer_type": "wholesale"}  # loa_row/loa_errors are not kept


def test_abort_imports_nothing_and_says_where_the_list_is(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, MESSY)
    with pytest.raises(LoaError) as caught:
        import_contacts(store, path, on_invalid="abort", now=NOW)
    assert caught.value.render() == (
        "Không nhập gì cả: 2 dòng lỗi (dòng đầu tiên: dòng 3, cột 'Email': 'binh@' không phải "
        "địa chỉ email; dạng đúng: ten@vidu.vn (hoặc để trống).). Danh sách lỗi: "
        f"{tmp_path / 'khach.invalid.csv'}. Sửa rồi nhập lại, hoặc dùng --invalid quarantine "
        "để nhập các dòng đúng."
    )
    assert count(store, contacts) == 0
    assert (tmp_path / "khach.invalid.csv").exists()


def test_a_failure_half_way_leaves_the_store_as_it_was(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_contacts(store, write(tmp_path, MESSY, "first.csv"), now=NOW)
    before = (book(store), count(store, contact_tags), count(store, audit_log))
    more = MESSY.replace("Phạm Thị Dung", "Phạm Dung").replace("0383 456 789", "0977 000 111")

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "record", crash)  # the last step of the transaction
    with pytest.raises(RuntimeError, match="disk full"):
        import_contacts(store, write(tmp_path, more, "second.csv"), now=NOW)
    assert (book(store), count(store, contact_tags), count(store, audit_log)) == before


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8-sig", ","), ("utf-16", "\t"), ("utf-8", ";")],
)
def test_common_encodings_and_delimiters_read_the_same(
    store: Store, tmp_path: Path, encoding: str, delimiter: str
) -> None:
    body = MESSY.replace(",", delimiter)
    report = import_contacts(store, write(tmp_path, body, encoding=encoding), now=NOW)
    assert (report.imported, report.updated, report.invalid, report.warnings) == (2, 1, 2, [])
    assert book(store)["+84383456789"]["name"] == "Võ Thị Em"


def _cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese Excel writes it: base letters precomposed, tones combining."""
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
            out += (base + "".join(c for c in parts if c in tones)).encode("cp1258")
    return bytes(out)


def test_a_legacy_encoded_file_is_read_with_a_warning(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "cu.csv"
    path.write_bytes(_cp1258(MESSY))
    report = import_contacts(store, path, now=NOW)
    assert report.encoding == "cp1258"
    assert report.warnings == [
        "Tệp không phải UTF-8: đã đọc theo bảng mã cp1258. Hãy kiểm tra dấu tiếng Việt trong "
        "kết quả; nếu sai, lưu tệp dạng 'CSV UTF-8' rồi nhập lại."
    ]
    assert book(store)["+84383456789"]["name"] == "Võ Thị Em"
    assert book(store)["+84912345678"]["province"] == "Đà Nẵng"


def test_xlsx_with_excel_damage(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "khach.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    sheet = wb.add_worksheet()
    sheet.write_row(0, 0, ["SĐT", "Tên khách hàng", "Sinh nhật"])
    sheet.write_number(1, 0, 912345678)  # Excel dropped the leading zero
    sheet.write_string(1, 1, "Đỗ Hùng")
    sheet.write_datetime(1, 2, datetime(1988, 3, 4), wb.add_format({"num_format": "dd/mm/yyyy"}))
    sheet.write_string(2, 0, "0987.654.321")
    sheet.write_string(2, 1, "Ngô Lan")
    sheet.write_string(2, 2, "04/03/1995")
    wb.close()
    report = import_contacts(store, path, now=NOW)
    assert (report.imported, report.invalid) == (2, 0)
    people = book(store)
    assert (people["+84912345678"]["name"], people["+84912345678"]["birthday"]) == (
        "Đỗ Hùng",
        date(1988, 3, 4),
    )
    assert people["+84987654321"]["birthday"] == date(1995, 3, 4)


def test_a_row_with_too_many_cells_is_named(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "sdt;ten\n0912345678;An\n0912345679;Bình;thừa\n")
    with pytest.raises(LoaError) as caught:
        import_contacts(store, path, now=NOW)
    assert caught.value.render() == (
        "Dòng 3 có 3 ô nhưng dòng tiêu đề có 2 cột (dấu phân cách ';'). Hãy đặt ô chứa dấu "
        "phân cách trong ngoặc kép hoặc xoá ô thừa."
    )
    assert count(store, contacts) == 0


def test_map_overrides_and_a_missing_phone_column(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "Khách,Di động DĐ,Mã KH\nAn,0912345678,KH01\n")
    with pytest.raises(LoaError) as caught:
        import_contacts(store, path, now=NOW)
    assert caught.value.render() == (
        "Không tìm thấy cột số điện thoại trong các cột: Khách, Di động DĐ, Mã KH. Hãy chỉ rõ, "
        'ví dụ --map "Khách=phone".'
    )
    report = import_contacts(
        store, path, column_map={"Di động DĐ": "phone", "Mã KH": "attrs.code"}, now=NOW
    )
    assert report.imported == 1
    assert book(store)["+84912345678"]["attrs"] == {"code": "KH01"}
    assert book(store)["+84912345678"]["name"] == "An"


def test_consent_from_columns_and_for_the_whole_file(store: Store, tmp_path: Path) -> None:
    body = (
        "sdt,consent_channel,consent_purpose,consent_method,consent_date,consent_evidence\n"
        "0912345678,sms,quảng cáo,form,01/03/2025,Phiếu đăng ký 01/03\n"
        "0987654321,sms,,form,,\n"
        "0383456789,,,,,\n"
    )
    given = datetime(2025, 6, 1, tzinfo=UTC)
    file_consent = parse_consent_specs(["email:marketing"], "hotline", "Gọi tổng đài", given)
    report = import_contacts(store, write(tmp_path, body), consents=file_consent, now=NOW)
    assert [(e.line, e.column, e.reason) for e in report.errors] == [
        (
            3,
            "consent_channel",
            "Có thông tin đồng ý nhưng thiếu mục đích; cần đủ kênh, mục đích và cách đồng ý.",
        )
    ]
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                contacts.c.phone,
                consents.c.channel,
                consents.c.purpose,
                consents.c.method,
                consents.c.evidence,
                consents.c.given_at,
            )
            .join(contacts, contacts.c.id == consents.c.contact_id)
            .order_by(contacts.c.phone, consents.c.channel)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("+84383456789", "email", "marketing", "hotline", "Gọi tổng đài", given),
        ("+84912345678", "email", "marketing", "hotline", "Gọi tổng đài", given),
        (
            "+84912345678",
            "sms",
            "marketing",
            "form",
            "Phiếu đăng ký 01/03",
            datetime(2025, 3, 1, tzinfo=UTC),
        ),
    ]
    # The same file again records no second copy of the same consent.
    import_contacts(store, write(tmp_path, body), consents=file_consent, now=NOW)
    assert count(store, consents) == 3


def test_errors_are_reported_in_english_when_asked(store: Store, tmp_path: Path) -> None:
    set_lang("en")
    report = import_contacts(store, write(tmp_path, MESSY), now=NOW)
    assert report.errors[2].reason == (
        "+842438261234 is a fixed-line number and cannot receive SMS; a mobile number is needed."
    )


def test_cli_import_prints_the_json_summary_and_audits(db_url: str, tmp_path: Path) -> None:
    path = write(tmp_path, MESSY)
    result = CliRunner().invoke(app, ["--db", db_url, "contacts", "import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("imported", "updated", "skipped", "invalid")} == {
        "imported": 2,
        "updated": 1,
        "skipped": 0,
        "invalid": 2,
    }
    assert summary["invalid_file"] == str(tmp_path / "khach.invalid.csv")
    result = CliRunner().invoke(app, ["--db", db_url, "contacts", "count"])
    assert result.stdout.strip() == "2 khách hàng."


def test_decomposed_accents_are_composed(store: Store, tmp_path: Path) -> None:
    body = unicodedata.normalize(
        "NFD", "sdt,Họ tên,Tỉnh/Thành\n0912345678,Nguyễn Thị Ánh,Đắk Lắk\n"
    )
    import_contacts(store, write(tmp_path, body), now=NOW)
    anh = book(store)["+84912345678"]
    assert (anh["name"], anh["given_name"], anh["province"]) == ("Nguyễn Thị Ánh", "Ánh", "Đắk Lắk")
    assert unicodedata.is_normalized("NFC", str(anh["name"]))


# Four copies of one number, a foreign mobile (a longer E.164 that sorts before the others).
COPIES = """\
Họ tên,Số điện thoại,Email,Ngày sinh,Nhãn
An Một,0912345678,an1@gmail.com,,vip
Bình,0987654321,,,
An Hai,+84 912 345 678,,05/09/1990,mới
Cường,0977000111,c@gmail.com,,
John,+44 7911 123456,,,
An Ba,84912345678,an3@gmail.com,,
,0912 345 678,,,vip;cũ
"""


# 2: the four copies land in three slices, and the four numbers are written in four parts.
@pytest.mark.parametrize("slice_rows", [200_000, 2])
@pytest.mark.parametrize(
    ("on_conflict", "an"),
    [
        ("update", ("An Ba", "Ba", "an3@gmail.com", date(1990, 9, 5), ["cũ", "mới", "vip"])),
        ("skip", ("An Một", "Một", "an1@gmail.com", None, ["vip"])),
    ],
)
def test_copies_of_a_number_merge_in_file_order_however_the_file_is_sliced(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    slice_rows: int,
    on_conflict: importer.OnConflict,
    an: tuple[object, ...],
) -> None:
    monkeypatch.setattr(importer, "CLEAN_ROWS", slice_rows)
    monkeypatch.setattr(importer, "STAGE_ROWS", 1 if slice_rows == 2 else importer.STAGE_ROWS)
    path = write(tmp_path, COPIES)
    report = import_contacts(store, path, on_conflict=on_conflict, now=NOW)
    assert (report.imported, report.duplicates_in_file, report.invalid) == (4, 3, 0)
    people = book(store)
    assert sorted(people) == ["+447911123456", "+84912345678", "+84977000111", "+84987654321"]
    person = people["+84912345678"]
    with store.engine.connect() as conn:
        tags = conn.execute(
            select(contact_tags.c.tag)
            .join(contacts, contacts.c.id == contact_tags.c.contact_id)
            .where(contacts.c.phone == "+84912345678")
            .order_by(contact_tags.c.tag)
        ).scalars()
        seen = (person["name"], person["given_name"], person["email"], person["birthday"])
        assert (*seen, list(tags)) == an
    consent = parse_consent_specs(["sms:marketing"], "form", "signup form, 2025", NOW)
    again = import_contacts(store, path, on_conflict=on_conflict, consents=consent, now=NOW)
    assert (again.imported, again.updated, again.skipped) == (
        (0, 7, 0) if on_conflict == "update" else (0, 0, 7)
    )
    assert count(store, contacts) == 4
    assert count(store, consents) == (4 if on_conflict == "update" else 0)


def test_a_failure_while_a_later_part_is_written_leaves_the_store_as_it_was(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_contacts(store, write(tmp_path, MESSY, "first.csv"), now=NOW)
    before = (book(store), count(store, contact_tags), count(store, audit_log))
    more = MESSY.replace("Phạm Thị Dung", "Phạm Dung").replace("0383 456 789", "0977 000 111")
    monkeypatch.setattr(importer, "STAGE_ROWS", 1)  # one number per part on SQLite
    written: list[str] = []
    real = bulk.write_frames

    def fail_on_the_second_part(file: bulk.Scratch, tables: dict[str, object]) -> None:
        written.append(file.path.name)
        if len(written) == 2:
            raise OSError("disk full")
        real(file, tables)  # type: ignore[arg-type]

    monkeypatch.setattr(bulk, "write_frames", fail_on_the_second_part)
    if store.dialect == "sqlite":
        with pytest.raises(OSError, match="disk full"):
            import_contacts(store, write(tmp_path, more, "second.csv"), now=NOW)
        assert written[:2] == ["stage0.db", "stage1.db"]
    else:  # PostgreSQL stages every row in one COPY: nothing to fail in parts
        import_contacts(store, write(tmp_path, more, "second.csv"), now=NOW)
        return
    assert (book(store), count(store, contact_tags), count(store, audit_log)) == before
    with store.engine.connect() as conn:  # the pooled connection checks references again
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
