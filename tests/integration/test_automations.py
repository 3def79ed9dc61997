"""Automations on a real store: events in, exactly the outbox rows a customer would get out,
once; reminders moved and cancelled with their appointment; birthdays with one voucher each."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, func, insert, select

from loa.i18n import LoaError
from loa.services.automations.engine import react, run_daily, sweep_fallbacks
from loa.services.automations.rules import (
    Timing,
    create_automation,
    parse_condition,
    parse_delay,
    set_state,
)
from loa.services.compliance.brandnames import add_brandname
from loa.services.compliance.templates import add_template
from loa.services.events import record_event
from loa.store.db import Store
from loa.store.tables import automation_runs, consents, contacts, outbox, vouchers

VN = ZoneInfo("Asia/Ho_Chi_Minh")
ORDER_TEXT = (
    "Don hang {{ event.order_id }} tri gia {{ event.value_vnd | vnd | unaccent }} da duoc xac "
    'nhan. Cam on {{ given_name | default("quy khach") | unaccent }}!'
)
REMINDER_TEXT = (
    "Nhac lich: ban co hen luc {{ event.starts_at_time }} ngay {{ event.starts_at_date }} "
    "(lich {{ event.appointment_id }})."
)


def add_contact(conn: Connection, ws: int, phone: str, **values: Any) -> int:
    cid = conn.execute(
        insert(contacts).values(workspace_id=ws, phone=phone, **values).returning(contacts.c.id)
    ).scalar_one()
    conn.execute(
        insert(consents).values(
            workspace_id=ws,
            contact_id=cid,
            channel="sms",
            purpose="marketing",
            method="web_form",
            evidence="form #1",
            given_at=datetime(2025, 1, 1, tzinfo=UTC),
        )
    )
    return int(cid)


@pytest.fixture
def shop(store: Store) -> Store:
    add_brandname(
        store,
        "SHOPABC",
        domains=["shop.vn"],
        registered_on=date(2025, 1, 1),
        optout_keyword="TC",
        optout_shortcode="6058",
        hotline="19001234",
    )
    add_template(store, "order_confirmation", cls="cskh", text=ORDER_TEXT, approved=True)
    add_template(store, "appointment_reminder_24h", cls="cskh", text=REMINDER_TEXT, approved=True)
    add_template(store, "appointment_reminder_2h", cls="cskh", text=REMINDER_TEXT, approved=True)
    with store.engine.begin() as conn:
        add_contact(conn, store.workspace_id, "+84912345671", name="Nguyễn Văn An", given_name="An")
        add_contact(
            conn,
            store.workspace_id,
            "+84982345672",
            name="Trần Thị Bảo",
            given_name="Bảo",
            birthday=date(1990, 11, 23),
            birth_mmdd=1123,
        )
        add_contact(
            conn,
            store.workspace_id,
            "+84902345673",
            name="Lê Chí",
            given_name="Chí",
            birthday=date(1985, 11, 23),
            birth_mmdd=1123,
        )
    return store


def rule(store: Store, **kwargs: Any) -> int:
    with store.engine.begin() as conn:
        return create_automation(
            conn, workspace_id=store.workspace_id, sender="SHOPABC", **kwargs
        ).id


def post(
    store: Store, phone: str, kind: str, *, key: str | None = None, **props: Any
) -> int | None:
    value = props.pop("value_vnd", None)
    with store.engine.begin() as conn:
        return record_event(
            conn,
            workspace_id=store.workspace_id,
            phone=phone,
            type=kind,
            occurred_at=datetime.now(UTC),
            value_vnd=value,
            properties=props,
            external_id=key,
        )


def messages(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                outbox.c.idempotency_key,
                outbox.c.phone,
                outbox.c.text,
                outbox.c.status,
                outbox.c.scheduled_at,
                outbox.c.priority,
                outbox.c["class"],
                outbox.c.channel,
                outbox.c.decision,
                outbox.c.reasons,
            ).order_by(outbox.c.id)
        )
        return [dict(r._mapping) for r in rows]


def test_a_duplicate_order_event_sends_one_confirmation(shop: Store) -> None:
    rule(shop, event="order_completed", template="order_confirmation")
    first = post(shop, "0912345671", "order_completed", key="DH1001", order_id="DH1001",
                 value_vnd=1_250_000)  # fmt: skip
    again = post(shop, "0912345671", "order_completed", key="DH1001", order_id="DH1001",
                 value_vnd=1_250_000)  # fmt: skip
    assert first is not None and again is None
    sent = messages(shop)
    assert len(sent) == 1
    assert sent[0]["text"] == "Don hang DH1001 tri gia 1.250.000d da duoc xac nhan. Cam on An!"
    assert sent[0]["status"] == "queued" and sent[0]["class"] == "cskh"
    assert sent[0]["priority"] == 5  # the transactional lane
    # Evaluated again after a restart: the run is found, nothing new is written.
    with shop.engine.begin() as conn:
        report = react(conn, workspace_id=shop.workspace_id, event_ids=[first])
    assert report.already == 1 and report.queued == 0
    assert len(messages(shop)) == 1


def test_customer_care_needs_an_approved_template(shop: Store) -> None:
    with pytest.raises(LoaError) as caught:
        rule(shop, event="shipment_delivered", template="shipment_delivered")
    assert caught.value.render("en") == (
        "Customer-care messages must follow a template the carriers approved, and the template "
        "'shipment_delivered' is not registered. Register and approve it: loa automations "
        "templates --register, then loa templates add shipment_delivered --class cskh "
        '--approved --replace --text "...".'
    )
    add_template(shop, "shipment_delivered", cls="cskh", text="Don {{ event.order_id }} da giao.")
    with pytest.raises(LoaError) as caught:
        rule(shop, event="shipment_delivered", template="shipment_delivered")
    assert "'shipment_delivered' is not approved" in caught.value.render("en")


def test_conditions_and_a_limit_per_contact(shop: Store) -> None:
    rule(
        shop,
        event="order_completed",
        template="order_confirmation",
        conditions=[parse_condition("value_vnd>=1000000")],
        limit_days=1,
    )
    post(shop, "0912345671", "order_completed", key="A1", order_id="A1", value_vnd=500_000)
    post(shop, "0912345671", "order_completed", key="A2", order_id="A2", value_vnd=2_000_000)
    post(shop, "0912345671", "order_completed", key="A3", order_id="A3", value_vnd=3_000_000)
    assert [m["text"][:13] for m in messages(shop)] == ["Don hang A2 t"]
    with shop.engine.connect() as conn:
        reasons = conn.execute(
            select(
                automation_runs.c.run_key, automation_runs.c.status, automation_runs.c.reason
            ).order_by(automation_runs.c.id)
        ).all()
    assert [(s, r) for _, s, r in reasons] == [
        ("skipped", "condition"),
        ("queued", None),
        ("skipped", "limit"),
    ]


def test_condition_parsing_names_the_fix() -> None:
    with pytest.raises(LoaError) as caught:
        parse_condition("total >> 5")
    assert caught.value.render("en") == (
        "The condition 'total >> 5' is not valid; write property>=value, e.g. total>=500000 or "
        "city==HN (comparisons: == != >= <= > <)."
    )
    assert parse_delay("24h before starts_at") == Timing("before", 1440, prop="starts_at")
    assert parse_delay("30m") == Timing("delay", 30)
    assert parse_delay("09:00").to_json() == {"mode": "at", "time": "09:00"}


def test_reminders_move_with_the_appointment_and_go_when_it_is_cancelled(shop: Store) -> None:
    rule(shop, event="appointment_booked", template="appointment_reminder_24h")
    rule(shop, event="appointment_booked", template="appointment_reminder_2h")
    start = (datetime.now(VN) + timedelta(days=3)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    post(shop, "0912345671", "appointment_booked", key="L7-b", appointment_id="L7",
         starts_at=start.isoformat())  # fmt: skip
    booked = messages(shop)
    assert [(m["status"], m["scheduled_at"]) for m in booked] == [
        ("queued", start - timedelta(hours=24)),
        ("queued", start - timedelta(hours=2)),
    ]
    assert booked[0]["text"] == (
        f"Nhac lich: ban co hen luc 09:00 ngay {start:%d/%m/%Y} (lich L7)."
    )
    moved = start + timedelta(days=1, hours=5)
    post(shop, "0912345671", "appointment_changed", key="L7-c", appointment_id="L7",
         starts_at=moved.isoformat())  # fmt: skip
    after = messages(shop)
    assert [(m["status"], m["scheduled_at"]) for m in after] == [
        ("cancelled", None if False else after[0]["scheduled_at"]),
        ("cancelled", after[1]["scheduled_at"]),
        ("queued", moved - timedelta(hours=24)),
        ("queued", moved - timedelta(hours=2)),
    ]
    assert after[2]["text"] == f"Nhac lich: ban co hen luc 14:00 ngay {moved:%d/%m/%Y} (lich L7)."
    post(shop, "0912345671", "appointment_cancelled", key="L7-x", appointment_id="L7")
    assert [m["status"] for m in messages(shop)] == ["cancelled"] * 4


def test_a_24h_reminder_for_an_appointment_sooner_than_that_is_skipped(shop: Store) -> None:
    rule(shop, event="appointment_booked", template="appointment_reminder_24h")
    soon = datetime.now(VN) + timedelta(hours=3)
    post(shop, "0912345671", "appointment_booked", key="L8", appointment_id="L8",
         starts_at=soon.isoformat())  # fmt: skip
    assert messages(shop) == []
    with shop.engine.connect() as conn:
        assert conn.execute(select(automation_runs.c.reason)).scalar_one() == "too_late"


def test_a_birthday_run_gives_one_voucher_each_even_when_run_twice(shop: Store) -> None:
    rule(shop, event="daily:birthday", template="birthday")
    day = date(2026, 11, 23)
    at = datetime(2026, 11, 23, 8, 0, tzinfo=VN)
    first = run_daily(shop, day=day, now=at)
    second = run_daily(shop, day=day, now=at + timedelta(hours=3))
    assert first["birthday"].queued == 2
    assert first["birthday"].vouchers == 2
    assert second["birthday"].already == 2
    assert second["birthday"].vouchers == 0
    with shop.engine.connect() as conn:
        codes = conn.execute(
            select(
                vouchers.c.contact_id, vouchers.c.code, vouchers.c.value, vouchers.c.expires_at
            ).order_by(vouchers.c.contact_id)
        ).all()
    assert len(codes) == 2 and len({c.code for c in codes}) == 2
    assert all(c.value == "20%" for c in codes)
    assert codes[0].expires_at == datetime(2026, 12, 23, 23, 59, 59, tzinfo=VN)
    sent = messages(shop)
    assert [m["phone"] for m in sent] == ["+84982345672", "+84902345673"]
    assert sent[0]["scheduled_at"] == datetime(2026, 11, 23, 9, 0, tzinfo=VN)
    assert sent[0]["text"] == (
        f"[QC] Chuc mung sinh nhat Bao! Tang ban ma {codes[0].code} giam 20%, dung den "
        "23/12/2026. Tu choi QC soan TC gui 6058, goi 19001234"
    )


def test_advertising_outside_the_hours_is_deferred_not_dropped(shop: Store) -> None:
    rule(shop, event="daily:birthday", template="birthday", timing=Timing.from_json(
        {"mode": "at", "time": "23:00"}))  # fmt: skip
    run_daily(shop, day=date(2026, 11, 23), now=datetime(2026, 11, 23, 8, 0, tzinfo=VN))
    sent = messages(shop)
    assert {m["decision"] for m in sent} == {"defer"}
    assert {m["scheduled_at"] for m in sent} == {datetime(2026, 11, 24, 7, 0, tzinfo=VN)}


def test_a_paused_rule_answers_nothing(shop: Store) -> None:
    rule(shop, event="order_completed", template="order_confirmation", name="orders")
    with shop.engine.begin() as conn:
        set_state(conn, workspace_id=shop.workspace_id, name="orders", state="paused")
    post(shop, "0912345671", "order_completed", key="P1", order_id="P1", value_vnd=1)
    assert messages(shop) == []


def test_push_first_then_sms_when_the_push_fails(shop: Store) -> None:
    with shop.engine.begin() as conn:
        conn.execute(
            contacts.update()
            .where(contacts.c.phone == "+84912345671")
            .values(attrs={"push_token": "tok-A"})
        )
    rule(shop, event="order_completed", template="order_confirmation", channels=("push", "sms"),
         fallback_after_s=60)  # fmt: skip
    post(shop, "0912345671", "order_completed", key="F1", order_id="F1", value_vnd=10_000)
    push = messages(shop)
    assert [(m["channel"], m["phone"], m["status"]) for m in push] == [("push", "tok-A", "queued")]
    with shop.engine.begin() as conn:
        conn.execute(outbox.update().values(status="failed", code="UNREGISTERED"))
    report = sweep_fallbacks(shop.engine)
    assert report.fell_back == 1
    after = messages(shop)
    assert [(m["channel"], m["phone"], m["status"]) for m in after] == [
        ("push", "tok-A", "failed"),
        ("sms", "+84912345671", "queued"),
    ]
    assert after[1]["text"] == after[0]["text"]
    assert sweep_fallbacks(shop.engine).fell_back == 0  # once
    with shop.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(automation_runs)).scalar_one() == 1


def test_inactivity_milestones_and_anniversaries_each_once(shop: Store) -> None:
    from loa.store.tables import contact_stats

    ws = shop.workspace_id
    day = date(2026, 11, 23)
    with shop.engine.begin() as conn:
        ids = dict(conn.execute(select(contacts.c.phone, contacts.c.id)).all())
        stats = [
            # An: last bought 100 days ago, 12 orders; Bảo: 10 days ago, 3 orders.
            (ids["+84912345671"], 12, datetime(2026, 8, 15, 10, tzinfo=VN)),
            (ids["+84982345672"], 3, datetime(2026, 11, 13, 10, tzinfo=VN)),
        ]
        for cid, orders, last in stats:
            conn.execute(
                insert(contact_stats).values(
                    contact_id=cid, workspace_id=ws, orders_count=orders, total_spend_vnd=1,
                    first_order_at=last, last_order_at=last, r_score=1, f_score=1, m_score=1,
                )
            )  # fmt: skip
        conn.execute(
            contacts.update()
            .where(contacts.c.id == ids["+84902345673"])
            .values(created_at=datetime(2023, 11, 23, 3, tzinfo=UTC))
        )
    rule(shop, event="daily:inactive", template="reactivation")
    rule(shop, event="daily:milestone", template="loyalty_milestone")
    rule(shop, event="daily:anniversary", template="anniversary")
    at = datetime(2026, 11, 23, 8, 0, tzinfo=VN)
    first = run_daily(shop, day=day, now=at)
    again = run_daily(shop, day=day, now=at)
    assert {k: (v.queued, v.vouchers) for k, v in first.items()} == {
        "reactivation": (1, 1),
        "loyalty_milestone": (1, 1),
        "anniversary": (1, 1),
    }
    assert {k: (v.queued, v.already) for k, v in again.items()} == {
        "reactivation": (0, 1),
        "loyalty_milestone": (0, 1),
        "anniversary": (0, 1),
    }
    texts = {m["phone"]: m["text"] for m in messages(shop) if "10 don hang" in m["text"]}
    assert list(texts) == ["+84912345671"]  # 12 orders: the 10 milestone, not the 5
    with shop.engine.connect() as conn:
        deadline = conn.execute(
            select(vouchers.c.expires_at).where(vouchers.c.batch == "automation:reactivation")
        ).scalar_one()
    assert deadline == datetime(2026, 12, 7, 23, 59, 59, tzinfo=VN)  # the offer's 14 days
    anniversary = [m["text"] for m in messages(shop) if "dong hanh" in m["text"]]
    assert anniversary[0].startswith("[QC] Cam on Chi da dong hanh 3 nam! Tang ban ma KN")


def test_customer_care_to_an_invalid_number_is_suppressed_with_its_reason(shop: Store) -> None:
    with shop.engine.begin() as conn:
        conn.execute(
            contacts.update()
            .where(contacts.c.phone == "+84912345671")
            .values(invalid_reason="number no longer in service")
        )
    rule(shop, event="order_completed", template="order_confirmation")
    post(shop, "0912345671", "order_completed", key="I1", order_id="I1", value_vnd=1)
    post(shop, "0982345672", "order_completed", key="I2", order_id="I2", value_vnd=1)
    sent = messages(shop)
    assert [(m["phone"], m["status"], m["decision"], m["reasons"]) for m in sent] == [
        ("+84912345671", "suppressed", "suppress", ["invalid_number"]),
        ("+84982345672", "queued", "send", []),
    ]


def test_an_imported_file_is_answered_once_and_its_history_not_at_all(
    shop: Store, tmp_path: Path
) -> None:
    from loa.services.events import import_events

    rule(shop, event="order_completed", template="order_confirmation")
    today = datetime.now(VN).strftime("%d/%m/%Y %H:%M")
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "ma don,so dien thoai,loai,thoi gian,so tien\n"
        f"DH501,0912345671,order_completed,{today},450000\n"
        "DH100,0982345672,order_completed,01/01/2025 10:00,99000\n",
        encoding="utf-8",
    )
    first = import_events(shop, csv)
    again = import_events(shop, csv)
    assert (first.imported, again.imported, again.duplicate) == (2, 0, 2)
    assert [m["text"] for m in messages(shop)] == [
        "Don hang DH501 tri gia 450.000d da duoc xac nhan. Cam on An!"
    ]
    with shop.engine.connect() as conn:  # the 2025 order is history: no run at all
        assert conn.execute(select(func.count()).select_from(automation_runs)).scalar_one() == 1


def test_a_real_length_fcm_token_is_queued_as_a_push_message(shop: Store) -> None:
    # FCM registration tokens are ~160 characters: "<instance id>:APA91b<...>". Before 0008
    # the outbox address held 20 and PostgreSQL refused them.
    token = "dQw4w9WgXcQ-abcdefghij:APA91b" + "Ab1-_Cd2" * 16 + "xyz456"
    assert len(token) == 163
    with shop.engine.begin() as conn:
        conn.execute(
            contacts.update()
            .where(contacts.c.phone == "+84912345671")
            .values(attrs={"push_token": token})
        )
    rule(shop, event="order_completed", template="order_confirmation", channels=("push", "sms"))
    post(shop, "0912345671", "order_completed", key="T1", order_id="T1", value_vnd=1)
    sent = messages(shop)
    assert [(m["channel"], m["phone"], m["status"]) for m in sent] == [("push", token, "queued")]
    assert sent[0]["text"] == "Don hang T1 tri gia 1d da duoc xac nhan. Cam on An!"


def test_advertising_by_push_keeps_the_advertising_rules(shop: Store) -> None:
    # A QC rule cannot reach by push someone it could not reach by SMS: An gave consent,
    # Chí withdrew it; both have an app.
    with shop.engine.begin() as conn:
        for phone, token in (("+84912345671", "tok-an"), ("+84902345673", "tok-chi")):
            conn.execute(
                contacts.update()
                .where(contacts.c.phone == phone)
                .values(attrs={"push_token": token})
            )
        chi = select(contacts.c.id).where(contacts.c.phone == "+84902345673").scalar_subquery()
        conn.execute(consents.delete().where(consents.c.contact_id == chi))
    add_template(shop, "promo", cls="qc", text="Giam 10% cho don hang tiep theo tai shop.vn")
    rule(shop, event="order_completed", template="promo", name="promo", channels=("push",),
         timing=Timing.from_json({"mode": "at", "time": "10:00"}))  # fmt: skip
    post(shop, "0912345671", "order_completed", key="Q1", order_id="Q1", value_vnd=1)
    post(shop, "0902345673", "order_completed", key="Q2", order_id="Q2", value_vnd=1)
    sent = messages(shop)
    assert [(m["channel"], m["phone"], m["decision"], m["reasons"]) for m in sent] == [
        ("push", "tok-an", "send", []),
        ("push", "tok-chi", "suppress", ["no_consent"]),
    ]


def test_a_broken_rule_stops_itself_not_the_event_nor_other_rules(shop: Store) -> None:
    from loa.store.tables import brandnames

    add_template(shop, "promo", cls="qc", text="Giam 10% cho don hang tiep theo tai shop.vn")
    rule(shop, event="order_completed", template="promo", name="promo")
    rule(shop, event="order_completed", template="order_confirmation", name="orders")
    with shop.engine.begin() as conn:  # the sender loses its refusal keyword after the fact
        conn.execute(brandnames.update().values(optout_keyword=None, optout_shortcode=None))
    assert post(shop, "0912345671", "order_completed", key="B1", order_id="B1", value_vnd=1)
    assert [m["text"][:11] for m in messages(shop)] == ["Don hang B1"]
    with shop.engine.connect() as conn:
        runs = conn.execute(
            select(automation_runs.c.status, automation_runs.c.reason).order_by(
                automation_runs.c.automation_id
            )
        ).all()
    assert [tuple(r) for r in runs] == [("skipped", "rule_error"), ("queued", None)]


def test_an_edit_between_two_events_counts_for_the_next_one(shop: Store) -> None:
    # Rules, brandnames and templates are parsed once and reused between events; an edit
    # must still decide the very next event.
    rule(shop, event="order_completed", template="order_confirmation", name="orders")
    post(shop, "0912345671", "order_completed", key="E1", order_id="E1", value_vnd=1)
    add_template(shop, "order_confirmation", cls="cskh", text=ORDER_TEXT, replace=True)
    post(shop, "0912345671", "order_completed", key="E2", order_id="E2", value_vnd=1)
    add_template(
        shop, "order_confirmation", cls="cskh", text=ORDER_TEXT, approved=True, replace=True
    )
    add_brandname(shop, "SHOPABC", domains=["shop.vn"], registered_on=date(2020, 1, 1),
                  expires_on=date(2023, 1, 1), optout_keyword="TC", replace=True)  # fmt: skip
    post(shop, "0912345671", "order_completed", key="E3", order_id="E3", value_vnd=1)
    add_brandname(shop, "SHOPABC", domains=["shop.vn"], registered_on=date(2025, 1, 1),
                  optout_keyword="TC", replace=True)  # fmt: skip
    with shop.engine.begin() as conn:
        set_state(conn, workspace_id=shop.workspace_id, name="orders", state="paused")
    post(shop, "0912345671", "order_completed", key="E4", order_id="E4", value_vnd=1)
    with shop.engine.begin() as conn:
        set_state(conn, workspace_id=shop.workspace_id, name="orders", state="active")
    post(shop, "0912345671", "order_completed", key="E5", order_id="E5", value_vnd=1)
    with shop.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.text, outbox.c.status, outbox.c.reasons).order_by(outbox.c.id)
        ).all()
    assert [(r.text[:11], r.status, list(r.reasons)) for r in rows] == [
        ("Don hang E1", "queued", []),
        ("Don hang E2", "suppressed", ["template_not_approved"]),
        ("Don hang E3", "suppressed", ["brandname_expired", "content_blocked"]),
        ("Don hang E5", "queued", []),
    ]
