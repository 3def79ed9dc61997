"""When a campaign's messages leave: golden-hour presets, holidays, and spreading an audience
over the sending windows at the routes' speed. Pure: the clock is always passed in.

The policy pack's legal hours are not applied here; the compliance engine defers whatever falls
outside them, so no path can send at an illegal hour by choosing an odd schedule.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import numpy as np
import numpy.typing as npt

from loa.i18n import LoaError, Msg

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HolidayRule = Literal["any", "avoid", "only"]
# How far ahead a schedule looks for windows before it gives up on the rest of an audience.
HORIZON_DAYS = 60

UNKNOWN_PRESET = Msg(
    "schedule.unknown_preset",
    "Không có khung giờ vàng '{name}'. Có: {known}.",
    "There is no golden-hour preset '{name}'. Known: {known}.",
)
BAD_WINDOW = Msg(
    "schedule.bad_window",
    "Khung giờ '{value}' không hợp lệ: viết dạng 'mon,tue 15:00-17:00'.",
    "Window '{value}' is not valid: write it as 'mon,tue 15:00-17:00'.",
)
BAD_RATE = Msg(
    "schedule.bad_rate",
    "Tốc độ gửi phải lớn hơn 0 tin/giây (đang là {rate}).",
    "The sending rate must be above 0 messages/s (it is {rate}).",
)


@dataclass(frozen=True, slots=True)
class Window:
    """A weekly sending window in local time: these weekdays (0 = Monday), from start to end."""

    days: frozenset[int]
    start: time
    end: time

    @classmethod
    def parse(cls, value: str) -> Window:
        """`'sat,sun 09:00-10:00'` → a window; a clear error otherwise."""
        try:
            days_part, hours = value.strip().split()
            start_s, end_s = hours.split("-")
            days = frozenset(DAY_NAMES.index(d.strip().lower()) for d in days_part.split(","))
            start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
        except ValueError:
            raise LoaError(BAD_WINDOW, value=value) from None
        if not start < end:
            raise LoaError(BAD_WINDOW, value=value)
        return cls(days, start, end)

    def __str__(self) -> str:
        days = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class Preset:
    """An industry's golden hours."""

    key: str
    name_vi: str
    name_en: str
    windows: tuple[Window, ...]


@cache
def presets() -> dict[str, Preset]:
    """The golden-hour presets shipped in `loa/data/golden_hours.toml`."""
    raw = tomllib.loads(
        (resources.files("loa.data") / "golden_hours.toml").read_text(encoding="utf-8")
    )
    return {
        key: Preset(
            key,
            item["name_vi"],
            item["name_en"],
            tuple(Window.parse(f"{days} {start}-{end}") for days, start, end in item["windows"]),
        )
        for key, item in raw.items()
    }


def preset(name: str) -> Preset:
    """One preset by key, or an error listing the known ones."""
    known = presets()
    if name not in known:
        raise LoaError(UNKNOWN_PRESET, name=name, known=", ".join(known))
    return known[name]


@cache
def _holidays(country: str, year: int) -> dict[date, str]:
    return dict(holidays_lib.country_holidays(country, years=year, language="vi"))


def holiday_name(day: date, country: str = "VN") -> str | None:
    """The public holiday on `day` (Tết and the others, from the `holidays` package), if any."""
    return _holidays(country, day.year).get(day)


def _day_allowed(day: date, rule: HolidayRule, country: str) -> bool:
    if rule == "any":
        return True
    is_holiday = holiday_name(day, country) is not None
    return is_holiday if rule == "only" else not is_holiday


def intervals(
    start: datetime,
    windows: tuple[Window, ...] | None,
    *,
    zone: str,
    end: datetime | None = None,
    holidays: HolidayRule = "any",
    country: str = "VN",
) -> Iterator[tuple[datetime, datetime]]:
    """Sending intervals (aware, UTC) from `start` on, in order.

    With no windows the whole span from `start` to `end` is one interval (open-ended when `end`
    is None). Weekly windows are expanded day by day in `zone`, at most `HORIZON_DAYS` ahead.
    """
    start = start.astimezone(UTC)
    far = start + timedelta(days=HORIZON_DAYS)
    stop = min(end.astimezone(UTC), far) if end is not None else far
    if not windows:
        if holidays == "any":
            yield start, (end.astimezone(UTC) if end is not None else far)
            return
        windows = (Window(frozenset(range(7)), time(0), time.max),)
    tz = ZoneInfo(zone)
    day = start.astimezone(tz).date()
    while True:
        if datetime.combine(day, time(0), tz).astimezone(UTC) >= stop:
            return
        if _day_allowed(day, holidays, country):
            todays = sorted((w.start, w.end) for w in windows if day.weekday() in w.days)
            for w_start, w_end in todays:
                lo = max(datetime.combine(day, w_start, tz).astimezone(UTC), start)
                hi = min(datetime.combine(day, w_end, tz).astimezone(UTC), stop)
                if lo < hi:
                    yield lo, hi
        day += timedelta(days=1)


