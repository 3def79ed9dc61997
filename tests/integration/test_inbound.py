"""Inbound replies on a real store: "TC" stops advertising at once and is confirmed exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from loa.i18n import LoaError
from loa.services.compliance.brandnames import add_brandname
from loa.services.compliance.inbound import receive_inbound
from loa.store.db import Store
from loa.store.tables import (
    channel_states,
    consents,
    contacts,
    inbound_messages,
    opt_outs,
    outbox,
    registration_requests,
)

RECEIVED = datetime(2025, 6, 15, 3, 0, 5, tzinfo=UTC)  # 10:00:05 in Vietnam
HANDLED = RECEIVED + timedelta(seconds=2)
PHONE = "+84912345678"


@pytest.fixture
def shop(store: Store) -> Store:
    add_brandname(
        store, "SHOPABC", domains=["shop.vn"], optout_keyword="TC", optout_shortcode="6020",
        hotline="19001234",
    )  # fmt: skip
    with store.engine.begin() as conn:
        contact_id = conn.execute(
            insert(contacts)
            .values(workspace_id=store.workspace_id, phone=PHONE)
            .returning(contacts.c.id)
        ).scalar_one()
        conn.execute(
            insert(consents).values(
                workspace_id=store.workspace_id, contact_id=contact_id, channel="sms",
                purpose="marketing", method="form", evidence="form #1", given_at=RECEIVED
                - timedelta(days=30),
            )
        )  # fmt: skip
    return store


def confirmations(store: Store, phone: str = PHONE) -> list[tuple[str, str, str | None, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.idempotency_key, outbox.c.text, outbox.c.sender, outbox.c.status)
            .where(outbox.c.phone == phone, outbox.c["class"] == "confirmation")
            .order_by(outbox.c.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_tc_opts_out_at_once_with_one_confirmation(shop: Store) -> None:
    result = receive_inbound(shop, "0912345678", "TC", to="6020", received_at=RECEIVED, now=HANDLED)
    assert (result.intent, result.scope, result.already_opted_out) == ("opt_out", "all", False)
    expected = (
        "SHOPABC: Da nhan yeu cau tu choi quang cao cua ban luc 10:00:05 15/06/2025. Ban se "
        "khong nhan tin quang cao tu SHOPABC ke tu 10:00:07 15/06/2025."
    )
    assert confirmations(shop) == [
        (f"optout-confirm:{result.opt_out_id}", expected, "SHOPABC", "queued")
    ]
    assert result.reply_text == expected
    with shop.engine.connect() as conn:
        opt_out = conn.execute(select(opt_outs)).one()
        state = conn.execute(select(channel_states.c.status, channel_states.c.method)).one()
        withdrawn = conn.execute(select(consents.c.withdrawn_at)).scalar_one()
    assert (opt_out.phone, opt_out.scope, opt_out.received_at, opt_out.effective_at) == (
        PHONE, "all", RECEIVED, HANDLED
    )  # fmt: skip
    assert opt_out.confirmation_id == result.reply_id
    assert tuple(state) == ("opted_out", "reply_keyword")
    assert withdrawn == HANDLED


def test_a_second_tc_gets_no_second_confirmation(shop: Store) -> None:
    first = receive_inbound(shop, PHONE, "TC", received_at=RECEIVED, now=HANDLED)
    again = receive_inbound(shop, PHONE, "tc", now=HANDLED + timedelta(minutes=5))
    assert again.already_opted_out and again.opt_out_id == first.opt_out_id
    assert again.reply_id is None
    assert (
        again.summary()
        == "+8491****678 đã từ chối từ trước (mọi quảng cáo); không gửi xác nhận lần hai."
    )
    assert len(confirmations(shop)) == 1
    with shop.engine.connect() as conn:
        assert conn.execute(select(inbound_messages.c.intent)).scalars().all() == ["opt_out"] * 2


@pytest.mark.parametrize("reply", ["Từ chối", "stop.", "Huỷ", "TU CHOI QC"])
def test_other_refusals_work(shop: Store, reply: str) -> None:
    result = receive_inbound(shop, PHONE, reply, received_at=RECEIVED, now=HANDLED)
    assert (result.intent, result.scope) == ("opt_out", "all")
    assert len(confirmations(shop)) == 1


def test_a_purchase_reply_does_nothing(shop: Store) -> None:
    result = receive_inbound(shop, PHONE, "tôi muốn mua", received_at=RECEIVED, now=HANDLED)
    assert result.intent == "none"
    assert (
        result.summary()
        == "Đã ghi nhận tin của +8491****678; không phải từ khoá nào, không làm gì thêm."
    )
    assert confirmations(shop) == []
    with shop.engine.connect() as conn:
        assert conn.execute(select(opt_outs)).all() == []
        assert conn.execute(select(inbound_messages.c.text)).scalars().all() == ["tôi muốn mua"]


def test_brand_scoped_opt_out(shop: Store) -> None:
    add_brandname(shop, "SHOPXYZ", domains=["xyz.vn"])
    result = receive_inbound(shop, PHONE, "TC SHOPXYZ", received_at=RECEIVED, now=HANDLED)
    assert (result.scope, result.brandname) == ("brand", "SHOPXYZ")
    [(_, text, sender, _)] = confirmations(shop)
    assert sender == "SHOPXYZ"
    assert "tu brandname SHOPXYZ ke tu 10:00:07 15/06/2025" in text
    with shop.engine.connect() as conn:
        # Only that brandname: the channel stays open and the consent stands.
        assert conn.execute(select(channel_states)).all() == []
        assert conn.execute(select(consents.c.withdrawn_at)).scalar_one() is None
    # A later refusal of all advertising is wider, so it is new and confirmed.
    wider = receive_inbound(shop, PHONE, "TC", now=HANDLED + timedelta(hours=1))
    assert not wider.already_opted_out and len(confirmations(shop)) == 2
    # ... and after it, refusing one brandname again changes nothing.
    assert receive_inbound(shop, PHONE, "TC SHOPXYZ").already_opted_out


def test_redelivered_provider_message_is_ignored(shop: Store) -> None:
    first = receive_inbound(shop, PHONE, "TC", source="sms", provider_id="smsc-42", now=HANDLED)
    again = receive_inbound(shop, PHONE, "TC", source="sms", provider_id="smsc-42")
    assert again.duplicate and again.inbound_id == first.inbound_id
    assert again.summary() == "Tin smsc-42 đã được xử lý trước đó; bỏ qua."
    assert len(confirmations(shop)) == 1


def test_opt_in_revokes_and_records_consent(shop: Store) -> None:
    with shop.engine.begin() as conn:
        conn.execute(
            insert(registration_requests).values(
                workspace_id=shop.workspace_id, phone=PHONE, sent_at=RECEIVED - timedelta(days=1)
            )
        )
    receive_inbound(shop, PHONE, "TC", now=HANDLED)
    back = receive_inbound(shop, PHONE, "DK", received_at=HANDLED + timedelta(days=1))
    assert (back.intent, back.revoked) == ("opt_in", 1)
    with shop.engine.connect() as conn:
        assert conn.execute(select(opt_outs.c.revoked_at)).scalar_one() is not None
        assert conn.execute(select(channel_states.c.status)).scalar_one() == "subscribed"
        methods = conn.execute(select(consents.c.method).order_by(consents.c.id)).scalars().all()
        answer = conn.execute(select(registration_requests.c.answer)).scalar_one()
    assert methods == ["form", "reply_keyword"]
    assert answer == "refuse"  # the TC answered the DKQC first, for good


def test_help_is_answered_once_per_message(shop: Store) -> None:
    result = receive_inbound(shop, PHONE, "HELP", to="6020")
    assert result.reply_text == "SHOPABC: Tu choi quang cao soan TC gui 6020. Ho tro: 19001234."
    receive_inbound(shop, PHONE, "help", to="6020")
    assert [key.split(":")[0] for key, *_ in confirmations(shop)] == ["help-reply", "help-reply"]


def test_invalid_number_is_refused_and_nothing_is_written(shop: Store) -> None:
    with pytest.raises(LoaError) as error:
        receive_inbound(shop, "12345", "TC")
    assert error.value.code == "inbound.bad_phone"
    assert error.value.render().startswith("Số gửi đến '12345' không hợp lệ: ")
    with shop.engine.connect() as conn:
        assert conn.execute(select(inbound_messages)).all() == []
