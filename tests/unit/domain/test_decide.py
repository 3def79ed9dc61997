"""The vectorised decision engine: exact decisions, instants and reason codes, and property
tests that hold it to the one-at-a-time rules in `windows.py` and a brute-force 24 h count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loa.domain.compliance import windows
from loa.domain.compliance.decide import UTC_DT, decide, reasons_of, rules_for
from loa.domain.compliance.packs import load_pack
from loa.domain.compliance.reasons import Reason
from loa.i18n import LoaError

VN = ZoneInfo("Asia/Ho_Chi_Minh")
VN_PACK = load_pack("vn")
US_PACK = load_pack("us")
QC = rules_for(VN_PACK, "qc")
NO_HISTORY = pl.DataFrame(schema={"phone": pl.String, "at": UTC_DT})


def phone(i: int) -> str:
    return f"+8491{i:07d}"


def vn(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, second, tzinfo=VN)


def batch(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Recipients with consent unless a row says otherwise."""
    return pl.DataFrame(
        [{"consent": True, **r} for r in rows],
        schema_overrides={"at": UTC_DT, "opted_out_at": UTC_DT},
    )


def history(sends: list[tuple[str, datetime]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"phone": [p for p, _ in sends], "at": [t for _, t in sends]},
        schema={"phone": pl.String, "at": UTC_DT},
    )


def results(out: pl.DataFrame) -> list[tuple[str, datetime | None, list[str]]]:
    return [(r["decision"], r["scheduled_at"], r["reasons"]) for r in out.iter_rows(named=True)]


def test_a_campaign_at_2130_sends_until_2200_and_defers_the_rest_to_0700() -> None:
    ats = [vn(15, 21, 30), vn(15, 21, 59, 59), vn(15, 22), vn(15, 23, 45), vn(16, 1)]
    out = decide(batch([{"phone": phone(i), "at": t} for i, t in enumerate(ats)]), NO_HISTORY, QC)
    assert results(out) == [
        ("send", vn(15, 21, 30), []),
        ("send", vn(15, 21, 59, 59), []),
        ("defer", vn(16, 7), ["quiet_hours"]),
        ("defer", vn(16, 7), ["quiet_hours"]),
        ("defer", vn(16, 7), ["quiet_hours"]),
    ]
    row = out.row(2, named=True)
    assert [r.render("en") for r in reasons_of(row, QC)] == [
        "Outside the allowed advertising hours (07:00–22:00); deferred to 2025-06-16 07:00."
    ]
    assert [r.render("vi") for r in reasons_of(row, QC)] == [
        "Ngoài giờ được phép gửi quảng cáo (07:00–22:00); hoãn đến 2025-06-16 07:00."
    ]


def test_a_campaign_at_0659_waits_a_minute() -> None:
    out = decide(batch([{"phone": phone(1), "at": vn(16, 6, 59)}]), NO_HISTORY, QC)
    assert results(out) == [("defer", vn(16, 7), ["quiet_hours"])]


def test_a_campaign_that_may_not_defer_drops_what_falls_outside() -> None:
    rules = rules_for(VN_PACK, "qc", allow_defer=False)
    out = decide(batch([{"phone": phone(1), "at": vn(15, 22, 5)}]), NO_HISTORY, rules)
    assert results(out) == [("suppress", None, ["quiet_hours_expired"])]
    assert reasons_of(out.row(0, named=True), rules)[0].render("en") == (
        "Outside the allowed hours and the campaign does not allow deferring (07:00–22:00)."
    )


def test_a_fourth_qc_in_24_hours_is_suppressed() -> None:
    at = vn(15, 10)
    sent = history([(phone(1), at - timedelta(hours=h)) for h in (1, 5, 23)])
    out = decide(batch([{"phone": phone(1), "at": at}]), sent, QC)
    assert results(out) == [("suppress", None, ["frequency_cap"])]
    assert reasons_of(out.row(0, named=True), QC)[0].render("en") == (
        "Already got 3 advertising messages in 24 hours (limit 3)."
    )
    # One of the three leaves the window a second before the next message: it fits.
    later = decide(batch([{"phone": phone(1), "at": at + timedelta(hours=1)}]), sent, QC)
    assert results(later) == [("send", at + timedelta(hours=1), [])]


def test_a_deferred_message_is_capped_at_its_deferred_instant() -> None:
    # Three sends at 22:45 the night before: inside the 24 h before 22:30, gone by 07:00.
    aged = history([(phone(1), vn(14, 22, 45))] * 3)
    out = decide(batch([{"phone": phone(1), "at": vn(15, 22, 30)}]), aged, QC)
    assert results(out) == [("defer", vn(16, 7), ["quiet_hours"])]
    # Three messages another campaign already deferred to 07:00: nothing at 22:30, full at 07:00.
    queued = history([(phone(1), vn(16, 7))] * 3)
    out = decide(batch([{"phone": phone(1), "at": vn(15, 22, 30)}]), queued, QC)
    assert results(out) == [("suppress", None, ["frequency_cap"])]