def spread(
    count: int,
    spans: Iterator[tuple[datetime, datetime]],
    *,
    rate_per_s: float,
) -> tuple[npt.NDArray[np.int64], int]:
    """Send instants (epoch microseconds, UTC) for `count` messages at `rate_per_s`, filling
    the intervals in order; also how many did not fit before the intervals ran out.

    The i-th message leaves i / rate seconds into the sending time, so a plan knows when its
    last message leaves. Messages that do not fit get -1.
    """
    if rate_per_s <= 0:
        raise LoaError(BAD_RATE, rate=rate_per_s)
    out = np.full(count, -1, dtype=np.int64)
    step_us = 1e6 / rate_per_s
    placed = 0
    for lo, hi in spans:
        if placed >= count:
            break
        lo_us = int(lo.timestamp() * 1e6)
        span_us = int(hi.timestamp() * 1e6) - lo_us
        fits = min(count - placed, int(np.ceil(span_us / step_us)))
        if fits <= 0:
            continue
        out[placed : placed + fits] = lo_us + (np.arange(fits) * step_us).astype(np.int64)
        placed += fits
    return out, count - placed


def sending_time_s(count: int, rate_per_s: float) -> float:
    """How long `count` messages take at `rate_per_s`, ignoring windows."""
    if rate_per_s <= 0:
        raise LoaError(BAD_RATE, rate=rate_per_s)
    return count / rate_per_s


def hour_slots(
    spans: Iterator[tuple[datetime, datetime]], *, zone: str, days: int = 14
) -> dict[int, list[tuple[int, int]]]:
    """The sending intervals cut at local clock hours: for each hour of the day (0..23, in
    `zone`), its slots (epoch µs from, to) in order, over the first `days` days."""
    tz = ZoneInfo(zone)
    slots: dict[int, list[tuple[int, int]]] = {h: [] for h in range(24)}
    stop: datetime | None = None
    for lo, hi in spans:
        stop = stop or lo + timedelta(days=days)
        if lo >= stop:
            break
        at = lo
        hi = min(hi, stop)
        while at < hi:
            local = at.astimezone(tz)
            boundary = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            upto = min(boundary.astimezone(UTC), hi)
            slots[local.hour].append((int(at.timestamp() * 1e6), int(upto.timestamp() * 1e6)))
            at = upto
    return slots


def best_hour_instants(
    default_us: npt.NDArray[np.int64],
    hours: npt.NDArray[np.int64],
    slots: dict[int, list[tuple[int, int]]],
    *,
    rate_per_s: float,
) -> tuple[npt.NDArray[np.int64], int]:
    """Send instants when each recipient (in priority order) goes at their own best hour.

    A recipient with a best local hour (0..23; -1 for none) leaves in the first slot of that
    hour, those of one hour one after another at `rate_per_s` (a full slot moves the rest to
    the same hour the next day); whoever has no best hour, or whose hour the schedule never
    opens, keeps `default_us` (the preset's spread). Also how many were placed by their hour."""
    if rate_per_s <= 0:
        raise LoaError(BAD_RATE, rate=rate_per_s)
    out = default_us.copy()
    step_us = 1e6 / rate_per_s
    moved = 0
    for hour in range(24):
        members = np.flatnonzero(hours == hour)
        placed = 0
        for lo_us, hi_us in slots.get(hour, []):
            if placed >= members.shape[0]:
                break
            fits = min(members.shape[0] - placed, int(np.ceil((hi_us - lo_us) / step_us)))
            chosen = members[placed : placed + fits]
            out[chosen] = lo_us + (np.arange(fits) * step_us).astype(np.int64)
            placed += fits
        moved += placed
    return out, moved
