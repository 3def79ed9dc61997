"""`loa sample`: what the files hold, byte for byte, and that --messy damage is what it says."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from typer.testing import CliRunner, Result

from loa.cli import app
from loa.data import vietnam as vn
from loa.domain.phones import LEGACY_PREFIXES
from loa.i18n import LoaError
from loa.services import sample as svc

NOW = date(2026, 5, 9)
N = 5000
M = 10000
CONTACTS_HEADER = "Họ tên,Số điện thoại,Email,Ngày sinh,Giới tính,Tỉnh/Thành,Loại khách,Nhãn"
ORDERS_HEADER = "order_id,phone,type,occurred_at,amount_vnd,category"

Rows = list[dict[str, str]]


def _write(root: Path, name: str, **spec: Any) -> Path:
    out = root / name
    params: dict[str, Any] = {"contacts": N, "orders": M, "now": NOW, "seed": 7} | spec
    svc.write_sample(svc.SampleSpec(**params), out)
    return out


def _rows(path: Path, encoding: str = "utf-8") -> Rows:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sample")


@pytest.fixture(scope="module")
def clean(root: Path) -> Path:
    return _write(root, "clean")


@pytest.fixture(scope="module")
def messy(root: Path) -> Path:
    return _write(root, "messy", messy=True)


@pytest.fixture(scope="module")
def manifest(messy: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((messy / "manifest.json").read_text(encoding="utf-8"))
    return data


def _is_vn_mobile(text: str) -> bool:
    try:
        number = phonenumbers.parse(text, "VN")
    except phonenumbers.NumberParseException:
        return False
    return bool(
        phonenumbers.is_valid_number(number)
        and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
    )


def _normalise(text: str) -> str | None:
    """An importer's reading of a phone cell: clean '0xxxxxxxxx' or None (independent of Loa)."""
    digits = unicodedata.normalize("NFKC", text).strip()
    digits = digits.removesuffix(".0")
    if not re.fullmatch(r"[+\d .()-]+", digits):
        return None
    digits = re.sub(r"\D", "", digits)
    if digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    elif len(digits) == 9:
        digits = "0" + digits
    elif len(digits) == 11 and digits[1:4] in LEGACY_PREFIXES:
        digits = "0" + LEGACY_PREFIXES[digits[1:4]] + digits[4:]
    return digits if len(digits) == 10 and _is_vn_mobile(digits) else None


# --- the files ----------------------------------------------------------------------------


def test_headers_are_exactly_what_the_importer_reads(clean: Path) -> None:
    contacts = (clean / "contacts.csv").read_text(encoding="utf-8").splitlines()
    orders = (clean / "orders.csv").read_text(encoding="utf-8").splitlines()
    assert contacts[0] == CONTACTS_HEADER
    assert orders[0] == ORDERS_HEADER
    assert len(contacts) == N + 1
    assert len(orders) == M + 1


def test_same_seed_same_bytes_other_seed_other_data(root: Path, messy: Path) -> None:
    again = _write(root, "messy-again", messy=True)
    other = _write(root, "messy-other", messy=True, seed=8)
    for name in ("contacts.csv", "orders.csv", "manifest.json"):
        assert (again / name).read_bytes() == (messy / name).read_bytes()
        assert (other / name).read_bytes() != (messy / name).read_bytes()


def test_messy_changes_only_the_damaged_cells_of_the_clean_file(
    clean: Path, messy: Path, manifest: dict[str, Any]
) -> None:
    damaged = {row for rows in manifest["damage"].values() for row in rows}
    assert (messy / "orders.csv").read_bytes() == (clean / "orders.csv").read_bytes()
    for number, (before, after) in enumerate(
        zip(_rows(clean / "contacts.csv"), _rows(messy / "contacts.csv"), strict=True), 1
    ):
        if number in damaged:
            assert before["Họ tên"] == after["Họ tên"]
            assert (before["Số điện thoại"], before["Ngày sinh"]) != (
                after["Số điện thoại"],
                after["Ngày sinh"],
            )
        else:
            assert before == after


# --- contacts -----------------------------------------------------------------------------


def test_clean_phones_are_unique_valid_ten_digit_mobiles(clean: Path) -> None:
    phones = [row["Số điện thoại"] for row in _rows(clean / "contacts.csv")]
    assert len(set(phones)) == N
    assert all(re.fullmatch(r"0\d{9}", p) for p in phones)
    assert all(_is_vn_mobile(p) for p in phones)