def test_every_suppression_reason_in_precedence_order() -> None:
    at = vn(15, 10)
    rows = [
        {"phone": phone(1), "at": at, "invalid_reason": "too_short", "dnc": True},
        {"phone": phone(2), "at": at, "opted_out_at": at - timedelta(days=1), "consent": False},
        {"phone": phone(3), "at": at, "dnc": True},
        {"phone": phone(4), "at": at, "registration": "refuse"},
        {"phone": phone(5), "at": at, "registration": "pending"},
        {"phone": phone(6), "at": at, "registration": "accept"},
        {"phone": phone(7), "at": at, "consent": False},
        # An opt-out that only takes effect tomorrow does not stop today's message.
        {"phone": phone(8), "at": at, "opted_out_at": at + timedelta(days=1)},
    ]
    out = decide(batch(rows), NO_HISTORY, QC)
    assert results(out) == [
        ("suppress", None, ["invalid_number", "dnc"]),
        ("suppress", None, ["opted_out", "no_consent"]),
        ("suppress", None, ["dnc"]),
        ("suppress", None, ["registration_refused"]),
        ("suppress", None, ["registration_refused"]),
        ("send", at, []),
        ("suppress", None, ["no_consent"]),
        ("send", at, []),
    ]
    assert reasons_of(out.row(0, named=True), QC, "en")[0].render("en") == (
        "Invalid phone number: Too few digits: a Vietnamese mobile has 10 digits (0 and 9 more), "
        "a landline 11 (02x…). Check for missing digits."
    )
    assert reasons_of(out.row(1, named=True), QC)[0].render("en") == (
        "The recipient opted out (2025-06-14 10:00)."
    )


def test_an_opt_out_effective_before_the_deferred_instant_stops_it() -> None:
    row = {"phone": phone(1), "at": vn(15, 22, 30), "opted_out_at": vn(16, 6)}
    assert results(decide(batch([row]), NO_HISTORY, QC)) == [("suppress", None, ["opted_out"])]


def test_agreements_lift_the_cap_and_the_hours_for_one_person() -> None:
    at = vn(15, 22, 30)
    sent = history([(p, at - timedelta(hours=h)) for p in (phone(1), phone(2)) for h in (1, 2, 3)])
    rows = [
        {"phone": phone(1), "at": vn(15, 21), "max_qc_per_24h": 5},
        {"phone": phone(2), "at": vn(15, 21), "max_qc_per_24h": 0},  # no cap at all
        {"phone": phone(3), "at": at, "hours_start_s": 0, "hours_end_s": 0},  # any hour
        {"phone": phone(4), "at": at, "hours_start_s": 8 * 3600, "hours_end_s": 23 * 3600},
    ]
    out = decide(batch(rows), sent, QC)
    assert results(out) == [
        ("send", vn(15, 21), []),
        ("send", vn(15, 21), []),
        ("send", at, []),
        ("send", at, []),
    ]


def test_customer_care_skips_advertising_rules_but_not_its_template() -> None:
    at = vn(15, 23)
    sent = history([(phone(1), at - timedelta(hours=h)) for h in (1, 2, 3)])
    rows = [
        {"phone": phone(1), "at": at, "consent": False, "dnc": True, "opted_out_at": at},
        {"phone": phone(2), "at": at, "invalid_reason": "too_long"},
    ]
    care = rules_for(VN_PACK, "cskh")
    assert results(decide(batch(rows), sent, care)) == [
        ("send", at, []),
        ("suppress", None, ["invalid_number"]),
    ]
    unapproved = rules_for(
        VN_PACK,
        "cskh",
        message_reasons=[Reason("template_not_approved"), Reason("missing_label", {"labels": "x"})],
    )
    assert results(decide(batch(rows), sent, unapproved)) == [
        ("suppress", None, ["template_not_approved"]),
        ("suppress", None, ["invalid_number", "template_not_approved"]),
    ]


