"""Golden hours, holidays and spreading an audience over sending windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from loa.domain.schedule import (
    Window,
    best_hour_instants,
    holiday_name,
    hour_slots,
    intervals,
    preset,
    spread,
)
from loa.i18n import LoaError

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN)  # type: ignore[misc]


def test_real_estate_preset_is_weekend_mornings_and_afternoons() -> None:
    spans = list(
        intervals(vn(2026, 11, 23, 8), preset("real_estate").windows, zone="Asia/Ho_Chi_Minh")
    )
    first = [(a.astimezone(VN), b.astimezone(VN)) for a, b in spans[:3]]
    assert first == [
        (vn(2026, 11, 28, 9), vn(2026, 11, 28, 10)),
        (vn(2026, 11, 28, 15), vn(2026, 11, 28, 16)),
        (vn(2026, 11, 29, 9), vn(2026, 11, 29, 10)),
    ]


def test_a_window_already_open_starts_now() -> None:
    spans = intervals(vn(2026, 11, 23, 16, 30), preset("retail").windows, zone="Asia/Ho_Chi_Minh")
    lo, hi = next(spans)
    assert (lo.astimezone(VN), hi.astimezone(VN)) == (
        vn(2026, 11, 23, 16, 30),
        vn(2026, 11, 23, 17),
    )


def test_holidays_come_from_the_holidays_package_in_vietnamese() -> None:
    name = holiday_name(datetime(2027, 2, 6).date())
    assert name is not None and "Tết" in name
    assert holiday_name(datetime(2027, 3, 10).date()) is None


def test_avoiding_holidays_skips_tet() -> None:
    windows = (Window.parse("mon,tue,wed,thu,fri,sat,sun 09:00-10:00"),)
    days = [
        lo.astimezone(VN).date().isoformat()
        for lo, _ in intervals(
            vn(2027, 2, 3, 0),
            windows,
            zone="Asia/Ho_Chi_Minh",
            end=vn(2027, 2, 12),
            holidays="avoid",
        )
    ]
    assert days == ["2027-02-03", "2027-02-11"]


def test_targeting_holidays_keeps_only_them() -> None:
    spans = intervals(
        vn(2026, 11, 20), None, zone="Asia/Ho_Chi_Minh", end=vn(2026, 11, 30), holidays="only"
    )
    assert [lo.astimezone(VN).date().isoformat() for lo, _ in spans] == ["2026-11-24"]


def test_spread_fills_windows_in_order_at_the_route_speed() -> None:
    windows = (Window.parse("mon 15:00-15:00:10"),)
    spans = intervals(vn(2026, 11, 23, 8), windows, zone="Asia/Ho_Chi_Minh")
    instants, left = spread(25, spans, rate_per_s=2.0)
    assert left == 0
    as_dt = [datetime.fromtimestamp(int(us) / 1e6, UTC).astimezone(VN) for us in instants]
    # 10 s at 2/s: 20 messages on Monday 23rd, the other 5 a week later.
    assert as_dt[0] == vn(2026, 11, 23, 15)
    assert as_dt[1] - as_dt[0] == timedelta(milliseconds=500)
    assert as_dt[19] == vn(2026, 11, 23, 15, 0, 9, 500000)
    assert as_dt[20] == vn(2026, 11, 30, 15)
    assert as_dt[24] == vn(2026, 11, 30, 15, 0, 2)


def test_spread_says_how_many_did_not_fit() -> None:
    spans = iter(
        [(datetime(2026, 11, 23, 8, tzinfo=UTC), datetime(2026, 11, 23, 8, 0, 1, tzinfo=UTC))]
    )
    instants, left = spread(5, spans, rate_per_s=3.0)
    assert left == 2
    assert list(instants[3:]) == [-1, -1]


@pytest.mark.parametrize("bad", ["weekday 09:00-10:00", "mon 10:00-09:00", "mon 9-10", "mon"])
def test_a_bad_window_names_the_value_and_the_form(bad: str) -> None:
    with pytest.raises(LoaError) as err:
        Window.parse(bad)
    assert (
        err.value.render("en") == f"Window '{bad}' is not valid: write it as 'mon,tue 15:00-17:00'."
    )


def test_an_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(LoaError) as err:
        preset("bakery")
    assert err.value.render("en") == (
        "There is no golden-hour preset 'bakery'. Known: real_estate, retail, fashion, fnb, "
        "cosmetics, entertainment, b2b."
    )


def test_best_hour_fills_that_hour_at_the_rate_then_the_same_hour_next_day() -> None:
    # Window 09:00-11:00 daily in Vietnam, 1 message/s. Three people like 10:00, but a 10:00
    # slot of 2 seconds (10:00:00-10:00:02 in this toy window) takes two: the third goes at
    # 10:00 the next day. Someone who likes 20:00 keeps the default instant.
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    start = datetime(2026, 11, 23, 9, 0, tzinfo=zone)
    spans = iter(
        [
            (start, start.replace(hour=10, second=2)),
            (start + timedelta(days=1), (start + timedelta(days=1)).replace(hour=10, second=2)),
        ]
    )
    slots = hour_slots(spans, zone="Asia/Ho_Chi_Minh")
    assert len(slots[9]) == 2 and len(slots[10]) == 2

    def us(at: datetime) -> int:
        return int(at.timestamp() * 1e6)

    default = np.array([us(start) + i for i in range(5)], dtype=np.int64)
    hours = np.array([10, -1, 10, 10, 20], dtype=np.int64)
    out, moved = best_hour_instants(default, hours, slots, rate_per_s=1.0)
    ten = start.replace(hour=10)
    assert moved == 3
    assert out.tolist() == [
        us(ten),
        default[1],
        us(ten) + 1_000_000,
        us(ten + timedelta(days=1)),
        default[4],
    ]
