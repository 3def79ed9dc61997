"""Brandnames, templates, the DNC list, message checks, the inspector's export and the 5656
copy, on a real store (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import insert, select

from loa.i18n import LoaError
from loa.services.compliance.authority import copy_to_authority
from loa.services.compliance.brandnames import add_brandname, list_brandnames
from loa.services.compliance.check import check_message
from loa.services.compliance.dnc import dnc_age_warning, dnc_status, import_dnc
from loa.services.compliance.export import export_compliance
from loa.services.compliance.inbound import receive_inbound
from loa.services.compliance.templates import add_template, list_templates
from loa.store.db import Store
from loa.store.tables import audit_log, consents, contacts, dnc_imports, dnc_numbers, outbox

# --- brandnames ---------------------------------------------------------------------------------


def test_brandname_with_domains_and_expiry(store: Store) -> None:
    added = add_brandname(
        store, "SHOPABC", domains=["https://Shop.vn/", "m.shop.vn"], carriers=["viettel"],
        registered_on=date(2024, 2, 29),
    )  # fmt: skip
    assert added.domains == ("shop.vn", "m.shop.vn")
    assert added.carriers == ("Viettel",)
    assert added.expires_on == date(2027, 2, 28)  # three years, and 2027 has no 29 February
    assert [b.name for b in list_brandnames(store)] == ["SHOPABC"]


@pytest.mark.parametrize(
    ("name", "options", "code", "message"),
    [
        ("SHOP", {"domains": ["shop"]}, "brandnames.bad_domain",
         "'shop' không phải tên miền hợp lệ; ví dụ đúng: shop.vn, m.shop.vn."),
        ("SHOP", {"domains": ["shop.vn"], "carriers": ["Viettell"]}, "brandnames.bad_carrier",
         "Không biết nhà mạng 'Viettell'. Dùng: Viettel, MobiFone, VinaPhone, Vietnamobile, "
         "Gmobile, Itel, Reddi."),
        ("VIETC0MBANK", {"domains": ["x.vn"]}, "brandnames.lookalike",
         "Brandname 'VIETC0MBANK' giả dạng Vietcombank; không thể thêm."),
        ("SHOP VIỆT", {"domains": ["x.vn"]}, "text.brandname_bad_chars",
         "Brandname 'SHOP VIỆT' có ký tự không được phép: 'Ệ'. Chỉ dùng chữ cái không dấu "
         "A–Z, a–z, chữ số 0–9, dấu cách, '-', '_' và '.'; ví dụ 'SHOP VIET'."),
    ],
)  # fmt: skip
def test_brandname_errors(
    store: Store, name: str, options: dict[str, list[str]], code: str, message: str
) -> None:
    with pytest.raises(LoaError) as error:
        add_brandname(store, name, **options)  # type: ignore[arg-type]
    assert (error.value.code, error.value.render()) == (code, message)
    assert list_brandnames(store) == []


def test_duplicate_brandname_needs_replace(store: Store) -> None:
    add_brandname(store, "SHOP", domains=["shop.vn"])
    with pytest.raises(LoaError) as error:
        add_brandname(store, "shop", domains=["other.vn"])
    assert error.value.render() == "Brandname 'SHOP' đã có. Thêm --replace để cập nhật."
    add_brandname(store, "shop", domains=["other.vn"], replace=True)
    assert [(b.name, b.domains) for b in list_brandnames(store)] == [("shop", ("other.vn",))]


# --- templates and checks -----------------------------------------------------------------------

ORDER = "{{ greeting }} {{ given_name }}, don hang {{ order.id }} da duoc xac nhan. SHOPABC"


@pytest.fixture
def shop(store: Store) -> Store:
    add_brandname(store, "SHOPABC", domains=["shop.vn"], expires_on=date(2030, 1, 1))
    add_template(store, "order_ok", cls="cskh", text=ORDER, carriers=["Viettel", "MobiFone"])
    add_template(store, "draft", cls="cskh", text="Cam on {{ name }} da mua hang.")
    add_template(store, "otp", cls="cskh", text="Ma OTP cua ban la {{ code }}.", otp=True,
                 approved=True)  # fmt: skip
    return store


def test_templates_are_listed_with_their_approval(shop: Store) -> None:
    assert [(t.name, t.approved, t.approved_carriers, t.otp) for t in list_templates(shop)] == [
        ("draft", False, None, False),
        ("order_ok", True, ("Viettel", "MobiFone"), False),
        ("otp", True, None, True),
    ]


def test_cskh_from_an_approved_template_is_allowed(shop: Store) -> None:
    text = "Chị Lan, don hang DH-1024 da duoc xac nhan. SHOPABC"
    result = check_message(shop, text, "SHOPABC", "cskh")
    assert (result.allowed, result.reasons, result.template) == (True, [], "order_ok")


@pytest.mark.parametrize(
    "text",
    [
        "Chị Lan, don hang DH-1024 da duoc xac nhan. Hen gap lai!",  # changed static part
        "Cam on Lan da mua hang.",  # a template not approved
    ],
)
def test_cskh_without_an_approved_template_is_refused(shop: Store, text: str) -> None:
    result = check_message(shop, text, "SHOPABC", "cskh")
    assert result.to_dict() == {
        "allowed": False,
        "reasons": [
            {"code": "template_not_approved",
             "message": "Tin CSKH phải khớp một mẫu đã được duyệt."},
        ],
        "template": None if "Hen" in text else "draft",
    }  # fmt: skip


def test_otp_wording_only_in_the_otp_template(shop: Store) -> None:
    assert check_message(shop, "Ma OTP cua ban la 884213.", "SHOPABC", "cskh").allowed
    refused = check_message(
        shop, "Chị Lan, don hang OTP da duoc xac nhan. SHOPABC", "SHOPABC", "cskh"
    )
    assert [(r.code, r.params.get("word")) for r in refused.reasons] == [
        ("credential_request", "OTP")
    ]


def test_unregistered_and_expired_brandnames(shop: Store) -> None:
    unknown = check_message(shop, "Ma OTP cua ban la 1.", "SHOPXYZ", "cskh")
    assert [r.render() for r in unknown.reasons] == [
        "Brandname 'SHOPXYZ' chưa được đăng ký cho workspace này."
    ]
    late = check_message(shop, "Ma OTP cua ban la 1.", "SHOPABC", "cskh", today=date(2030, 1, 2))
    assert [r.render("en") for r in late.reasons] == ["Brandname 'SHOPABC' expired on 01/01/2030."]


def test_hijack_message_refused_in_the_store(store: Store) -> None:
    add_brandname(store, "VCB", domains=["vietcombank.com.vn"])
    text = "Tai khoan cua ban se bi khoa, dang nhap tai https://vietcombank-secure.top"
    result = check_message(store, text, "VCB", "public")
    assert not result.allowed
    assert [(r.code, r.params.get("domain")) for r in result.reasons] == [
        ("link_not_verified", "vietcombank-secure.top"),
        ("lookalike_domain", "vietcombank-secure.top"),
        ("risky_tld", "vietcombank-secure.top"),
    ]


# --- DNC ----------------------------------------------------------------------------------------


def test_dnc_import_one_per_line(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "dnc.txt"
    path.write_text("0912345678\n84987654321\n\n0912 345 678\n12345\nabc\n01662345678\n")
    report = import_dnc(store, path, list_date=date(2025, 6, 1))
    assert (report.numbers, report.duplicates) == (3, 1)
    assert [(e.line, e.value, e.reason) for e in report.invalid] == [
        (5, "12345", "too_short"),
        (6, "abc", "not_a_number"),
    ]
    with store.engine.connect() as conn:
        phones = conn.execute(select(dnc_numbers.c.phone).order_by(dnc_numbers.c.phone))
        assert phones.scalars().all() == ["+84362345678", "+84912345678", "+84987654321"]
    status = dnc_status(store)
    assert status is not None and (status.list_date, status.numbers) == (date(2025, 6, 1), 3)


def test_dnc_import_csv_replaces_the_previous_list(store: Store, tmp_path: Path) -> None:
    first = tmp_path / "old.txt"
    first.write_text("0912345678\n0987654321\n")
    import_dnc(store, first, list_date=date(2025, 5, 1))
    path = tmp_path / "dnc.csv"
    path.write_text("stt,so_dien_thoai,ngay\n1,0901234567,2025-06-01\n2,,2025-06-01\n")
    report = import_dnc(store, path, list_date=date(2025, 6, 1))
    assert (report.numbers, report.replaced) == (1, 2)
    assert [(e.line, e.reason) for e in report.invalid] == [(3, "empty")]
    with store.engine.connect() as conn:
        assert conn.execute(select(dnc_numbers.c.phone)).scalars().all() == ["+84901234567"]
        dates = conn.execute(select(dnc_imports.c.list_date).order_by(dnc_imports.c.id))
        assert dates.scalars().all() == [date(2025, 5, 1), date(2025, 6, 1)]


def test_dnc_file_without_numbers_keeps_the_old_list(store: Store, tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("0912345678\n")
    import_dnc(store, good, list_date=date(2025, 5, 1))
    bad = tmp_path / "bad.txt"
    bad.write_text("abc\n")
    with pytest.raises(LoaError) as error:
        import_dnc(store, bad)
    assert (
        error.value.render() == f"Tệp {bad} không có số hợp lệ nào; danh sách cũ được giữ nguyên."
    )
    with store.engine.connect() as conn:
        assert conn.execute(select(dnc_numbers.c.phone)).scalars().all() == ["+84912345678"]


def test_dnc_age_warning(store: Store, tmp_path: Path) -> None:
    warning = dnc_age_warning(store, today=date(2025, 7, 1))
    assert warning is not None and warning.code == "dnc.never_imported"
    path = tmp_path / "dnc.txt"
    path.write_text("0912345678\n")
    import_dnc(store, path, list_date=date(2025, 6, 1))
    assert dnc_age_warning(store, today=date(2025, 7, 1)) is None  # 30 days: the limit
    stale = dnc_age_warning(store, today=date(2025, 7, 2))
    assert stale is not None and stale.render() == (
        "Danh sách DNC ngày 01/06/2025 đã cũ 31 ngày (tối đa 30); hãy nhập danh sách mới: "
        "loa dnc import TỆP."
    )


# --- export -------------------------------------------------------------------------------------


def test_export_for_an_inspector(store: Store, tmp_path: Path) -> None:
    received = datetime(2025, 6, 15, 3, 0, tzinfo=UTC)
    with store.engine.begin() as conn:
        contact_id = conn.execute(
            insert(contacts)
            .values(workspace_id=store.workspace_id, phone="+84912345678")
            .returning(contacts.c.id)
        ).scalar_one()
        conn.execute(
            insert(consents).values(
                workspace_id=store.workspace_id, contact_id=contact_id, channel="sms",
                purpose="marketing", method="form", evidence="web form #77",
                given_at=received - timedelta(days=3),
            )
        )  # fmt: skip
    receive_inbound(store, "0912345678", "TC", received_at=received, now=received)
    receive_inbound(store, "0987654321", "TC", received_at=received + timedelta(days=30))
    path = tmp_path / "inspect.csv"
    report = export_compliance(store, date(2025, 6, 1), date(2025, 6, 30), path)
    assert report.counts == {"consent": 1, "opt_out": 1, "confirmation": 1, "registration": 0}
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["kind"], r["phone"], r["at"], r["ended_at"]) for r in rows] == [
        ("consent", "+84912345678", "2025-06-12T10:00:00+07:00", "2025-06-15T10:00:00+07:00"),
        ("opt_out", "+84912345678", "2025-06-15T10:00:00+07:00", ""),
        ("confirmation", "+84912345678", "2025-06-15T10:00:00+07:00", ""),
    ]
    assert rows[1]["reference"] == rows[2]["reference"]
    assert rows[2]["text"].startswith(
        "Default: Da nhan yeu cau tu choi quang cao cua ban luc 10:00:00 15/06/2025."
    )
    with store.engine.connect() as conn:
        entry = conn.execute(
            select(audit_log.c.action, audit_log.c.details).where(
                audit_log.c.action == "compliance.export"
            )
        ).one()
    assert entry.details == {
        "from": "2025-06-01", "to": "2025-06-30", "consent": 1, "opt_out": 1,
        "confirmation": 1, "registration": 0,
    }  # fmt: skip
    xlsx = tmp_path / "inspect.xlsx"
    export_compliance(store, date(2025, 6, 1), date(2025, 6, 30), xlsx)
    assert pl.read_excel(xlsx).get_column("kind").to_list() == [
        "consent",
        "opt_out",
        "confirmation",
    ]


def test_export_errors(store: Store, tmp_path: Path) -> None:
    with pytest.raises(LoaError) as error:
        export_compliance(store, date(2025, 7, 1), date(2025, 6, 1), tmp_path / "x.csv")
    assert (
        error.value.render("en")
        == "The start 2025-07-01 is after the end 2025-06-01; swap --from and --to."
    )
    with pytest.raises(LoaError) as error:
        export_compliance(store, date(2025, 6, 1), date(2025, 6, 2), tmp_path / "x.pdf")
    assert error.value.code == "export.bad_format"


# --- 5656 ---------------------------------------------------------------------------------------


def test_copy_to_authority_once_for_qc_only(store: Store) -> None:
    now = datetime(2025, 6, 15, 3, 0, tzinfo=UTC)
    common = {"workspace_id": store.workspace_id, "phone": "+84912345678", "sender": "SHOPABC",
              "decision": "send", "status": "planned", "scheduled_at": now}  # fmt: skip
    with store.engine.begin() as conn:
        qc = conn.execute(
            insert(outbox)
            .values(idempotency_key="c1:1", text="[QC] Sale", **{"class": "qc"}, **common)
            .returning(outbox.c.id)
        ).scalar_one()
        care = conn.execute(
            insert(outbox)
            .values(idempotency_key="t:1", text="Don hang", **{"class": "cskh"}, **common)
            .returning(outbox.c.id)
        ).scalar_one()
        copy = copy_to_authority(conn, workspace_id=store.workspace_id, outbox_id=qc)
        assert copy_to_authority(conn, workspace_id=store.workspace_id, outbox_id=qc) == copy
        assert copy_to_authority(conn, workspace_id=store.workspace_id, outbox_id=care) is None
        rows = conn.execute(
            select(
                outbox.c.phone, outbox.c.text, outbox.c.sender, outbox.c["class"], outbox.c.status
            ).where(outbox.c.idempotency_key.like("copy5656:%"))
        ).all()
    assert [tuple(r) for r in rows] == [("5656", "[QC] Sale", "SHOPABC", "authority", "queued")]
