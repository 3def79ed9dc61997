"""Automations end to end: events posted to the store, a real worker process, the sandbox SMSC
(and a local HTTP server playing FCM): what reaches the carrier, when, and how many times."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, update
from tests.integration.http_peers import HttpPeer, serving
from tests.integration.smpp_peers import Peer, sandbox
from tests.integration.test_automations import add_contact, messages, post, rule
from tests.integration.test_channels_push import Google, fcm_settings
from tests.integration.test_dispatch_smpp import route_to, wait_until, worker

from loa.services.automations.engine import run_daily
from loa.services.automations.rules import Timing
from loa.services.compliance.brandnames import add_brandname
from loa.services.compliance.templates import add_template
from loa.services.dispatch.routes import add_route
from loa.store.db import Store
from loa.store.tables import automation_runs, contacts, outbox, vouchers, workspaces

VN = ZoneInfo("Asia/Ho_Chi_Minh")
REMINDER = (
    "Nhac lich: ban co hen luc {{ event.starts_at_time }} ngay {{ event.starts_at_date }} "
    "(lich {{ event.appointment_id }})."
)
ORDER = "Don hang {{ event.order_id }} da duoc xac nhan."


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[Peer]:
    with sandbox(tmp_path, "--receipt-delay", "0.01", "0.05") as server:
        yield server


@pytest.fixture
def shop(store: Store, smsc: Peer) -> Store:
    add_brandname(
        store,
        "SHOPABC",
        domains=["shop.vn"],
        registered_on=date(2025, 1, 1),
        optout_keyword="TC",
        optout_shortcode="6058",
        hotline="19001234",
    )
    add_template(store, "appointment_reminder_24h", cls="cskh", text=REMINDER, approved=True)
    add_template(store, "order_confirmation", cls="cskh", text=ORDER, approved=True)
    with store.engine.begin() as conn:
        add_contact(conn, store.workspace_id, "+84912345671", name="Nguyen An", given_name="An")
        add_contact(conn, store.workspace_id, "+84982345672", name="Tran Bao", given_name="Bao",
                    birthday=date(1990, 11, 23), birth_mmdd=1123)  # fmt: skip
        add_contact(conn, store.workspace_id, "+84902345673", name="Le Chi", given_name="Chi",
                    birthday=date(1985, 11, 23), birth_mmdd=1123)  # fmt: skip
    route_to(store, smsc)
    return store


def journal(smsc: Peer) -> list[dict[str, Any]]:
    return smsc.journal_lines()


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0


def test_a_reminder_leaves_24h_before_moves_with_the_appointment_and_dies_with_it(
    shop: Store, db_url: str, smsc: Peer
) -> None:
    rule(shop, event="appointment_booked", template="appointment_reminder_24h")
    rule(shop, event="order_completed", template="order_confirmation")
    running = worker(db_url)
    try:
        post(shop, "0902345673", "order_completed", key="O1", order_id="O1")
        wait_until(lambda: len(journal(smsc)) >= 1, 60)  # the worker is up
        # The clock: appointments a day and seconds ahead, so "24 h before" is seconds away.
        now = datetime.now(VN).replace(microsecond=0)
        first = now + timedelta(hours=24, seconds=3)
        moved = now + timedelta(hours=24, seconds=5)
        post(shop, "0912345671", "appointment_booked", key="A1-b", appointment_id="A1",
             starts_at=first.isoformat())  # fmt: skip
        post(shop, "0912345671", "appointment_changed", key="A1-c", appointment_id="A1",
             starts_at=moved.isoformat())  # fmt: skip
        post(shop, "0982345672", "appointment_booked", key="B1-b", appointment_id="B1",
             starts_at=first.isoformat())  # fmt: skip
        post(shop, "0982345672", "appointment_cancelled", key="B1-x", appointment_id="B1")
        wait_until(lambda: len(journal(smsc)) >= 2, 60)
        time.sleep(2.0)  # time enough for anything else that would (wrongly) leave
    finally:
        stop(running)
    lines = journal(smsc)[1:]
    assert [(line["dest"], line["text"]) for line in lines] == [
        ("84912345671", f"Nhac lich: ban co hen luc {moved:%H:%M} ngay {moved:%d/%m/%Y} (lich A1).")
    ]
    sent_at = datetime.fromisoformat(lines[0]["at"])
    due = moved - timedelta(hours=24)
    assert due <= sent_at < due + timedelta(seconds=2)  # on time, not before
    assert sorted(m["status"] for m in messages(shop)) == [
        "cancelled",
        "cancelled",
        "delivered",
        "delivered",
    ]


def test_an_order_posted_twice_is_confirmed_once_on_the_transactional_lane(
    shop: Store, db_url: str, smsc: Peer
) -> None:
    rule(shop, event="order_completed", template="order_confirmation")
    for _ in range(2):
        post(shop, "0912345671", "order_completed", key="DH77", order_id="DH77", value_vnd=5)
    done = worker(db_url, "--until-idle")
    assert done.wait(120) == 0
    assert [(line["dest"], line["text"]) for line in journal(smsc)] == [
        ("84912345671", "Don hang DH77 da duoc xac nhan.")
    ]


def test_a_birthday_run_sends_one_voucher_each_and_a_second_run_sends_nothing(
    shop: Store, db_url: str, smsc: Peer
) -> None:
    # The EU pack has no advertising hours, so the run leaves at once whatever the hour here.
    with shop.engine.begin() as conn:
        conn.execute(update(workspaces).values(policy_pack="eu"))
    # At 00:00 of the run's day, so due whenever the test runs (the built-in 09:00 left nothing
    # due before 09:00 in Vietnam, and the worker below only sends what is due).
    rule(shop, event="daily:birthday", template="birthday", timing=Timing("at", at=clock(0, 0)))
    today = datetime.now(VN).date()
    with shop.engine.begin() as conn:
        conn.execute(update(contacts).values(birth_mmdd=today.month * 100 + today.day))
    first = run_daily(shop, day=today)["birthday"]
    second = run_daily(shop, day=today)["birthday"]
    assert (first.queued, first.vouchers, second.queued, second.vouchers) == (3, 3, 0, 0)
    assert second.already == 3
    done = worker(db_url, "--until-idle")
    assert done.wait(120) == 0
    with shop.engine.connect() as conn:
        codes = dict(conn.execute(select(vouchers.c.contact_id, vouchers.c.code)).all())
        phones = dict(conn.execute(select(contacts.c.id, contacts.c.phone)).all())
    lines = journal(smsc)
    assert len(lines) == 3 and len(set(codes.values())) == 3
    by_dest = {line["dest"]: line["text"] for line in lines}
    for contact_id, code in codes.items():
        assert code in by_dest[phones[contact_id].lstrip("+")]


@pytest.fixture
def google() -> Iterator[tuple[Google, HttpPeer, rsa.RSAPrivateKey]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fake = Google(public)
    with serving(fake) as peer:
        fake.url = peer.url
        yield fake, peer, key


def test_a_failed_or_undelivered_push_falls_back_to_sms(
    shop: Store, db_url: str, smsc: Peer, google: tuple[Google, HttpPeer, rsa.RSAPrivateKey]
) -> None:
    fake, peer, key = google
    with shop.engine.begin() as conn:
        add_route(conn, workspace_id=shop.workspace_id, name="fcm", kind="fcm",
                  settings=fcm_settings(key, peer.url))  # fmt: skip
        for phone, token in (("+84912345671", "dead"), ("+84982345672", "good")):
            conn.execute(
                update(contacts)
                .where(contacts.c.phone == phone)
                .values(attrs={"push_token": token})
            )
    rule(shop, event="order_completed", template="order_confirmation", channels=("push", "sms"),
         fallback_after_s=3)  # fmt: skip
    running = worker(db_url)
    try:
        post(shop, "0902345673", "order_completed", key="P3", order_id="P3")  # no app: SMS
        wait_until(lambda: len(journal(smsc)) >= 1, 60)  # the worker is up
        started = datetime.now(UTC)
        post(shop, "0912345671", "order_completed", key="P1", order_id="P1")
        post(shop, "0982345672", "order_completed", key="P2", order_id="P2")
        wait_until(lambda: len(journal(smsc)) >= 3, 60)
        time.sleep(1.0)
    finally:
        stop(running)
    pushes = {m["token"]: m for m in fake.sent}  # sent concurrently: in any order
    assert sorted(pushes) == ["dead", "good"] and len(fake.sent) == 2
    assert pushes["dead"]["notification"] == {
        "title": "SHOPABC",
        "body": "Don hang P1 da duoc xac nhan.",
    }
    lines = {line["dest"]: line for line in journal(smsc)}
    assert sorted(lines) == ["84902345673", "84912345671", "84982345672"]
    assert lines["84912345671"]["text"] == "Don hang P1 da duoc xac nhan."
    with shop.engine.connect() as conn:
        pushed = dict(
            conn.execute(
                select(outbox.c.phone, outbox.c.updated_at).where(outbox.c.channel == "push")
            ).all()
        )
        steps = conn.execute(
            select(automation_runs.c.run_key, automation_runs.c.step).order_by(automation_runs.c.id)
        ).all()
        fates = conn.execute(
            select(outbox.c.channel, outbox.c.phone, outbox.c.status, outbox.c.code).order_by(
                outbox.c.id
            )
        ).all()
    assert [s for _, s in steps] == [1, 1, 1]  # P3's contact has no app: SMS is step 1
    assert [tuple(f[:3]) for f in fates] == [
        ("sms", "+84902345673", "delivered"),
        ("push", "dead", "failed"),
        ("push", "good", "submitted"),
        ("sms", "+84912345671", "delivered"),
        ("sms", "+84982345672", "delivered"),
    ]
    assert fates[1].code == "UNREGISTERED"
    # The failed push fell back within the worker's next beat; the accepted one, never
    # confirmed delivered, only after its 3 s deadline.
    sms_failed = datetime.fromisoformat(lines["84912345671"]["at"])
    sms_late = datetime.fromisoformat(lines["84982345672"]["at"])
    assert sms_failed - pushed["dead"] < timedelta(seconds=1.5)
    assert sms_late - started >= timedelta(seconds=3)
