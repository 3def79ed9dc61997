"""The pure parts of automation rules: send times, conditions, delays, channels, the event as
templates see it, and the ready texts (every one renders, and the Vietnamese ones are GSM-7)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from loa.domain.templates import parse
from loa.domain.text import count_segments
from loa.i18n import LoaError
from loa.services.automations.builtins import BUILTINS, subject_prop
from loa.services.automations.engine import event_context
from loa.services.automations.rules import (
    Condition,
    Timing,
    event_time,
    parse_channels,
    parse_condition,
    parse_delay,
    send_time,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
AT = datetime(2026, 11, 23, 15, 30, tzinfo=VN)


@pytest.mark.parametrize(
    ("written", "timing"),
    [
        ("now", Timing("now")),
        ("0", Timing("now")),
        ("45", Timing("delay", 45)),
        ("30m", Timing("delay", 30)),
        ("2h", Timing("delay", 120)),
        ("1d", Timing("delay", 1440)),
        ("09:00", Timing("at", at=time(9, 0))),
        ("at 7:30", Timing("at", at=time(7, 30))),
        ("24h before starts_at", Timing("before", 1440, prop="starts_at")),
        ("2h after due_date", Timing("after", 120, prop="due_date")),
    ],
)
def test_delays_as_people_write_them(written: str, timing: Timing) -> None:
    assert parse_delay(written) == timing
    assert Timing.from_json(timing.to_json()) == timing


def test_a_bad_delay_says_what_to_write() -> None:
    with pytest.raises(LoaError) as caught:
        parse_delay("25:00")
    assert caught.value.render("vi").startswith(
        "Thời điểm gửi '25:00' không hợp lệ; viết: now, 30m"
    )


def test_send_times() -> None:
    props = {"starts_at": "2026-11-25T09:00:00+07:00", "due_date": "2026-12-05"}
    assert send_time(Timing("now"), AT, props) == AT
    assert send_time(Timing("delay", 30), AT, props) == datetime(2026, 11, 23, 16, 0, tzinfo=VN)
    # 09:00 has passed on the 23rd: the next one is the 24th.
    assert send_time(Timing("at", at=time(9)), AT, props) == datetime(2026, 11, 24, 9, tzinfo=VN)
    assert send_time(Timing("at", at=time(20)), AT, props) == datetime(2026, 11, 23, 20, tzinfo=VN)
    assert send_time(Timing("before", 1440, prop="starts_at"), AT, props) == datetime(
        2026, 11, 24, 9, tzinfo=VN
    )
    # A date alone is 09:00 that day in Vietnam.
    assert send_time(Timing("before", 4320, prop="due_date"), AT, props) == datetime(
        2026, 12, 2, 9, tzinfo=VN
    )
    assert send_time(Timing("before", 60, prop="missing"), AT, props) is None
    assert event_time("2026-11-25T09:00") == datetime(2026, 11, 25, 9, tzinfo=VN)
    assert event_time("soon") is None


@pytest.mark.parametrize(
    ("written", "props", "holds"),
    [
        ("total>=500000", {"total": 500000}, True),
        ("total>=500000", {"total": "499999"}, False),
        ("total>500000", {}, False),
        ("city==HN", {"city": "HN"}, True),
        ("city=HN", {"city": "HCM"}, False),
        ("city!=HN", {"city": "HCM"}, True),
        ("shop.id==7", {"shop": {"id": 7}}, True),
        ("total<10", {"total": "ten"}, False),
    ],
)
def test_conditions(written: str, props: dict[str, object], holds: bool) -> None:
    assert parse_condition(written).holds(props) is holds


def test_condition_values_keep_their_kind() -> None:
    assert parse_condition("total >= 1.5") == Condition("total", ">=", 1.5)
    assert parse_condition("code=='A1'") == Condition("code", "==", "A1")


def test_channels_in_order_each_once() -> None:
    assert parse_channels("push, sms") == ("push", "sms")
    for bad in ("", "sms,sms", "fax"):
        with pytest.raises(LoaError) as caught:
            parse_channels(bad)
        assert "push,sms" in caught.value.render("en")


def test_the_event_as_templates_see_it() -> None:
    context = event_context(
        {"starts_at": "2026-11-25T02:00:00+00:00", "order_id": "DH1"}, 150000, "ext-9"
    )
    assert context == {
        "starts_at": "2026-11-25T02:00:00+00:00",
        "starts_at_time": "09:00",
        "starts_at_date": "25/11/2026",
        "order_id": "DH1",
        "value_vnd": 150000,
        "id": "ext-9",
    }
    assert subject_prop("appointment_changed") == "appointment_id"
    assert subject_prop("shipment_delivered") == "order_id"
    assert subject_prop("account_created") is None


ROW = {
    "given_name": "An",
    "years": 3,
    "milestone": 10,
    "voucher": {"code": "SN-7K2M-9QX4", "value": "20%", "expires": "23/12/2026"},
    "event": event_context(
        {
            "order_id": "DH1",
            "reason": "het hang",
            "bill_id": "HD5",
            "amount": 350000,
            "due_date": "2026-12-05",
            "loan_id": "V9",
            "balance": 12000000,
            "appointment_id": "L7",
            "starts_at": "2026-11-25T09:00:00+07:00",
            "tracking_id": "GHN123",
        },
        1250000,
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_ready_text_renders_and_vietnamese_is_gsm7(name: str) -> None:
    builtin = BUILTINS[name]
    vi = parse(builtin.vi).render(ROW)
    en = parse(builtin.en).render(ROW)
    assert "{{" not in vi and "{{" not in en
    assert count_segments(vi).encoding == "GSM-7", vi
    assert count_segments(vi).segments == 1, vi


def test_the_order_confirmation_reads() -> None:
    text = parse(BUILTINS["order_confirmation"].vi).render(ROW)
    assert text == "Don hang DH1 tri gia 1.250.000d da duoc xac nhan. Cam on An!"
    when = datetime(2026, 11, 25, 2, tzinfo=UTC)
    assert when.astimezone(VN).hour == 9