def test_public_service_needs_a_brandname_and_keeps_its_own_hours_only() -> None:
    at = vn(15, 23)
    rows = [{"phone": phone(1), "at": at, "consent": False, "dnc": True}]
    public = rules_for(VN_PACK, "public")
    assert results(decide(batch(rows), NO_HISTORY, public)) == [("send", at, [])]
    unregistered = rules_for(
        VN_PACK, "public", message_reasons=[Reason("unregistered_brandname", {"sender": "UBND"})]
    )
    out = decide(batch(rows), NO_HISTORY, unregistered)
    assert results(out) == [("suppress", None, ["unregistered_brandname"])]
    assert reasons_of(out.row(0, named=True), unregistered)[0].render("en") == (
        "Brandname 'UBND' is not registered for this workspace."
    )


def test_message_level_reasons_apply_to_every_recipient() -> None:
    rules = rules_for(
        VN_PACK,
        "qc",
        message_reasons=[
            Reason("content_blocked", {"detail": "link to bit.ly"}),
            Reason("missing_optout"),
            Reason("template_not_approved"),  # not a rule for advertising
        ],
    )
    rows = [{"phone": phone(i), "at": vn(15, 22, 30)} for i in range(3)]
    assert (
        results(decide(batch(rows), NO_HISTORY, rules))
        == [("suppress", None, ["content_blocked", "missing_optout"])] * 3
    )


def test_content_safety_reasons_stop_every_class_and_keep_their_words() -> None:
    lookalike = Reason(
        "lookalike_domain",
        {"domain": "vietcombank-vn.top", "brand": "Vietcombank", "official": "vietcombank.com.vn"},
    )
    for cls in ("qc", "cskh", "public"):
        rules = rules_for(VN_PACK, cls, message_reasons=[lookalike, lookalike])
        out = decide(batch([{"phone": phone(1), "at": vn(15, 10)}]), NO_HISTORY, rules)
        assert results(out) == [("suppress", None, ["lookalike_domain"])]
        assert [r.render("en") for r in reasons_of(out.row(0, named=True), rules)] == [
            "The domain 'vietcombank-vn.top' imitates Vietcombank (its real domain: "
            "vietcombank.com.vn)."
        ]


def test_us_recipients_defer_to_eight_on_their_own_clock() -> None:
    us = rules_for(US_PACK, "qc")
    at = datetime(2025, 6, 16, 11, 30, tzinfo=UTC)  # 07:30 New York, 04:30 Los Angeles
    rows = [
        {"phone": "+12125550123", "at": at, "zone": "America/New_York"},
        {"phone": "+13105550123", "at": at, "zone": "America/Los_Angeles"},
        {"phone": "+13125550123", "at": at, "zone": "America/Chicago|America/New_York"},
    ]
    assert results(decide(batch(rows), NO_HISTORY, us)) == [
        ("defer", datetime(2025, 6, 16, 12, tzinfo=UTC), ["quiet_hours"]),
        ("defer", datetime(2025, 6, 16, 15, tzinfo=UTC), ["quiet_hours"]),
        ("defer", datetime(2025, 6, 16, 13, tzinfo=UTC), ["quiet_hours"]),
    ]


def test_zones_with_no_common_hour_are_suppressed() -> None:
    rules = rules_for(US_PACK, "qc")
    rows = [
        {
            "phone": "+12125550123",
            "at": datetime(2025, 6, 16, tzinfo=UTC),
            "zone": "Pacific/Kiritimati|Pacific/Pago_Pago",
            "hours_start_s": 8 * 3600,
            "hours_end_s": 9 * 3600,
        }
    ]
    out = decide(batch(rows), NO_HISTORY, rules)
    assert results(out) == [("suppress", None, ["no_legal_hour"])]
    assert reasons_of(out.row(0, named=True), rules)[0].render("en") == (
        "This number may be in several time zones (Pacific/Kiritimati, Pacific/Pago_Pago) "
        "with no hour allowed in all."
    )


def test_mistakes_in_the_input_are_named() -> None:
    rows = batch([{"phone": phone(1), "at": vn(15, 10)}, {"phone": phone(1), "at": vn(15, 11)}])
    with pytest.raises(LoaError) as dup:
        decide(rows, NO_HISTORY, QC)
    assert dup.value.render("en") == (
        "The number +84910000001 appears more than once in one batch: one message per number "
        "per batch."
    )
    with pytest.raises(LoaError) as cls:
        rules_for(VN_PACK, "promo")
    assert cls.value.render("vi") == "Loại tin 'promo' không có. Chọn một trong: qc, cskh, public."
    with pytest.raises(LoaError) as reason:
        rules_for(VN_PACK, "qc", message_reasons=[Reason("dnc")])
    assert reason.value.code == "compliance.not_message_reason"
    with pytest.raises(LoaError) as missing:
        decide(pl.DataFrame({"phone": [phone(1)]}), NO_HISTORY, QC)
    assert missing.value.render("en") == "The recipients have no 'at' column."


