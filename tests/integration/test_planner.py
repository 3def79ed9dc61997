"""Planning campaigns on a real store: exact decisions, texts, parts, costs and times for a
small audience, and a re-plan that changes nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sqlalchemy import Connection, func, insert, select

from loa.config import Settings
from loa.i18n import LoaError
from loa.services.campaigns.planner import plan_campaign
from loa.services.campaigns.service import (
    CampaignSpec,
    Schedule,
    change_state,
    create_campaign,
    equal_variants,
)
from loa.services.compliance.brandnames import add_brandname
from loa.store.db import Store
from loa.store.tables import (
    consents,
    contact_stats,
    contacts,
    dnc_imports,
    dnc_numbers,
    opt_outs,
    outbox,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=VN)  # Monday 14:00 in Vietnam
TEXT = "Chao {{ given_name }}, giam 20% don hang hom nay tai shop.vn"
FOOTER = ". Tu choi QC soan TC gui 6058, goi 19001234"


def add(conn: Connection, ws: int, phone: str, *, consent: bool = True, **values: Any) -> int:
    cid = conn.execute(
        insert(contacts).values(workspace_id=ws, phone=phone, **values).returning(contacts.c.id)
    ).scalar_one()
    if consent:
        conn.execute(
            insert(consents).values(
                workspace_id=ws,
                contact_id=cid,
                channel="sms",
                purpose="marketing",
                method="web_form",
                evidence="form #1",
                given_at=NOW - timedelta(days=30),
            )
        )
    return int(cid)


@pytest.fixture
def book(store: Store) -> Store:
    ws = store.workspace_id
    add_brandname(
        store,
        "SHOPABC",
        domains=["shop.vn"],
        registered_on=date(2025, 1, 1),
        optout_keyword="TC",
        optout_shortcode="6058",
        hotline="19001234",
    )
    with store.engine.begin() as conn:
        add(conn, ws, "+84912345671", name="Nguyễn Văn An", given_name="An", carrier="VinaPhone")
        add(conn, ws, "+84982345672", name="Trần Thị Bảo", given_name="Bảo", carrier="Viettel")
        add(conn, ws, "+84902345673", name="Lê Chí", given_name="Chí", carrier="MobiFone")
        add(
            conn,
            ws,
            "+84972345674",
            name="Phạm Dũng",
            given_name="Dũng",
            carrier="Viettel",
            consent=False,
        )
        add(conn, ws, "+84932345675", name="Hoàng Em", given_name="Em", carrier="MobiFone")
        add(conn, ws, "+84962345676", name="Vũ Giang", given_name="Giang", carrier="Viettel")
        conn.execute(
            insert(opt_outs).values(
                workspace_id=ws,
                phone="+84932345675",
                scope="all",
                received_at=NOW - timedelta(days=1),
                effective_at=NOW - timedelta(days=1),
                source="sms",
                text="TC",
            )
        )
        imported = conn.execute(
            insert(dnc_imports)
            .values(workspace_id=ws, source="dnc.txt", list_date=date(2026, 11, 20), numbers=1)
            .returning(dnc_imports.c.id)
        ).scalar_one()
        conn.execute(
            insert(dnc_numbers).values(workspace_id=ws, phone="+84962345676", import_id=imported)
        )
    return store


def create(store: Store, **overrides: Any) -> int:
    values: dict[str, Any] = {
        "name": "Sale",
        "cls": "qc",
        "sender": "SHOPABC",
        "include": ("all",),
        "variants": equal_variants([TEXT]),
        "seed": 7,
    }
    values.update(overrides)
    with store.engine.begin() as conn:
        return create_campaign(
            conn, workspace_id=store.workspace_id, spec=CampaignSpec(**values), actor="t", now=NOW
        )


def plan_rows(store: Store, cid: int) -> dict[str, dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.campaign_id == cid)).all()
    return {r.phone: dict(r._mapping) for r in rows}


def test_a_plan_decides_every_recipient_with_the_rule_that_decided_it(book: Store) -> None:
    cid = create(book)
    report = plan_campaign(book, cid, actor="t", now=NOW)
    rows = plan_rows(book, cid)
    decided = {p: (r["decision"], r["reasons"], r["status"]) for p, r in rows.items()}
    assert decided == {
        "+84912345671": ("send", [], "planned"),
        "+84982345672": ("send", [], "planned"),
        "+84902345673": ("send", [], "planned"),
        "+84972345674": ("suppress", ["no_consent"], "suppressed"),
        "+84932345675": ("suppress", ["opted_out"], "suppressed"),
        "+84962345676": ("suppress", ["dnc"], "suppressed"),
    }
    an = rows["+84912345671"]
    assert an["text"] == "[QC] Chao An, giam 20% don hang hom nay tai shop.vn" + FOOTER
    assert (an["encoding"], an["parts"], an["carrier"], an["price_vnd"]) == (
        "GSM-7",
        1,
        "VinaPhone",
        750,
    )
    # "Bảo" and "Chí" carry letters GSM-7 lacks: UCS-2, 2 parts; without accents, 1.
    bao, chi = rows["+84982345672"], rows["+84902345673"]
    assert (bao["encoding"], bao["parts"], bao["price_vnd"]) == ("UCS-2", 2, 1600)
    assert (chi["encoding"], chi["parts"], chi["price_vnd"]) == ("UCS-2", 2, 1500)
    assert report.by_decision == {"send": 3, "suppress": 3}
    assert report.by_reason == {"dnc": 1, "no_consent": 1, "opted_out": 1}
    assert report.by_carrier == {
        "MobiFone": {"messages": 1, "parts": 2, "cost_vnd": 1500},
        "VinaPhone": {"messages": 1, "parts": 1, "cost_vnd": 750},
        "Viettel": {"messages": 1, "parts": 2, "cost_vnd": 1600},
    }
    assert (report.parts_total, report.cost_vnd) == (5, 3850)
    assert (report.parts_unaccented, report.cost_unaccented_vnd) == (3, 2300)
    assert report.shortest == {"text": an["text"], "parts": 1}


def test_planning_again_writes_the_same_rows_and_never_a_second(book: Store) -> None:
    cid = create(book, holdout_pct=20)
    first = plan_campaign(book, cid, actor="t", now=NOW)
    before = {p: (r["decision"], r["variant"], r["text"]) for p, r in plan_rows(book, cid).items()}
    second = plan_campaign(book, cid, actor="t", now=NOW)
    after = {p: (r["decision"], r["variant"], r["text"]) for p, r in plan_rows(book, cid).items()}
    assert before == after
    assert first.by_decision == second.by_decision
    with book.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 6


def test_a_qc_plan_at_21_30_defers_what_does_not_fit_to_07_00(book: Store) -> None:
    at = datetime(2026, 11, 23, 21, 59, 59, 500000, tzinfo=VN)
    cid = create(book, schedule=Schedule(mode="at", at=at), max_tps=1)
    plan_campaign(book, cid, actor="t", now=datetime(2026, 11, 23, 21, 30, tzinfo=VN))
    rows = plan_rows(book, cid)
    sent = sorted(
        (r["scheduled_at"].astimezone(VN), r["decision"], r["reasons"])
        for r in rows.values()
        if r["decision"] != "suppress"
    )
    # One message a second from 21:59:59.5: the first leaves before 22:00, the rest at 07:00.
    assert sent == [
        (at, "send", []),
        (datetime(2026, 11, 24, 7, 0, tzinfo=VN), "defer", ["quiet_hours"]),
        (datetime(2026, 11, 24, 7, 0, tzinfo=VN), "defer", ["quiet_hours"]),
    ]


def test_a_budget_keeps_the_best_customers_and_says_how_many_were_cut(book: Store) -> None:
    with book.engine.begin() as conn:
        ids = {p: i for p, i in conn.execute(select(contacts.c.phone, contacts.c.id))}
        for phone, score in (("+84912345671", 5), ("+84982345672", 4), ("+84902345673", 1)):
            conn.execute(
                insert(contact_stats).values(
                    contact_id=ids[phone],
                    workspace_id=book.workspace_id,
                    orders_count=score,
                    total_spend_vnd=score * 100_000,
                    first_order_at=NOW - timedelta(days=300),
                    last_order_at=NOW - timedelta(days=10),
                    r_score=score,
                    f_score=score,
                    m_score=score,
                )
            )
    cid = create(book, budget_vnd=2350)
    report = plan_campaign(book, cid, actor="t", now=NOW)
    rows = plan_rows(book, cid)
    # An (750) and Bảo (1,600) score highest and fit exactly; Chí (1,500) is cut.
    assert (report.budget_cut, report.cost_vnd) == (1, 2350)
    assert (rows["+84902345673"]["decision"], rows["+84902345673"]["reasons"]) == (
        "suppress",
        ["budget"],
    )
    assert rows["+84912345671"]["decision"] == rows["+84982345672"]["decision"] == "send"


def test_an_unregistered_sender_suppresses_everyone_with_that_reason(book: Store) -> None:
    cid = create(book, sender="OTHERBRAND")
    report = plan_campaign(book, cid, actor="t", now=NOW)
    assert report.by_decision == {"suppress": 6}
    assert report.by_reason == {"unregistered_brandname": 6}


def test_a_missing_variable_suppresses_that_recipient_and_names_the_variable(book: Store) -> None:
    with book.engine.begin() as conn:
        conn.execute(
            contacts.update().where(contacts.c.phone == "+84902345673").values(given_name=None)
        )
    cid = create(book)
    report = plan_campaign(book, cid, actor="t", now=NOW)
    row = plan_rows(book, cid)["+84902345673"]
    assert (row["decision"], row["reasons"]) == ("suppress", ["render_failed"])
    assert any("given_name" in w and "+84902345673" in w for w in report.warnings)


def test_a_started_campaign_cannot_be_planned_again(book: Store) -> None:
    cid = create(book)
    plan_campaign(book, cid, actor="t", now=NOW)
    with book.engine.begin() as conn:
        change_state(
            conn, workspace_id=book.workspace_id, campaign_id=cid, to="scheduled", actor="t"
        )
    with pytest.raises(LoaError) as err:
        plan_campaign(book, cid, actor="t", now=NOW)
    assert err.value.render("en") == (
        f"Campaign #{cid} is 'scheduled': it can be planned again only while draft or planned "
        "(before sending starts)."
    )
    statuses = {r["status"] for r in plan_rows(book, cid).values()}
    assert statuses == {"queued", "suppressed"}


def test_a_reply_tc_stops_the_next_campaign_and_is_confirmed_once(book: Store) -> None:
    from loa.services.compliance.inbound import receive_inbound

    receive_inbound(book, "0912345671", "TC", source="sms", now=NOW - timedelta(hours=1))
    receive_inbound(book, "0912345671", "tc", source="sms", now=NOW - timedelta(minutes=30))
    cid = create(book)
    plan_campaign(book, cid, actor="t", now=NOW)
    row = plan_rows(book, cid)["+84912345671"]
    # The refusal decides; it also withdrew the marketing consent.
    assert (row["decision"], row["reasons"]) == ("suppress", ["opted_out", "no_consent"])
    with book.engine.connect() as conn:
        confirmations = (
            conn.execute(select(outbox.c.text).where(outbox.c["class"] == "confirmation"))
            .scalars()
            .all()
        )
    assert len(confirmations) == 1
    assert confirmations[0].startswith("SHOPABC: Da nhan yeu cau tu choi quang cao")


@pytest.mark.parametrize("setting", [True, False])
def test_starting_a_qc_campaign_queues_the_5656_copy_once_when_the_workspace_asks(
    book: Store, setting: bool
) -> None:
    cid = create(book)
    plan_campaign(book, cid, actor="t", now=NOW)
    settings = Settings(copy_qc_to_5656=setting)
    for to in ("scheduled", "paused", "scheduled"):  # start, pause, resume: still one copy
        with book.engine.begin() as conn:
            change_state(
                conn,
                workspace_id=book.workspace_id,
                campaign_id=cid,
                to=to,
                actor="t",
                now=NOW,
                settings=settings,
            )
    copies = plan_rows(book, cid).get("5656")
    if not setting:
        assert copies is None
        return
    assert copies is not None
    assert (copies["class"], copies["status"]) == ("authority", "queued")
    assert copies["text"].startswith("[QC] Chao ")


def test_each_recipient_is_credited_to_the_first_included_segment_that_holds_them(
    book: Store,
) -> None:
    from loa.services.segments import create_segment

    with book.engine.begin() as conn:
        for name, carrier in (("viettel", "Viettel"), ("mobifone", "MobiFone")):
            create_segment(
                conn,
                workspace_id=book.workspace_id,
                name=name,
                rule={"attr": "carrier", "op": "eq", "value": carrier},
            )
    cid = create(book, include=("viettel", "mobifone", "all"))
    plan_campaign(book, cid, actor="t", now=NOW)
    segments = {phone: row["segment"] for phone, row in plan_rows(book, cid).items()}
    assert segments == {
        "+84912345671": "all",
        "+84982345672": "viettel",
        "+84902345673": "mobifone",
        "+84972345674": "viettel",
        "+84932345675": "mobifone",
        "+84962345676": "viettel",
    }


@pytest.mark.parametrize("ratio", [0, 1_000_000])
def test_facts_read_whole_or_looked_up_per_batch_give_the_same_plan(
    book: Store, monkeypatch: pytest.MonkeyPatch, ratio: int
) -> None:
    # ratio 0: every fact table is looked up for each batch's numbers; a large ratio: every
    # table is read whole once (as for a campaign to most of the book). Same decisions.
    from loa.services.compliance import decisions

    monkeypatch.setattr(decisions, "SCAN_RATIO", ratio)
    cid = create(book)
    plan_campaign(book, cid, actor="t", now=NOW)
    decided = {p: (r["decision"], r["reasons"]) for p, r in plan_rows(book, cid).items()}
    assert decided == {
        "+84912345671": ("send", []),
        "+84982345672": ("send", []),
        "+84902345673": ("send", []),
        "+84972345674": ("suppress", ["no_consent"]),
        "+84932345675": ("suppress", ["opted_out"]),
        "+84962345676": ("suppress", ["dnc"]),
    }


def test_rendering_once_per_distinct_name_gives_what_rendering_each_row_gives() -> None:
    # The planner renders each distinct combination of slot values once; the texts, parts and
    # errors (naming each recipient) must be those of rendering every row.
    from loa.domain.templates import parse
    from loa.services.campaigns import planner

    template = parse("{{ gender | greeting }} {{ given_name }} ơi, giảm 30% hôm nay")
    composed = planner._Composed(template, template.unaccented(), template, None)
    members = pl.DataFrame(
        {
            "phone": [f"+8491234567{i}" for i in range(7)],
            "given_name": ["An", "Bình", "An", None, "Bình", None, "Chi"],
            "gender": ["male", "female", "male", "male", None, "female", None],
        }
    )
    rows = members.select("given_name", "gender").to_dicts()
    labels = members["phone"].to_list()
    expected, counts = template.render_counted(rows, labels)
    _, plain = template.unaccented().render_counted(rows, labels)
    result, got_counts, got_plain = planner._render_distinct(composed, members)
    assert result.texts == expected.texts
    assert [(e.row, e.error.render()) for e in result.errors] == [
        (e.row, e.error.render()) for e in expected.errors
    ]
    assert [e.row for e in result.errors] == [3, 5]
    assert (got_counts, got_plain) == (counts, plain)


def test_a_workspace_minimum_gap_spaces_advertising_across_campaigns(book: Store) -> None:
    # The workspace asks for 48 hours between advertising messages to one person. An got one
    # 30 hours ago, Bảo 50 hours ago (outside the gap), and Chí has another campaign's message
    # planned for tomorrow: An and Chí are left out, with the reason in words.
    from loa.domain.compliance.reasons import Reason
    from loa.services.accounts.settings import update_settings

    ws = book.workspace_id
    with book.engine.begin() as conn:
        update_settings(conn, ws, {"min_gap_hours": 48}, actor="t", now=NOW)
        for key, phone, status, sent, planned in (
            ("h1", "+84912345671", "delivered", NOW - timedelta(hours=30), None),
            ("h2", "+84982345672", "delivered", NOW - timedelta(hours=50), None),
            ("h3", "+84902345673", "queued", None, NOW + timedelta(hours=20)),
        ):
            conn.execute(
                insert(outbox).values(
                    workspace_id=ws,
                    idempotency_key=key,
                    phone=phone,
                    channel="sms",
                    **{"class": "qc"},
                    decision="send",
                    status=status,
                    submitted_at=sent,
                    scheduled_at=planned,
                )
            )
    cid = create(book)
    report = plan_campaign(book, cid, actor="t", now=NOW)
    decided = {p: (r["decision"], r["reasons"]) for p, r in plan_rows(book, cid).items()}
    assert decided["+84912345671"] == ("suppress", ["min_gap"])
    assert decided["+84982345672"] == ("send", [])
    assert decided["+84902345673"] == ("suppress", ["min_gap"])
    assert report.by_reason["min_gap"] == 2
    assert Reason("min_gap", {"hours": 48}).render("vi") == (
        "Đã có tin quảng cáo khác cách chưa tới 48 giờ (khoảng cách tối thiểu của doanh nghiệp)."
    )
    assert Reason("min_gap", {"hours": 48}).render("en") == (
        "Another advertising message is less than 48 hours away (the workspace's minimum gap)."
    )


def test_without_a_minimum_gap_only_the_legal_cap_spaces_messages(book: Store) -> None:
    ws = book.workspace_id
    with book.engine.begin() as conn:
        conn.execute(
            insert(outbox).values(
                workspace_id=ws,
                idempotency_key="h1",
                phone="+84912345671",
                channel="sms",
                **{"class": "qc"},
                decision="send",
                status="delivered",
                submitted_at=NOW - timedelta(hours=2),
            )
        )
    cid = create(book)
    plan_campaign(book, cid, actor="t", now=NOW)
    assert plan_rows(book, cid)["+84912345671"]["decision"] == "send"


def test_best_hour_sends_each_person_at_the_hour_they_click_and_buy(book: Store) -> None:
    # Retail golden hours (weekdays 15:00-17:00). Bảo bought at 16:20 before: he gets it at
    # 16:00 today. An clicked twice around 20:00 and bought once at 10:00: his hour is 20:00,
    # which the schedule never opens, so he keeps the preset's time like everyone else.
    from loa.store.tables import clicks, events

    ws = book.workspace_id
    with book.engine.connect() as conn:
        ids = dict(conn.execute(select(contacts.c.phone, contacts.c.id)).all())
    an, bao = ids["+84912345671"], ids["+84982345672"]
    day = timedelta(days=1)
    with book.engine.begin() as conn:
        for k, at in enumerate((NOW.replace(hour=20, minute=10) - 3 * day,
                                NOW.replace(hour=20, minute=40) - 9 * day)):  # fmt: skip
            conn.execute(
                insert(clicks).values(
                    workspace_id=ws, code=f"k{k}", contact_id=an, at=at, human=True
                )
            )
        conn.execute(  # a bot's preview at 16:00 is not An's habit
            insert(clicks).values(
                workspace_id=ws, code="bot", contact_id=an, at=NOW.replace(hour=16) - day,
                human=False,
            )
        )  # fmt: skip
        for contact, at in ((an, NOW.replace(hour=10) - 2 * day),
                            (bao, NOW.replace(hour=16, minute=20) - 5 * day)):  # fmt: skip
            conn.execute(
                insert(events).values(
                    workspace_id=ws, contact_id=contact, type="order", occurred_at=at,
                    value_vnd=300_000,
                )
            )  # fmt: skip
    cid = create(book, schedule=Schedule(mode="golden", preset="retail", best_hour=True))
    report = plan_campaign(book, cid, actor="t", now=NOW)
    rows = plan_rows(book, cid)
    local = {p: r["scheduled_at"].astimezone(VN) for p, r in rows.items() if r["scheduled_at"]}
    assert report.best_hour == 1
    assert local["+84982345672"] == NOW.replace(hour=16)
    assert local["+84912345671"].date() == NOW.date()
    assert local["+84912345671"].hour == 15
    assert local["+84902345673"].hour == 15
