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
from datetime import datetime

from chatops.rules.schema import BusinessHours
from chatops.sla.calendar import BusinessCalendar

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
    """Business minutes between two moments, stepped like every duration; the opening-hours
    arithmetic is the SLA clock's (chatops.sla.calendar), so /stats and deadlines agree."""

    def __init__(self, hours: BusinessHours) -> None:
        self.calendar = BusinessCalendar(hours)

    def seconds(self, start: datetime, end: datetime) -> float:
        """Business seconds between start and end (0 when end is not after start)."""
        return self.calendar.between(start, end).total_seconds()

    def minutes(self, start: datetime, end: datetime) -> int:
        """Business minutes between start and end, stepped like every duration."""
        return step_minutes(int(self.seconds(start, end) // 60))