def test_carrier_mix_follows_market_shares(clean: Path) -> None:
    carriers = Counter(
        vn.carrier_by_prefix(row["Số điện thoại"]) for row in _rows(clean / "contacts.csv")
    )
    assert None not in carriers
    total = sum(vn.CARRIER_SHARES.values())
    for carrier, share in vn.CARRIER_SHARES.items():
        # 3 standard deviations of a binomial share over N rows, at least half a point.
        expected = share / total
        tolerance = max(0.005, 3 * (expected * (1 - expected) / N) ** 0.5)
        assert abs(carriers[carrier] / N - expected) < tolerance, carrier
    assert carriers["Viettel"] > carriers["VinaPhone"] > carriers["MobiFone"]


def test_names_look_vietnamese_and_match_gender(clean: Path) -> None:
    family = {name for name, _ in vn.FAMILY_NAMES}
    given = {
        "Nam": {name for name, _ in vn.GIVEN_NAMES_MALE},
        "Nữ": {name for name, _ in vn.GIVEN_NAMES_FEMALE},
    }
    rows = _rows(clean / "contacts.csv")
    for row in rows:
        words = row["Họ tên"].split(" ")
        assert 3 <= len(words) <= 4, row["Họ tên"]
        assert words[0] in family
        assert words[-1] in given[row["Giới tính"]], row["Họ tên"]
        assert ("Thị" in words) <= (row["Giới tính"] == "Nữ")
        assert ("Văn" in words[1:-1]) <= (row["Giới tính"] == "Nam")
    share = Counter(row["Họ tên"].split(" ")[0] for row in rows)["Nguyễn"] / N
    assert 0.34 < share < 0.42


def test_contact_fields_have_the_documented_formats_and_shares(clean: Path) -> None:
    rows = _rows(clean / "contacts.csv")
    provinces = {name for name, _ in vn.PROVINCES}
    tags = {name for name, _ in vn.CUSTOMER_TAGS}
    for row in rows:
        if row["Ngày sinh"]:
            born = datetime.strptime(row["Ngày sinh"], "%d/%m/%Y").date()
            assert 18 <= (NOW - born).days / 365.25 <= 70
        if row["Email"]:
            assert re.fullmatch(r"[a-z]+\.?[a-z]+\d*@[a-z.]+", row["Email"]), row["Email"]
        assert row["Giới tính"] in ("Nam", "Nữ")
        assert row["Tỉnh/Thành"] in provinces
        assert row["Loại khách"] in ("Lẻ", "Sỉ")
        assert row["Nhãn"] == "" or set(row["Nhãn"].split(";")) <= tags
    emails = [row["Email"] for row in rows if row["Email"]]
    assert len(set(emails)) == len(emails)
    assert 0.37 < len(emails) / N < 0.43
    assert 0.82 < sum(bool(row["Ngày sinh"]) for row in rows) / N < 0.88
    assert 0.035 < sum(row["Loại khách"] == "Sỉ" for row in rows) / N < 0.065
    assert 0.09 < sum(bool(row["Nhãn"]) for row in rows) / N < 0.15
    assert Counter(row["Tỉnh/Thành"] for row in rows).most_common(2)[0][0] == "TP. Hồ Chí Minh"


def test_email_is_the_name_without_accents(clean: Path) -> None:
    row = next(r for r in _rows(clean / "contacts.csv") if r["Email"])
    given = row["Họ tên"].split(" ")[-1]
    folded = unicodedata.normalize("NFD", given.replace("Đ", "D").replace("đ", "d"))
    ascii_given = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    assert ascii_given in row["Email"]


# --- orders -------------------------------------------------------------------------------


def test_orders_are_purchases_by_existing_contacts_in_the_last_two_years(clean: Path) -> None:
    phones = {row["Số điện thoại"] for row in _rows(clean / "contacts.csv")}
    orders = _rows(clean / "orders.csv")
    reference = datetime.fromisoformat(f"{NOW.isoformat()}T00:00:00+07:00")
    categories = {name for name, *_ in vn.CATEGORIES}
    times = []
    for number, order in enumerate(orders, 1):
        assert order["order_id"] == f"DH{number:06d}"
        assert order["phone"] in phones
        assert order["type"] == "purchase"
        assert order["occurred_at"].endswith("+07:00")
        when = datetime.fromisoformat(order["occurred_at"])
        assert reference - timedelta(days=730) <= when < reference
        amount = int(order["amount_vnd"])
        assert 50_000 <= amount <= 20_000_000
        assert amount % 1000 == 0
        assert order["category"] in categories
        times.append(when)
    assert times == sorted(times)
    assert max(times) > reference - timedelta(days=7)
    assert min(times) < reference - timedelta(days=700)


