"""Composition over a real audience (SQLite, and PostgreSQL when configured): exact copies,
parts and cost per carrier, errors per recipient, short links written only when asked."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, insert, select

from loa.domain.links import LinkOptions
from loa.i18n import LoaError
from loa.services.compose import preview_compose
from loa.services.segments import create_segment
from loa.store.db import Store
from loa.store.tables import brandnames, contacts, short_links

TEMPLATE = (
    '{{ gender | greeting }} {{ given_name | default("bạn") }} ơi, tặng hạng '
    '{{ tier | default("Thành viên") }} voucher 50.000đ. Xem https://phuclong.vn/uu-dai'
)
FOOTER = "Tu choi QC soan TC gui 9029, goi 19001234"


@pytest.fixture
def book(store: Store) -> Store:
    """A brandname and five contacts on five carriers (one unknown)."""
    ws = store.workspace_id
    base: dict[str, Any] = {"workspace_id": ws, "name": None, "given_name": None,
                            "gender": None, "carrier": None, "attrs": None}  # fmt: skip
    people = [
        {"phone": "+84912345678", "name": "Nguyễn Thị Lan", "given_name": "Lan",
         "gender": "female", "carrier": "Viettel", "attrs": {"tier": "Vàng"}},
        {"phone": "+84901234567", "name": "Trần Minh Quang", "given_name": "Quang",
         "gender": "male", "carrier": "MobiFone", "attrs": {"tier": "Kim cương"}},
        {"phone": "+84921234567", "carrier": "Vietnamobile"},
        {"phone": "+84551234567", "name": "Lê Hà", "gender": "other"},
        {"phone": "+84991234567", "name": "Vũ An", "gender": "male", "carrier": "Gmobile",
         "attrs": {"tier": "Bạc"}},
    ]  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(
            insert(brandnames).values(
                workspace_id=ws, name="PHUCLONG", domains=["phuclong.vn"],
                optout_keyword="TC", optout_shortcode="9029", hotline="19001234",
            )
        )  # fmt: skip
        conn.execute(insert(contacts), [{**base, **person} for person in people])
    return store


def preview(store: Store, **kwargs: Any) -> Any:
    with store.engine.begin() as conn:
        return preview_compose(conn, workspace_id=store.workspace_id, **kwargs)


def test_preview_over_every_contact(book: Store) -> None:
    report = preview(book, text=TEMPLATE, cls="qc", sender="PHUCLONG")
    assert (report.audience, report.failed, report.links) == (5, 0, 1)
    accented = report.with_accents
    assert dict(accented.encodings) == {"UCS-2": 5}
    assert dict(accented.parts) == {2: 5}
    assert accented.shortest is not None and accented.longest is not None
    assert accented.shortest.contact == "#5 (+84991234567)"
    assert accented.shortest.text == (
        "[QC] Anh An ơi, tặng hạng Bạc voucher 50.000đ. Xem https://loa.vn/xxxxxxx. " + FOOTER
    )
    assert accented.shortest.parts == 2
    assert accented.longest.text == (
        "[QC] Quý khách bạn ơi, tặng hạng Thành viên voucher 50.000đ. "
        "Xem https://loa.vn/xxxxxxx. " + FOOTER
    )
    assert accented.longest.contact == "#3 (+84921234567)"
    # Viettel 2 × 800, MobiFone 2 × 750; Vietnamobile and Gmobile take no UCS-2, so they refuse
    # the accented copy; the unknown carrier is priced at the dearest QC price (800).
    lines = {
        key: (line.recipients, line.parts, line.cost_vnd, line.refused)
        for key, line in accented.carriers.items()
    }
    assert lines == {
        "viettel": (1, 2, 1600, 0),
        "mobifone": (1, 2, 1500, 0),
        "vietnamobile": (1, 0, 0, 1),
        "unknown": (1, 2, 1600, 0),
        "gmobile": (1, 0, 0, 1),
    }
    assert accented.carriers["gmobile"].refusal == (
        "Gmobile không nhận tin brandname có dấu (UCS-2): gửi không dấu (--unaccent)."
    )
    assert (accented.total_cost_vnd, accented.refused) == (4700, 2)

    bare = report.without_accents
    assert dict(bare.encodings) == {"GSM-7": 5}
    assert dict(bare.parts) == {1: 5}
    assert bare.longest is not None
    assert bare.longest.text == (
        "[QC] Quy khach ban oi, tang hang Thanh vien voucher 50.000d. "
        "Xem https://loa.vn/xxxxxxx. " + FOOTER
    )
    bare_lines = {key: (line.parts, line.cost_vnd) for key, line in bare.carriers.items()}
    assert bare_lines == {
        "viettel": (1, 800),
        "mobifone": (1, 750),
        "vietnamobile": (1, 700),
        "unknown": (1, 800),
        "gmobile": (1, 700),
    }
    assert bare.total_cost_vnd == 3750
    with book.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(short_links)).scalar_one() == 0


def test_missing_variables_are_reported_per_recipient(book: Store) -> None:
    report = preview(book, text="{{ given_name }} ơi, hạng {{ tier }}", cls="cskh")
    assert (report.audience, report.failed) == (5, 2)
    assert [(e.contact, e.variable) for e in report.errors] == [
        ("#3 (+84921234567)", "given_name"),
        ("#4 (+84551234567)", "tier"),
    ]
    assert report.errors[1].message == (
        "Thiếu giá trị của biến 'tier' cho người nhận #4 (+84551234567): bổ sung dữ liệu, hoặc "
        'khai báo giá trị mặc định, ví dụ {{ tier | default("...") }}.'
    )
    # Hà has no given_name column: the last word of her name stands in for it.
    assert report.with_accents.shortest is not None
    assert report.with_accents.shortest.text == "An ơi, hạng Bạc"


def test_segment_and_materialized_links(book: Store) -> None:
    with book.engine.begin() as conn:
        create_segment(
            conn,
            workspace_id=book.workspace_id,
            name="co-hang",
            rule={"attr": "attrs.tier", "op": "exists"},
        )
    options = LinkOptions(short_domain="pl.vn", campaign="tet-2026")
    report = preview(
        book, text=TEMPLATE, segment="co-hang", cls="cskh", links=options, materialize=True,
        campaign_id=42,
    )  # fmt: skip
    assert (report.audience, report.links_issued) == (3, 3)
    with book.engine.connect() as conn:
        rows = conn.execute(
            select(short_links.c.code, short_links.c.destination, short_links.c.campaign_id)
        ).all()
    assert len(rows) == 3
    assert {destination for _, destination, _ in rows} == {
        "https://phuclong.vn/uu-dai?utm_source=loa&utm_medium=sms&utm_campaign=tet-2026"
    }
    assert {campaign for _, _, campaign in rows} == {42}
    codes = {code for code, _, _ in rows}
    assert len(codes) == 3 and {len(code) for code in codes} == {7}
    shown = report.with_accents.shortest
    assert shown is not None
    assert any(shown.text.endswith(f"Xem https://pl.vn/{code}") for code in codes)


def test_qc_needs_a_registered_sender(book: Store) -> None:
    with pytest.raises(LoaError) as caught:
        preview(book, text="Sale", cls="qc", sender="HIGHLANDS")
    assert caught.value.render("en") == (
        "There is no brandname 'HIGHLANDS' in this workspace: add it first (loa brandnames add). "
        "Existing brandnames: PHUCLONG."
    )
    with pytest.raises(LoaError) as caught:
        preview(book, text="Sale", cls="qc")
    assert caught.value.code == "compose.qc_needs_sender"


def test_pages_give_the_same_report(book: Store) -> None:
    whole = preview(book, text=TEMPLATE, cls="qc", sender="PHUCLONG")
    paged = preview(book, text=TEMPLATE, cls="qc", sender="PHUCLONG", chunk_rows=2)
    assert paged.to_dict() == whole.to_dict()
