"""Exact definitions shared by the projector, the queries, the generator and the tests.

- A day is the local date in the team's time zone (rules.yaml `business_hours.timezone`),
  stored as `date.toordinal()`.
- A duration is whole minutes (seconds dropped), then rounded down to the step of its range:
  1 min under 1 h, 5 min under 6 h, 30 min under 24 h, 6 h under 7 days, 1 day beyond.
  Managers read "12 min", "2 h 35 min", "3 d"; the steps keep the histogram small.
- A percentile p of n durations is the nearest rank: the value at position ceil(p/100 * n)
  (1-based) in ascending order; the median is p = 50.
- Business time counts only the opening hours of `business_hours` (weekly ranges, public
  holidays of `holidays_country`, `closed_dates`).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays as holidays_lib

from chatops.rules.schema import BusinessHours

_STEPS = ((60, 1), (6 * 60, 5), (24 * 60, 30), (7 * 24 * 60, 360))


def step_minutes(minutes: int) -> int:
    """Round whole minutes down to the step of their range (see the module docstring)."""
    for limit, step in _STEPS:
        if minutes < limit:
            return minutes - minutes % step
    return minutes - minutes % 1440


def duration_minutes(start: datetime, end: datetime) -> int:
    """Whole minutes from start to end, stepped; never negative."""
    return step_minutes(max(0, int((end - start).total_seconds() // 60)))


def local_day(moment: datetime, tz) -> int:
    """The team's local date of `moment`, as an ordinal."""
    return moment.astimezone(tz).date().toordinal()


def nearest_rank(histogram: list[tuple[int, int]], p: float) -> int | None:
    """The p-th percentile (nearest rank) of a histogram [(value, count)], None when empty."""
    total = sum(count for _, count in histogram)
    if total <= 0:
        return None
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for value, count in sorted(histogram):
        seen += count
        if seen >= rank:
            return value
    return None


class BusinessClock:
    """Opening-hours arithmetic for `business_hours` (minutes of business time between two moments)."""

    def __init__(self, hours: BusinessHours) -> None:
        self.hours = hours
        self.tz = hours.tz
        self.closed = set(hours.closed_dates)
        self._holidays = holidays_lib.country_holidays(hours.holidays_country) if hours.holidays_country else None

    @lru_cache(maxsize=4096)  # noqa: B019 (one clock per rules object, bounded)
    def _open_minutes(self, day: date) -> tuple[tuple[int, int], ...]:
        if day in self.closed or (self._holidays is not None and day in self._holidays):
            return ()
        return tuple(self.hours.opening_hours(day.weekday()))

    def seconds(self, start: datetime, end: datetime) -> float:
        """Business seconds between start and end (0 when end is not after start)."""
        if end <= start:
            return 0.0
        start, end = start.astimezone(self.tz), end.astimezone(self.tz)
        total = 0.0
        day = start.date()
        while day <= end.date():
            midnight = datetime(day.year, day.month, day.day, tzinfo=self.tz)
            for open_min, close_min in self._open_minutes(day):
                lo = max(start, midnight + timedelta(minutes=open_min))
                hi = min(end, midnight + timedelta(minutes=close_min))
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
            if (day - start.date()).days > 400:  # a year of business time is plenty for stats
                break
        return total

    def minutes(self, start: datetime, end: datetime) -> int:
        """Business minutes between start and end, stepped like every duration."""
        return step_minutes(int(self.seconds(start, end) // 60))