def test_purchases_are_skewed_like_a_real_customer_book(clean: Path) -> None:
    per_customer = Counter(order["phone"] for order in _rows(clean / "orders.csv"))
    counts = sorted(per_customer.values(), reverse=True)
    assert 0.4 < 1 - len(per_customer) / N < 0.8  # many never buy
    assert sum(c == 1 for c in counts) > 0.15 * len(counts)  # some buy once
    assert sum(counts[: len(counts) // 10]) > 0.35 * M  # a loyal tenth buys over a third
    assert counts[0] >= 30


# --- messy --------------------------------------------------------------------------------


def test_manifest_lists_every_kind_with_a_handful_of_rows(manifest: dict[str, Any]) -> None:
    assert list(manifest["damage"]) == [k.code for k in svc.DAMAGE_KINDS]
    assert manifest["effects"] == {k.code: k.effect for k in svc.DAMAGE_KINDS}
    rows = [row for kind_rows in manifest["damage"].values() for row in kind_rows]
    assert len(rows) == len(set(rows)) == manifest["damaged_rows"]  # one kind per row
    assert all(1 <= row <= N for row in rows)
    assert 0.08 <= len(rows) / N <= 0.10
    assert all(len(kind_rows) >= 5 for kind_rows in manifest["damage"].values())
    assert manifest["rows"] == N
    assert manifest["invalid_rows_by_kind"] == {
        kind: len(manifest["damage"][kind])
        for kind in ("landline", "empty", "not_a_number", "too_short", "scientific")
    }


def test_damaged_rows_carry_the_damage_the_manifest_claims(
    clean: Path, messy: Path, manifest: dict[str, Any]
) -> None:
    before = _rows(clean / "contacts.csv")
    after = _rows(messy / "contacts.csv")
    checks = {
        "intl_spaced": r"\+84 \d{3} \d{3} \d{3}",
        "intl_plain": r"84\d{9}",
        "dotted": r"0\d{3}\.\d{3}\.\d{3}",
        "parens": r"\(0\d{2}\) \d{3}-\d{4}",
        "fullwidth": r"[０-９]{10}",
        "stripped_zero": r"[1-9]\d{8}",
        "trailing_dot_zero": r"[1-9]\d{8}\.0",
        "legacy_11_digit": r"01\d{9}",
        "landline": r"02\d{1,2} \d{3,4} \d{4}",
        "empty": r"",
        "not_a_number": r"\D+",
        "too_short": r"0\d{3,6}",
        "scientific": r"8\.\d{5}E\+10",
    }
    for kind, pattern in checks.items():
        for row in manifest["damage"][kind]:
            written = after[row - 1]["Số điện thoại"]
            assert re.fullmatch(pattern, written), (kind, row, written)
            clean_phone = before[row - 1]["Số điện thoại"]
            if manifest["effects"][kind] == "valid":
                assert _normalise(written) == clean_phone, (kind, written)
            else:
                assert _normalise(written) is None, (kind, written)
    for row in manifest["damage"]["landline"]:
        number = phonenumbers.parse(after[row - 1]["Số điện thoại"], "VN")
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE
    for row in manifest["damage"]["scientific"]:
        with pytest.raises(phonenumbers.NumberParseException):
            phonenumbers.parse(after[row - 1]["Số điện thoại"], "VN")
    for row in manifest["damage"]["bad_date"]:
        written = after[row - 1]["Ngày sinh"]
        assert written == "không rõ" or re.fullmatch(r"31/02/\d{4}|\d{4}-13-\d{2}", written)
        with pytest.raises(ValueError):
            datetime.strptime(written, "%d/%m/%Y")


def test_duplicates_repeat_an_earlier_undamaged_row_written_differently(
    clean: Path, messy: Path, manifest: dict[str, Any]
) -> None:
    after = _rows(messy / "contacts.csv")
    damaged = {row for rows in manifest["damage"].values() for row in rows}
    assert sorted(int(row) for row in manifest["duplicate_of"]) == manifest["damage"]["duplicate"]
    for row, source in manifest["duplicate_of"].items():
        written, original = after[int(row) - 1]["Số điện thoại"], after[source - 1]["Số điện thoại"]
        assert source < int(row)
        assert source not in damaged
        assert written != original
        assert _normalise(written) == original


def test_expected_counts_match_an_independent_reading_of_the_file(
    messy: Path, manifest: dict[str, Any]
) -> None:
    readings = [_normalise(row["Số điện thoại"]) for row in _rows(messy / "contacts.csv")]
    valid = [r for r in readings if r is not None]
    assert len(readings) - len(valid) == manifest["invalid_rows"]
    # Bad birthdays keep their rows out of the book too (rows are imported whole or not at all).
    assert len(set(valid)) - manifest["invalid_dates"] == manifest["expected_valid_unique_contacts"]
    assert len(valid) - len(set(valid)) == manifest["duplicates"]
    assert manifest["invalid_dates"] == len(manifest["damage"]["bad_date"])
    orders = _rows(messy / "orders.csv")
    assert {order["phone"] for order in orders} <= set(valid)


@pytest.mark.parametrize(
    ("rows", "damaged"),
    [(1, 0), (50, 4), (199, 15), (200, 20), (5000, 450)],
)
def test_small_files_get_about_nine_percent_damage(rows: int, damaged: int) -> None:
    assert sum(svc.damage_counts(rows).values()) == damaged


def test_a_one_row_messy_file_is_written(tmp_path: Path) -> None:
    out = _write(tmp_path, "one", contacts=1, orders=3, messy=True)
    assert len(_rows(out / "contacts.csv")) == 1
    assert len(_rows(out / "orders.csv")) == 3


# --- encodings ----------------------------------------------------------------------------


def test_utf16_file_has_a_bom_and_decodes_to_the_same_text(root: Path, messy: Path) -> None:
    out = _write(root, "utf16", messy=True, encoding="utf-16")
    raw = (out / "contacts.csv").read_bytes()
    assert raw[:2] == b"\xff\xfe"
    assert raw.decode("utf-16") == (messy / "contacts.csv").read_text(encoding="utf-8")
    assert (out / "orders.csv").read_bytes() == (messy / "orders.csv").read_bytes()


def test_utf8_sig_file_is_the_utf8_file_after_a_bom(root: Path, clean: Path) -> None:
    out = _write(root, "utf8sig", encoding="utf-8-sig")
    raw = (out / "contacts.csv").read_bytes()
    assert raw == b"\xef\xbb\xbf" + (clean / "contacts.csv").read_bytes()


def test_cp1258_file_decodes_to_the_same_text_after_nfc(root: Path, clean: Path) -> None:
    out = _write(root, "cp1258", encoding="cp1258")
    raw = (out / "contacts.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # really a Windows code page, not UTF-8 under another name
    text = unicodedata.normalize("NFC", raw.decode("cp1258"))
    assert text == (clean / "contacts.csv").read_text(encoding="utf-8")
    assert "Ho\u0323 tên" in raw.decode("cp1258").splitlines()[0]  # tone as a combining mark


def test_messy_cp1258_file_has_no_full_width_digits(root: Path) -> None:
    out = _write(root, "cp1258-messy", messy=True, encoding="cp1258")
    data = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert data["damage"]["fullwidth"] == []
    assert all(len(rows) > 0 for kind, rows in data["damage"].items() if kind != "fullwidth")
    rows = list(csv.DictReader(io.StringIO((out / "contacts.csv").read_bytes().decode("cp1258"))))
    assert len(rows) == N


# --- the command --------------------------------------------------------------------------


def _cli(*args: str) -> Result:
    # Wide enough that Rich never wraps a line the assertions read.
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_command_prints_the_files_and_damage_in_english(tmp_path: Path) -> None:
    result = _cli(
        "--lang", "en", "sample", "--contacts", "3000", "--orders", "6000", "--messy",
        "--now", "2026-05-09", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.output.replace("\n", "")  # Rich wraps long paths at the terminal width
    assert f"Sample data written to {tmp_path} (seed 42, reference date 2026-05-09)" in out
    assert f"{tmp_path / 'contacts.csv'}: 3,000 customers, utf-8" in out
    assert f"{tmp_path / 'orders.csv'}: 6,000 orders" in out
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    valid = f"{manifest['expected_valid_unique_contacts']:,}"
    assert f"270 damaged rows (9.0%). Expected: {valid} valid customers" in out
    assert re.search(
        # Rich may wrap the label onto a second line on a narrow terminal.
        r"Leading zero lost in\s+(Excel\s+)?│ stripped_zero\s+│\s+45 │ still valid",
        result.output,
    ), result.output


def test_command_speaks_vietnamese_by_default(tmp_path: Path) -> None:
    result = _cli(
        "sample", "--contacts", "2000", "--orders", "0", "--now", "2026-05-09",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.output.replace("\n", "")  # Rich wraps long paths at the terminal width
    assert f"{tmp_path / 'contacts.csv'}: 2.000 khách hàng, utf-8" in out
    assert f"{tmp_path / 'orders.csv'}: 0 đơn hàng" in out
    assert (tmp_path / "orders.csv").read_text(encoding="utf-8") == ORDERS_HEADER + "\n"


def test_command_rejects_a_date_that_is_not_one(tmp_path: Path) -> None:
    result = _cli("sample", "--out", str(tmp_path), "--now", "2026-13-01")
    assert result.exit_code != 0
    assert isinstance(result.exception, LoaError)
    assert result.exception.render() == (
        "--now '2026-13-01' không phải ngày: dùng dạng YYYY-MM-DD, ví dụ 2026-05-09."
    )
    assert not (tmp_path / "contacts.csv").exists()
