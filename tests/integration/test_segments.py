"""Segments on a real store (SQLite, and PostgreSQL when configured): exact members per rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, insert, select

from loa.i18n import LoaError
from loa.services.segments import (
    BUILTINS,
    PreviewRow,
    count_segment,
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    preview_segment,
    segment_members,
)
from loa.services.stats import refresh_stats
from loa.store.db import Store
from loa.store.tables import (
    channel_states,
    consents,
    contact_stats,
    contact_tags,
    contacts,
    events,
    workspaces,
)

NOW = datetime(2025, 6, 15, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam


def add_contact(conn: Connection, workspace_id: int, phone: str, **values: Any) -> int:
    birthday = values.get("birthday")
    if birthday is not None:
        values["birth_mmdd"] = birthday.month * 100 + birthday.day
    values.setdefault("created_at", NOW - timedelta(days=400))
    values.setdefault("updated_at", values["created_at"])
    result = conn.execute(insert(contacts).values(workspace_id=workspace_id, phone=phone, **values))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def add_event(
    conn: Connection,
    workspace_id: int,
    contact_id: int,
    days_ago: float,
    type: str = "purchase",
    value_vnd: int | None = None,
    category: str | None = None,
) -> None:
    conn.execute(
        insert(events).values(
            workspace_id=workspace_id,
            contact_id=contact_id,
            type=type,
            occurred_at=NOW - timedelta(days=days_ago),
            value_vnd=value_vnd,
            category=category,
        )
    )


def members(store: Store, rule: Any, now: datetime = NOW) -> list[str]:
    with store.engine.connect() as conn:
        where = segment_members(conn, workspace_id=store.workspace_id, segment=rule, now=now)
        found = conn.execute(select(contacts.c.phone).where(where).order_by(contacts.c.phone))
        return list(found.scalars())


def count(store: Store, rule: Any, now: datetime = NOW) -> int:
    with store.engine.connect() as conn:
        return count_segment(conn, workspace_id=store.workspace_id, segment=rule, now=now)


def other_workspace(conn: Connection) -> int:
    result = conn.execute(insert(workspaces).values(slug="other", name="Other"))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


@pytest.fixture
def shop(store: Store) -> Store:
    """Seven customers with a purchase history, and a look-alike in another workspace."""
    ws = store.workspace_id
    with store.engine.begin() as conn:
        a = add_contact(conn, ws, "+84900000001", name="An", province="Hà Nội")
        b = add_contact(conn, ws, "+84900000002", name="Bình", province="Hải Phòng")
        c = add_contact(conn, ws, "+84900000003", name="Chi", province="Hà Nội")
        d = add_contact(conn, ws, "+84900000004", name="Dũng")
        e = add_contact(conn, ws, "+84900000005", name="Em")  # never bought anything
        f = add_contact(conn, ws, "+84900000006", name="Phúc")
        g = add_contact(conn, ws, "+84900000007", name="Giang")
        # A: twice in the last 90 days, 6M in all
        add_event(conn, ws, a, 10, value_vnd=2_000_000)
        add_event(conn, ws, a, 80, value_vnd=4_000_000)
        # B: three times in 90 days, one of them an order_completed
        add_event(conn, ws, b, 1, value_vnd=100_000)
        add_event(conn, ws, b, 2, "order_completed", value_vnd=100_000)
        add_event(conn, ws, b, 3, value_vnd=None)
        # C: twice, but the first one 100 days ago
        add_event(conn, ws, c, 5, value_vnd=5_000_000)
        add_event(conn, ws, c, 100, value_vnd=1)
        # D: one purchase 120 days ago (at risk)
        add_event(conn, ws, d, 120, value_vnd=300_000)
        # F: bought 200 days ago only (inactive); signed up
        add_event(conn, ws, f, 200, value_vnd=700_000)
        add_event(conn, ws, f, 400, "account_created")
        # G: signed up, never bought; many page views
        add_event(conn, ws, g, 30, "account_created")
        add_event(conn, ws, g, 1, "page_view")
        add_event(conn, ws, g, 2, "page_view")
        # An event in the future is not counted as of NOW
        add_event(conn, ws, e, -3, value_vnd=9_000_000)
        other = other_workspace(conn)
        twin = add_contact(conn, other, "+84900000099", province="Hà Nội")
        add_event(conn, other, twin, 1, value_vnd=90_000_000)
        add_event(conn, other, twin, 2, value_vnd=90_000_000)
    return store


def test_bought_twice_in_90_days_is_exactly_these_two(shop: Store) -> None:
    rule = {"event": "purchase", "count": {"gte": 2}, "within_days": 90}
    assert members(shop, rule) == ["+84900000001", "+84900000002"]


def test_no_purchase_in_180_days_includes_contacts_without_any_event(shop: Store) -> None:
    rule = {"event": "purchase", "count": {"eq": 0}, "within_days": 180}
    assert members(shop, rule) == ["+84900000005", "+84900000006", "+84900000007"]


def test_fewer_than_two_purchases_counts_zero_as_fewer(shop: Store) -> None:
    rule = {"event": "purchase", "count": {"lt": 2}}
    assert members(shop, rule) == [
        "+84900000004",
        "+84900000005",
        "+84900000006",
        "+84900000007",
    ]


def test_spend_of_five_million_or_more(shop: Store) -> None:
    assert members(shop, {"event": "purchase", "sum": {"gte": 5_000_000}}) == [
        "+84900000001",
        "+84900000003",
    ]
    recent = {"event": "purchase", "sum": {"gte": 5_000_000}, "within_days": 30}
    assert members(shop, recent) == ["+84900000003"]


def test_spend_below_a_bound_includes_non_buyers(shop: Store) -> None:
    rule = {"event": "purchase", "sum": {"lt": 500_000}}
    assert members(shop, rule) == ["+84900000002", "+84900000004", "+84900000005", "+84900000007"]


def test_count_and_sum_together(shop: Store) -> None:
    rule = {"event": "purchase", "count": {"gte": 2}, "sum": {"gte": 5_000_000}}
    assert members(shop, rule) == ["+84900000001", "+84900000003"]


def test_signed_up_but_never_bought(shop: Store) -> None:
    rule = {
        "all": [
            {"event": "account_created", "exists": True},
            {"event": "purchase", "count": {"eq": 0}},
        ]
    }
    assert members(shop, rule) == ["+84900000007"]


def test_events_by_category(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        a = add_contact(conn, ws, "+84900000001")
        b = add_contact(conn, ws, "+84900000002")
        add_event(conn, ws, a, 3, category="Mỹ phẩm")
        add_event(conn, ws, b, 3, category="Sữa")
    rule = {"event": "purchase", "exists": True, "category": ["Mỹ phẩm", "Nước hoa"]}
    assert members(store, rule) == ["+84900000001"]
    assert members(store, {"not": rule}) == ["+84900000002"]


def test_not_of_an_event_rule_is_its_complement(shop: Store) -> None:
    rule = {"event": "purchase", "count": {"gte": 2}, "within_days": 90}
    assert members(shop, {"not": rule}) == [
        "+84900000003",
        "+84900000004",
        "+84900000005",
        "+84900000006",
        "+84900000007",
    ]
    assert members(shop, {"any": [rule, {"not": rule}]}) == members(shop, {"all": []})


def test_builtin_segments_on_purchase_history(shop: Store) -> None:
    with shop.engine.begin() as conn:
        assert refresh_stats(conn, workspace_id=shop.workspace_id, now=NOW) == 5
    # E's only order lies after NOW, so E has not bought yet
    assert members(shop, "potential") == ["+84900000005", "+84900000007"]
    assert members(shop, "past_buyers") == [
        "+84900000001",
        "+84900000002",
        "+84900000003",
        "+84900000004",
        "+84900000006",
    ]
    assert members(shop, "at_risk") == ["+84900000004"]
    assert members(shop, "inactive") == ["+84900000006"]
    assert count(shop, "all") == 7
    # orders: A 2, B 3, C 2, D 1, F 1 -> tiles over (orders, id): D1 F2 A3 C4 B5;
    # ties take the lowest: D,F -> 1; A,C -> 3; B -> 5
    assert members(shop, "loyal") == ["+84900000002"]
    # spend: B 200k, D 300k, F 700k, C 5.000.001, A 6M -> A is the top spender
    assert members(shop, "vip") == ["+84900000001"]


def test_new_contacts_are_those_created_in_30_days(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        add_contact(conn, ws, "+84900000001", created_at=NOW - timedelta(days=29))
        add_contact(conn, ws, "+84900000002", created_at=NOW - timedelta(days=31))
    assert members(store, "new") == ["+84900000001"]
    assert members(store, {"created_within_days": 60}) == ["+84900000001", "+84900000002"]


def test_wholesale_and_retail_from_the_custom_attribute(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        add_contact(conn, ws, "+84900000001", attrs={"customer_type": "wholesale"})
        add_contact(conn, ws, "+84900000002", attrs={"customer_type": "retail"})
        add_contact(conn, ws, "+84900000003", attrs={"other": "x"})
        add_contact(conn, ws, "+84900000004")
    assert members(store, "wholesale") == ["+84900000001"]
    assert members(store, "retail") == ["+84900000002", "+84900000003", "+84900000004"]


def test_column_attributes(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        add_contact(conn, ws, "+84900000001", province="Hà Nội", email="an@shop.vn", dnc=True)
        add_contact(conn, ws, "+84900000002", province="Hải Phòng", email="")
        add_contact(conn, ws, "+84900000003", province="hà nội")
        add_contact(conn, ws, "+84900000004", birthday=date(1990, 12, 25))
    assert members(store, {"attr": "province", "op": "eq", "value": "Hà Nội"}) == ["+84900000001"]
    assert members(store, {"attr": "province", "op": "ne", "value": "Hà Nội"}) == [
        "+84900000002",
        "+84900000003",
        "+84900000004",
    ]
    assert members(store, {"attr": "province", "op": "in", "value": ["Hà Nội", "Hải Phòng"]}) == [
        "+84900000001",
        "+84900000002",
    ]
    assert members(store, {"attr": "province", "op": "not_in", "value": ["Hà Nội"]}) == [
        "+84900000002",
        "+84900000003",
        "+84900000004",
    ]
    assert members(store, {"attr": "province", "op": "contains", "value": "Hải"}) == [
        "+84900000002"
    ]
    assert members(store, {"attr": "province", "op": "starts_with", "value": "H"}) == [
        "+84900000001",
        "+84900000002",
    ]
    assert members(store, {"attr": "province", "op": "contains", "value": "%"}) == []
    assert members(store, {"attr": "email", "op": "exists"}) == ["+84900000001"]
    assert members(store, {"attr": "email", "op": "missing"}) == [
        "+84900000002",
        "+84900000003",
        "+84900000004",
    ]
    assert members(store, {"attr": "dnc", "op": "eq", "value": True}) == ["+84900000001"]
    assert members(store, {"attr": "dnc", "op": "ne", "value": True}) == [
        "+84900000002",
        "+84900000003",
        "+84900000004",
    ]
    assert members(store, {"attr": "phone", "op": "starts_with", "value": "+8490000000"}) == [
        "+84900000001",
        "+84900000002",
        "+84900000003",
        "+84900000004",
    ]
    assert members(store, {"attr": "birthday", "op": "lt", "value": "1991-01-01"}) == [
        "+84900000004"
    ]
    assert members(store, {"attr": "birthday", "op": "missing"}) == [
        "+84900000001",
        "+84900000002",
        "+84900000003",
    ]


def test_created_at_compares_with_dates_in_vietnam_time(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        # 2025-01-31 23:30 in Vietnam is still 31 January there
        add_contact(conn, ws, "+84900000001", created_at=datetime(2025, 1, 31, 16, 30, tzinfo=UTC))
        # 2025-02-01 00:30 in Vietnam
        add_contact(conn, ws, "+84900000002", created_at=datetime(2025, 1, 31, 17, 30, tzinfo=UTC))
    rule = {"attr": "created_at", "op": "gte", "value": "2025-02-01"}
    assert members(store, rule) == ["+84900000002"]
    rule = {"attr": "created_at", "op": "lt", "value": "2025-02-01T00:00:00+07:00"}
    assert members(store, rule) == ["+84900000001"]


def test_custom_attributes_as_text_and_numbers(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        add_contact(conn, ws, "+84900000001", attrs={"points": 120, "member": True})
        add_contact(conn, ws, "+84900000002", attrs={"points": "80", "member": False})
        add_contact(conn, ws, "+84900000003", attrs={"points": "nhiều", "city": "Huế"})
        add_contact(conn, ws, "+84900000004", attrs={"points": 99.5})
        add_contact(conn, ws, "+84900000005")
    assert members(store, {"attr": "attrs.points", "op": "gt", "value": 90}) == [
        "+84900000001",
        "+84900000004",
    ]
    assert members(store, {"attr": "attrs.points", "op": "lte", "value": 80}) == ["+84900000002"]
    assert members(store, {"attr": "attrs.points", "op": "eq", "value": "120"}) == ["+84900000001"]
    assert members(store, {"attr": "attrs.points", "op": "eq", "value": 80}) == ["+84900000002"]
    assert members(store, {"attr": "attrs.member", "op": "eq", "value": True}) == ["+84900000001"]
    assert members(store, {"attr": "attrs.city", "op": "in", "value": ["Huế", "Vinh"]}) == [
        "+84900000003"
    ]
    assert members(store, {"attr": "attrs.points", "op": "missing"}) == ["+84900000005"]
    assert members(store, {"attr": "attrs.city", "op": "starts_with", "value": "Hu"}) == [
        "+84900000003"
    ]


def test_tags_channels_and_consent(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        a = add_contact(conn, ws, "+84900000001")
        b = add_contact(conn, ws, "+84900000002")
        c = add_contact(conn, ws, "+84900000003")
        conn.execute(
            insert(contact_tags),
            [
                {"contact_id": a, "tag": "vip", "workspace_id": ws},
                {"contact_id": b, "tag": "gold", "workspace_id": ws},
            ],
        )
        conn.execute(
            insert(channel_states),
            [
                {"contact_id": a, "channel": "sms", "workspace_id": ws, "status": "opted_out",
                 "changed_at": NOW},
                {"contact_id": b, "channel": "sms", "workspace_id": ws, "status": "subscribed",
                 "changed_at": NOW},
                {"contact_id": c, "channel": "email", "workspace_id": ws, "status": "opted_out",
                 "changed_at": NOW},
            ],
        )  # fmt: skip
        base = {"workspace_id": ws, "channel": "sms", "purpose": "marketing", "method": "form",
                "withdrawn_at": None}  # fmt: skip
        conn.execute(
            insert(consents),
            [
                {**base, "contact_id": a, "given_at": NOW - timedelta(days=10)},
                {**base, "contact_id": b, "given_at": NOW - timedelta(days=10),
                 "withdrawn_at": NOW - timedelta(days=1)},
                {**base, "contact_id": c, "given_at": NOW + timedelta(days=1)},
            ],
        )  # fmt: skip
    assert members(store, {"tag": "vip"}) == ["+84900000001"]
    assert members(store, {"tag": ["vip", "gold"]}) == ["+84900000001", "+84900000002"]
    assert members(store, {"not": {"tag": "vip"}}) == ["+84900000002", "+84900000003"]
    assert members(store, {"channel": "sms", "state": "subscribed"}) == [
        "+84900000002",
        "+84900000003",
    ]
    assert members(store, {"channel": "sms", "state": "opted_out"}) == ["+84900000001"]
    assert members(store, {"channel": "email", "state": "subscribed"}) == [
        "+84900000001",
        "+84900000002",
    ]
    consent = {"consent": {"channel": "sms", "purpose": "marketing"}}
    assert members(store, consent) == ["+84900000001"]
    # before B withdrew, B had consented too
    assert members(store, consent, now=NOW - timedelta(days=2)) == [
        "+84900000001",
        "+84900000002",
    ]


def _born(store: Store, days: dict[str, date]) -> None:
    with store.engine.begin() as conn:
        for phone, day in days.items():
            add_contact(conn, store.workspace_id, phone, birthday=day)
        add_contact(conn, store.workspace_id, "+84900000099")  # no birthday


def test_birthday_window_across_new_year(store: Store) -> None:
    _born(
        store,
        {
            "+84900000001": date(1990, 12, 27),
            "+84900000002": date(1985, 12, 28),
            "+84900000003": date(2000, 12, 31),
            "+84900000004": date(1970, 1, 1),
            "+84900000005": date(1995, 1, 3),
            "+84900000006": date(1995, 1, 4),
        },
    )
    # 27 Dec 20:00 UTC is already 28 Dec in Vietnam: the window is 28 Dec .. 3 Jan
    now = datetime(2025, 12, 27, 20, 0, tzinfo=UTC)
    assert members(store, {"birthday_within_days": 7}, now=now) == [
        "+84900000002",
        "+84900000003",
        "+84900000004",
        "+84900000005",
    ]
    assert members(store, {"not": {"birthday_within_days": 7}}, now=now) == [
        "+84900000001",
        "+84900000006",
        "+84900000099",
    ]


def test_birthday_on_29_february(store: Store) -> None:
    _born(store, {"+84900000001": date(2000, 2, 29), "+84900000002": date(1990, 3, 1)})
    rule = {"birthday_within_days": 3}
    # 2025 is a common year: 29 Feb is celebrated on 28 Feb
    assert members(store, rule, now=datetime(2025, 2, 26, 3, tzinfo=UTC)) == ["+84900000001"]
    # 2028 is a leap year: 26..28 Feb does not reach the 29th
    assert members(store, rule, now=datetime(2028, 2, 26, 3, tzinfo=UTC)) == []
    assert members(store, rule, now=datetime(2028, 2, 28, 3, tzinfo=UTC)) == [
        "+84900000001",
        "+84900000002",
    ]
    assert members(store, {"birthday_within_days": 1}, now=datetime(2025, 3, 1, 3, tzinfo=UTC)) == [
        "+84900000002"
    ]


def test_rfm_scores_and_rules(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        ids = [add_contact(conn, ws, f"+8490000000{i}") for i in range(1, 8)]
        # orders: 1,1,1,1,2,3,5 ; spend grows with the contact; recency: later contacts older
        for n, (cid, orders) in enumerate(zip(ids, [1, 1, 1, 1, 2, 3, 5], strict=True)):
            for k in range(orders):
                add_event(conn, ws, cid, days_ago=10 * n + k, value_vnd=1_000_000 * (n + 1))
        buyers = refresh_stats(conn, workspace_id=ws, now=NOW)
    assert buyers == 7
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                contacts.c.phone,
                contact_stats.c.orders_count,
                contact_stats.c.total_spend_vnd,
                contact_stats.c.r_score,
                contact_stats.c.f_score,
                contact_stats.c.m_score,
            )
            .join(contact_stats, contact_stats.c.contact_id == contacts.c.id)
            .order_by(contacts.c.phone)
        ).all()
    # NTILE(5) over 7 buyers: buckets of 2,2,1,1,1; the four one-order buyers tie at f=1
    assert [tuple(r) for r in rows] == [
        ("+84900000001", 1, 1_000_000, 5, 1, 1),
        ("+84900000002", 1, 2_000_000, 4, 1, 1),
        ("+84900000003", 1, 3_000_000, 3, 1, 2),
        ("+84900000004", 1, 4_000_000, 2, 1, 2),
        ("+84900000005", 2, 10_000_000, 2, 3, 3),
        ("+84900000006", 3, 18_000_000, 1, 4, 4),
        ("+84900000007", 5, 35_000_000, 1, 5, 5),
    ]
    assert members(store, {"rfm": {"f": {"gte": 4}}}) == ["+84900000006", "+84900000007"]
    assert members(store, {"rfm": {"r": {"gte": 4}, "m": {"lte": 1}}}) == [
        "+84900000001",
        "+84900000002",
    ]


def test_stats_first_and_last_order_and_workspace(shop: Store) -> None:
    with shop.engine.begin() as conn:
        refresh_stats(conn, workspace_id=shop.workspace_id, now=NOW)
        row = conn.execute(
            select(contact_stats)
            .join(contacts, contacts.c.id == contact_stats.c.contact_id)
            .where(contacts.c.phone == "+84900000002")
        ).one()
        others = conn.execute(
            select(contact_stats.c.contact_id).where(
                contact_stats.c.workspace_id != shop.workspace_id
            )
        ).all()
    assert row.orders_count == 3
    assert row.total_spend_vnd == 200_000
    assert row.first_order_at == NOW - timedelta(days=3)
    assert row.last_order_at == NOW - timedelta(days=1)
    assert others == []


def test_create_list_get_delete(shop: Store) -> None:
    ws = shop.workspace_id
    rule = {"attr": "province", "op": "eq", "value": "Hà Nội"}
    with shop.engine.begin() as conn:
        created = create_segment(
            conn, workspace_id=ws, name="Hà Nội", rule=rule, description="Khách ở Hà Nội"
        )
    assert created.name == "Hà Nội"
    with shop.engine.connect() as conn:
        found = list_segments(conn, workspace_id=ws, counts=True, now=NOW)
        got = get_segment(conn, workspace_id=ws, name="Hà Nội")
    assert [s.name for s in found] == [*BUILTINS, "Hà Nội"]
    assert {s.name: s.count for s in found}["Hà Nội"] == 2
    assert {s.name: s.count for s in found}["potential"] == 2
    assert got.rule == rule and got.description == "Khách ở Hà Nội" and not got.builtin
    assert found[0].title() == "Tất cả khách hàng"
    assert found[0].title("en") == "All contacts"
    assert count(shop, "Hà Nội") == 2
    with shop.engine.begin() as conn:
        delete_segment(conn, workspace_id=ws, name="Hà Nội")
    with shop.engine.connect() as conn, pytest.raises(LoaError) as caught:
        get_segment(conn, workspace_id=ws, name="Hà Nội")
    assert caught.value.render() == (
        "Không có phân khúc 'Hà Nội'. Các phân khúc hiện có: all, new, potential, past_buyers, "
        "loyal, vip, at_risk, inactive, wholesale, retail."
    )


def test_segment_names_are_unique_per_workspace_and_builtins_reserved(store: Store) -> None:
    rule = {"tag": "vip"}
    with store.engine.begin() as conn:
        create_segment(conn, workspace_id=store.workspace_id, name="vip-hn", rule=rule)
        with pytest.raises(LoaError) as taken:
            create_segment(conn, workspace_id=store.workspace_id, name="vip-hn", rule=rule)
        with pytest.raises(LoaError) as reserved:
            create_segment(conn, workspace_id=store.workspace_id, name="VIP", rule=rule)
        with pytest.raises(LoaError) as builtin:
            delete_segment(conn, workspace_id=store.workspace_id, name="vip")
        # the same name in another workspace is fine
        create_segment(conn, workspace_id=other_workspace(conn), name="vip-hn", rule=rule)
    assert taken.value.render("en") == (
        "A segment named 'vip-hn' already exists; choose another name or delete the old one "
        "(loa segments delete)."
    )
    assert reserved.value.code == "segments.name_reserved"
    assert builtin.value.render() == "'vip' là phân khúc có sẵn, không xoá được."


def test_an_invalid_rule_is_refused_when_saved(store: Store) -> None:
    with store.engine.begin() as conn, pytest.raises(LoaError) as caught:
        create_segment(
            conn,
            workspace_id=store.workspace_id,
            name="x",
            rule={"all": [{"tag": "a"}, {"event": "purchase", "count": {"gte": -1}}]},
        )
    assert caught.value.render() == (
        "rule.all[1].count.gte phải là số nguyên từ 0 đến 1000000000; không phải -1."
    )


def test_preview_shows_full_numbers_and_purchase_figures(shop: Store) -> None:
    with shop.engine.begin() as conn:
        refresh_stats(conn, workspace_id=shop.workspace_id, now=NOW)
    with shop.engine.connect() as conn:
        rows = preview_segment(
            conn,
            workspace_id=shop.workspace_id,
            segment={"attr": "province", "op": "eq", "value": "Hà Nội"},
            now=NOW,
        )
        empty = preview_segment(
            conn, workspace_id=shop.workspace_id, segment="potential", limit=1, now=NOW
        )
    assert rows == [
        PreviewRow("+84900000001", "An", "Hà Nội", None, 2, 6_000_000),
        PreviewRow("+84900000003", "Chi", "Hà Nội", None, 2, 5_000_001),
    ]
    assert empty == [PreviewRow("+84900000005", "Em", None, None, 0, 0)]


def test_counts_stay_inside_the_workspace(shop: Store) -> None:
    # The other workspace's contact bought twice yesterday and lives in Hà Nội.
    assert count(shop, {"attr": "province", "op": "eq", "value": "Hà Nội"}) == 2
    assert count(shop, {"event": "purchase", "count": {"gte": 2}, "within_days": 3}) == 1