# --- Properties: the engine against the one-at-a-time rules ---------------------------------


def oracle(
    row: dict[str, Any], sent: list[datetime], pack_code: str, allow_defer: bool
) -> tuple[str, datetime | None, list[str]]:
    """The rules for one QC recipient, written the plain way."""
    pack = load_pack(pack_code)
    zones = windows.split_key(row["zone"]) if row.get("zone") else (pack.timezone,)
    hours = windows.hours_of(pack.qc_hours)
    at = row["at"]
    legal = windows.is_legal(at, zones, hours)
    nxt = windows.next_legal(at, zones, hours)
    judged = at if legal or nxt is None or not allow_defer else nxt
    reasons = []
    if row.get("opted_out_at") is not None and row["opted_out_at"] <= judged:
        reasons.append("opted_out")
    if nxt is None:
        reasons.append("no_legal_hour")
    elif not legal and not allow_defer:
        reasons.append("quiet_hours_expired")
    limit = row.get("max_qc_per_24h")
    limit = pack.max_qc_per_24h if limit is None else limit
    count = sum(1 for s in sent if judged - timedelta(days=1) < s <= judged)
    if limit and count >= limit:
        reasons.append("frequency_cap")
    if reasons:
        return ("suppress", None, reasons)
    if not legal:
        return ("defer", nxt, ["quiet_hours"])
    return ("send", at, [])


BASE = datetime(2025, 6, 15, tzinfo=UTC)
minutes = st.integers(0, 4 * 24 * 60)


@st.composite
def vn_cases(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[tuple[str, datetime]]]:
    n = draw(st.integers(1, 6))
    rows = []
    sends: list[tuple[str, datetime]] = []
    for i in range(n):
        at = BASE + timedelta(minutes=draw(minutes), seconds=draw(st.integers(0, 59)))
        row: dict[str, Any] = {"phone": phone(i), "at": at}
        if draw(st.booleans()):
            row["max_qc_per_24h"] = draw(st.integers(0, 4))
        if draw(st.integers(0, 3)) == 0:
            row["opted_out_at"] = at + timedelta(minutes=draw(st.integers(-600, 900)))
        rows.append(row)
        for _ in range(draw(st.integers(0, 6))):
            # Sends spread around the instant, some exactly 24 h before it.
            if draw(st.integers(0, 5)) == 0:
                sends.append((phone(i), at - timedelta(days=1)))
            else:
                sends.append((phone(i), at + timedelta(minutes=draw(st.integers(-2000, 700)))))
    return rows, sends


@settings(max_examples=200, deadline=None)
@given(vn_cases(), st.booleans())
def test_engine_matches_the_plain_rules_for_windows_and_rolling_caps(
    case: tuple[list[dict[str, Any]], list[tuple[str, datetime]]], allow_defer: bool
) -> None:
    rows, sends = case
    rules = rules_for(VN_PACK, "qc", allow_defer=allow_defer)
    out = decide(batch(rows), history(sends), rules)
    expected = [
        oracle(r, sorted(t for p, t in sends if p == r["phone"]), "vn", allow_defer) for r in rows
    ]
    assert results(out) == expected


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 60 * 24 * 2),
    st.sampled_from(
        [datetime(2025, 3, 8, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC)]
    ),  # the days around spring-forward and fall-back
    st.sampled_from(
        [
            "America/New_York",
            "America/Denver",
            "America/Phoenix",  # no daylight saving
            "America/Los_Angeles|America/Phoenix",
            "America/Chicago|America/New_York",
            "Pacific/Honolulu",
        ]
    ),
)
def test_us_zones_and_daylight_saving_match_the_plain_rules(
    minute: int, day: datetime, zone: str
) -> None:
    at = day + timedelta(minutes=minute, seconds=minute % 60)
    row = {"phone": "+12125550123", "at": at, "zone": zone}
    out = decide(batch([row]), NO_HISTORY, rules_for(US_PACK, "qc"))
    assert results(out) == [oracle(row, [], "us", True)]


@settings(max_examples=50, deadline=None)
@given(vn_cases(), st.randoms(use_true_random=False))
def test_same_inputs_same_decisions_in_any_order(
    case: tuple[list[dict[str, Any]], list[tuple[str, datetime]]], rnd: Any
) -> None:
    rows, sends = case
    shuffled_rows, shuffled_sends = rows[:], sends[:]
    rnd.shuffle(shuffled_rows)
    rnd.shuffle(shuffled_sends)
    first = decide(batch(rows), history(sends), QC)
    second = decide(batch(shuffled_rows), history(shuffled_sends), QC)
    assert first.sort("phone").equals(second.sort("phone"))
