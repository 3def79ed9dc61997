"""Time rules one instant at a time: the 07:00–22:00 window in Vietnam, US recipients' own
clocks across daylight saving, and the rolling 24-hour cap against a brute-force count."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loa.domain.compliance import windows
from loa.domain.compliance.packs import load_pack

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NY = ZoneInfo("America/New_York")
VN_ZONES = ("Asia/Ho_Chi_Minh",)
QC = windows.hours_of(load_pack("vn").qc_hours)
US = windows.hours_of(load_pack("us").qc_hours)


def vn(day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, second, micro, tzinfo=VN)


@pytest.mark.parametrize(
    ("at", "legal", "next_at"),
    [
        (vn(15, 21, 59, 59), True, vn(15, 21, 59, 59)),
        (vn(15, 21, 59, 59, 999_999), True, vn(15, 21, 59, 59, 999_999)),
        (vn(15, 22), False, vn(16, 7)),
        (vn(15, 23, 30), False, vn(16, 7)),
        (vn(16, 0), False, vn(16, 7)),
        (vn(16, 6, 59), False, vn(16, 7)),
        (vn(16, 6, 59, 59, 999_999), False, vn(16, 7)),
        (vn(16, 7), True, vn(16, 7)),
        (vn(16, 12), True, vn(16, 12)),
    ],
)
def test_vietnam_window_and_next_legal_instant(
    at: datetime, legal: bool, next_at: datetime
) -> None:
    assert windows.is_legal(at, VN_ZONES, QC) is legal
    assert windows.next_legal(at, VN_ZONES, QC) == next_at


def test_pack_hours_read_as_seconds_and_labels() -> None:
    assert windows.Hours(7 * 3600, 22 * 3600) == QC
    assert QC.label() == ("07:00", "22:00")
    assert windows.hours_of(load_pack("vn").public_hours) == windows.ANY_HOUR
    assert windows.parse_hours("20:00", "02:00") == windows.Hours(20 * 3600, 2 * 3600)


def test_a_window_that_wraps_midnight() -> None:
    night = windows.parse_hours("20:00", "02:00")
    assert windows.is_legal(vn(15, 23), VN_ZONES, night)
    assert windows.is_legal(vn(16, 1, 59), VN_ZONES, night)
    assert not windows.is_legal(vn(16, 2), VN_ZONES, night)
    assert windows.next_legal(vn(16, 2), VN_ZONES, night) == vn(16, 20)


def test_us_numbers_use_the_recipients_own_zone() -> None:
    us = load_pack("us")
    assert windows.zones_for_number("+12125550123", us) == ("America/New_York",)
    assert windows.zones_for_number("+13105550123", us) == ("America/Los_Angeles",)
    # The Vietnam pack judges every number on Vietnam's clock.
    assert windows.zones_for_number("+12125550123", load_pack("vn")) == VN_ZONES


def test_us_window_follows_the_clock_across_daylight_saving() -> None:
    zones = ("America/New_York",)
    # 07:59 local on the day clocks spring forward (EST before 02:00, EDT after).
    before = datetime(2025, 3, 9, 7, 59, tzinfo=NY)
    assert not windows.is_legal(before, zones, US)
    assert windows.next_legal(before, zones, US) == datetime(2025, 3, 9, 12, 0, tzinfo=UTC)
    # The day before it opened at 13:00 UTC (EST).
    saturday = datetime(2025, 3, 8, 6, 0, tzinfo=NY)
    assert windows.next_legal(saturday, zones, US) == datetime(2025, 3, 8, 13, 0, tzinfo=UTC)
    # 21:00 EDT the evening before clocks fall back: next opening is 08:00 EST.
    evening = datetime(2025, 11, 1, 21, 0, tzinfo=NY)
    assert windows.next_legal(evening, zones, US) == datetime(2025, 11, 2, 13, 0, tzinfo=UTC)


def test_a_start_inside_the_skipped_hour_opens_at_the_jump() -> None:
    # 02:30 does not exist in New York on 9 March 2025: clocks go from 02:00 EST to 03:00 EDT.
    opens = windows.local_start(datetime(2025, 3, 9), "America/New_York", 2 * 3600 + 1800)
    assert opens == datetime(2025, 3, 9, 7, 0, tzinfo=UTC)
    # 01:30 happens twice on 2 November 2025: the first time counts.
    twice = windows.local_start(datetime(2025, 11, 2), "America/New_York", 3600 + 1800)
    assert twice == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)


def test_a_number_in_several_zones_must_be_inside_all_of_them() -> None:
    zones = ("America/Chicago", "America/New_York")
    # 08:30 in New York is 07:30 in Chicago: not yet.
    at = datetime(2025, 6, 16, 8, 30, tzinfo=NY)
    assert not windows.is_legal(at, zones, US)
    assert windows.next_legal(at, zones, US) == datetime(2025, 6, 16, 13, 0, tzinfo=UTC)
    # 20:30 in Chicago is 21:30 in New York: too late there.
    late = datetime(2025, 6, 16, 21, 30, tzinfo=NY)
    assert windows.next_legal(late, zones, US) == datetime(2025, 6, 17, 13, 0, tzinfo=UTC)
    assert windows.zone_key(["America/New_York", "America/Chicago"]) == (
        "America/Chicago|America/New_York"
    )


def test_zones_whose_windows_never_meet_have_no_legal_instant() -> None:
    apart = ("Pacific/Kiritimati", "Pacific/Pago_Pago")  # UTC+14 and UTC−11: a day apart
    narrow = windows.parse_hours("08:00", "09:00")
    assert windows.next_legal(datetime(2025, 6, 16, tzinfo=UTC), apart, narrow) is None


def test_rolling_cap_counts_the_open_left_edge() -> None:
    at = datetime(2025, 6, 15, 12, tzinfo=UTC)
    history = [
        at - timedelta(hours=24),
        at - timedelta(hours=23, minutes=59),
        at - timedelta(hours=1),
    ]
    # The message exactly 24 hours ago has left the window (t − 24 h, t].
    assert windows.count_in_24h(history, at) == 2
    assert windows.cap_allows(history, at, 3)
    assert not windows.cap_allows(history, at, 2)
    assert windows.cap_allows(history, at, 0)  # 0 = no cap
    assert windows.slot_frees_at(history, at, 2) == at + timedelta(minutes=1)
    assert windows.slot_frees_at(history, at, 3) == at


instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)


def brute_count(history: list[datetime], at: datetime) -> int:
    return sum(1 for h in history if at - timedelta(days=1) < h <= at)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 4 * 86_400), max_size=12),
    st.integers(0, 4 * 86_400),
    st.integers(1, 4),
)
def test_rolling_cap_matches_a_brute_force_count(
    offsets_s: list[int], at_s: int, limit: int
) -> None:
    base = datetime(2025, 6, 13, tzinfo=UTC)
    history = sorted(base + timedelta(seconds=s) for s in offsets_s)
    at = base + timedelta(seconds=at_s)
    assert windows.count_in_24h(history, at) == brute_count(history, at)
    assert windows.cap_allows(history, at, limit) is (brute_count(history, at) < limit)
    frees = windows.slot_frees_at(history, at, limit)
    # It is a slot, and no earlier second from `at` on is one.
    assert brute_count(history, frees) < limit
    probe = at
    while probe < frees:
        assert brute_count(history, probe) >= limit
        probe += timedelta(minutes=7)


@settings(max_examples=300, deadline=None)
@given(instants, st.sampled_from(["Asia/Ho_Chi_Minh", "America/New_York", "America/Denver"]))
def test_next_legal_is_the_first_legal_instant(at: datetime, zone_name: str) -> None:
    zones = (zone_name,)
    nxt = windows.next_legal(at, zones, QC)
    assert nxt is not None and nxt >= at
    assert windows.is_legal(nxt, zones, QC)
    if nxt > at:
        # The instant just before is illegal, and so is every hour in between.
        assert not windows.is_legal(nxt - timedelta(seconds=1), zones, QC)
        probe = at
        while probe < nxt:
            assert not windows.is_legal(probe, zones, QC)
            probe += timedelta(minutes=13)
        assert windows.seconds_of_day(nxt, zone_name) == pytest.approx(7 * 3600)


def test_hours_start_read_from_time_objects() -> None:
    assert windows.hours_of((time(8), time(21))) == US
