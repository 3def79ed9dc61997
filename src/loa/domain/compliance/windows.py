"""Time rules, one instant at a time: allowed hours in a zone, the next legal instant, and the
rolling 24-hour cap.

These are the reference answers. The vectorised engine (`decide.py`) computes the same things
over a million recipients at once, and property tests hold it to these functions.

Hours are wall-clock: "07:00–22:00 in Asia/Ho_Chi_Minh" means what a clock in that zone shows,
so on a US daylight-saving day the window moves with the clock. A number that maps to several
zones (an area code that straddles a zone line, a toll-free number) must be inside the window
in every one of them: the only choice that is legal wherever the recipient really is.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_timezone

from loa.domain.compliance.packs import Pack

DAY_S = 86_400
DAY = timedelta(days=1)
RECIPIENT = "recipient"
# Zones the number's prefix cannot tell: phonenumbers answers this placeholder.
_UNKNOWN_ZONE = "Etc/Unknown"
# When several zones' windows never overlap (toll-free numbers spanning Guam to Alaska), the
# search for a common instant gives up after this many steps.
MAX_ZONE_STEPS = 8


@dataclass(frozen=True, slots=True)
class Hours:
    """A daily window [start_s, end_s) in seconds after local midnight.

    `start_s > end_s` wraps past midnight (22:00–06:00); `start_s == end_s` is any hour."""

    start_s: int
    end_s: int

    @property
    def any_hour(self) -> bool:
        return self.start_s == self.end_s

    def label(self) -> tuple[str, str]:
        """('07:00', '22:00') as people read it."""
        return _clock(self.start_s), _clock(self.end_s)


ANY_HOUR = Hours(0, 0)


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds % DAY_S, 3600)
    return f"{hours:02d}:{rest // 60:02d}"


def hours_of(value: tuple[time, time] | None) -> Hours:
    """A pack's `(start, end)` as `Hours`; None (no statutory window) is any hour."""
    if value is None:
        return ANY_HOUR
    start, end = value
    return Hours(_seconds(start), _seconds(end))


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def parse_hours(start: str, end: str) -> Hours:
    """Hours from 'HH:MM' strings (as agreements store them)."""
    return Hours(_seconds(time.fromisoformat(start)), _seconds(time.fromisoformat(end)))


@cache
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (cached: ZoneInfo objects are cheap to reuse, not to build)."""
    return ZoneInfo(name)


def zones_for_number(e164: str, pack: Pack) -> tuple[str, ...]:
    """The zones a recipient's clock may show, sorted: the pack's fixed zone, or (for packs
    whose hours are the recipient's own) every zone the number's prefix maps to.

    A number whose prefix names no zone is judged on UTC: without more data Loa cannot know
    the recipient's clock, and UTC is at least the same answer every time."""
    if pack.timezone != RECIPIENT:
        return (pack.timezone,)
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ("UTC",)
    found = tuple(sorted(phone_timezone.time_zones_for_number(number)))
    known = tuple(z for z in found if z != _UNKNOWN_ZONE)
    return known or ("UTC",)


def zone_key(zones: Sequence[str]) -> str:
    """Several zones as one string ('America/Chicago|America/New_York'), as the engine keys them."""
    return "|".join(sorted(zones))


def split_key(key: str) -> tuple[str, ...]:
    """The zones of a key made by `zone_key`."""
    return tuple(key.split("|"))


def seconds_of_day(at: datetime, zone_name: str) -> float:
    """The wall-clock time of `at` in `zone_name`, as seconds after local midnight."""
    local = at.astimezone(zone(zone_name))
    return local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6


def _inside(tod_s: float, hours: Hours) -> bool:
    if hours.any_hour:
        return True
    if hours.start_s < hours.end_s:
        return hours.start_s <= tod_s < hours.end_s
    return tod_s >= hours.start_s or tod_s < hours.end_s


def is_legal(at: datetime, zones: Sequence[str], hours: Hours) -> bool:
    """Whether `at` is inside `hours` on the clock of every zone in `zones`."""
    return all(_inside(seconds_of_day(at, z), hours) for z in zones)


def local_start(day: datetime, zone_name: str, start_s: int) -> datetime:
    """The first instant on `day` (a naive local date) whose wall clock reads `start_s` or later.

    On a spring-forward day a start inside the skipped hour opens at the jump itself; on a
    fall-back day a start inside the repeated hour opens at its first occurrence."""
    tz = zone(zone_name)
    wall = datetime(day.year, day.month, day.day) + timedelta(seconds=start_s)
    readings = sorted(wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))
    real = [r for r in readings if r.astimezone(tz).replace(tzinfo=None) == wall]
    if real:
        return real[0]
    # The wall time does not exist: the window opens at the jump, between the two readings.
    lo, hi = readings
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def _next_in_zone(at: datetime, zone_name: str, hours: Hours) -> datetime:
    local = at.astimezone(zone(zone_name))
    tod_s = seconds_of_day(at, zone_name)
    if _inside(tod_s, hours):
        return at
    midnight = datetime(local.year, local.month, local.day)
    # Outside a plain window: before the start today, or past the end (start tomorrow). A
    # wrapping window's gap lies inside one day, so its start is always today.
    day = midnight if tod_s < hours.start_s else midnight + DAY
    return local_start(day, zone_name, hours.start_s)


def next_legal(at: datetime, zones: Sequence[str], hours: Hours) -> datetime | None:
    """The first instant at or after `at` inside `hours` in every zone; `at` itself when it is
    legal already; None when the zones' windows never meet."""
    current = at
    for _ in range(MAX_ZONE_STEPS):
        moved = max(_next_in_zone(current, z, hours) for z in zones)
        if moved == current:
            return current
        current = moved
    return current if is_legal(current, zones, hours) else None


def count_in_24h(history: Sequence[datetime], at: datetime) -> int:
    """How many of the sorted `history` instants lie in the rolling window (at − 24 h, at]."""
    return bisect_right(history, at) - bisect_right(history, at - DAY)


def cap_allows(history: Sequence[datetime], at: datetime, max_per_24h: int) -> bool:
    """Whether one more message at `at` keeps the rolling 24 h count within `max_per_24h`
    (0 = no cap)."""
    return max_per_24h == 0 or count_in_24h(history, at) < max_per_24h


def slot_frees_at(history: Sequence[datetime], at: datetime, max_per_24h: int) -> datetime:
    """The earliest instant at or after `at` when one more message fits under the cap: when
    enough of the messages in the window have aged past 24 hours (later ones in `history`,
    e.g. already scheduled, count too)."""
    current = at
    while not cap_allows(history, current, max_per_24h):
        lo = bisect_right(history, current - DAY)
        count = count_in_24h(history, current)
        # The window must shed `count - max + 1` messages; the last of them leaves 24 h after
        # it was sent (the window is open on the left).
        current = history[lo + count - max_per_24h] + DAY
    return current
