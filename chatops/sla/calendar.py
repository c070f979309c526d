"""Business time: opening hours per weekday in the team's time zone, public holidays of a
country (the `holidays` package), extra closed dates; or around the clock (24x7).

Arithmetic works on UTC instants. Each local day's opening spans are turned into UTC
intervals once (cached), so DST shifts are handled by zoneinfo and a deadline costs a few
dictionary look-ups, cheap enough for the ingest hot path.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol

from chatops.rules.schema import BusinessHours

_ZERO = timedelta(0)
_SEARCH_DAYS = 800  # a calendar with no opening in this many days is treated as never open


class Calendar(Protocol):
    """What SLA arithmetic needs from a calendar."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when `duration` of open time has passed after `start`."""

    def add_all(self, start: datetime, durations: list[timedelta]) -> list[datetime]:
        """`add` for several durations from one start, in one walk."""

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Open time between two instants (zero when end <= start)."""

    def is_open(self, at: datetime) -> bool:
        """Tell whether the team works at this instant."""

    def next_open(self, at: datetime) -> datetime:
        """`at` when open, else the instant the team is back."""


class AlwaysOpen:
    """The 24x7 calendar."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start + duration

    def add_all(self, start: datetime, durations: list[timedelta]) -> list[datetime]:
        return [start + duration for duration in durations]

    def between(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, _ZERO)

    def is_open(self, at: datetime) -> bool:
        return True

    def next_open(self, at: datetime) -> datetime:
        return at


class BusinessCalendar:
    """The team's working week from rules.yaml `business_hours`."""

    def __init__(self, hours: BusinessHours) -> None:
        self.hours = hours
        self.tz = hours.tz
        self.closed = set(hours.closed_dates)
        self._country = hours.holidays_country
        self._holiday_years: dict[int, set[date]] = {}
        self._weekly = [hours.opening_hours(day) for day in range(7)]
        if not any(self._weekly):
            raise ValueError("business_hours: no opening hours on any day")
        self.spans = lru_cache(maxsize=4096)(self._spans)

    def holidays(self, year: int) -> set[date]:
        """Public holidays of the configured country in `year` (empty without a country)."""
        found = self._holiday_years.get(year)
        if found is None:
            found = set()
            if self._country:
                import holidays

                found = set(holidays.country_holidays(self._country, years=year))
            self._holiday_years[year] = found
        return found

    def is_working_day(self, day: date) -> bool:
        """Not a closed date, not a public holiday, and the weekday has hours."""
        return bool(self._weekly[day.weekday()]) and day not in self.closed and day not in self.holidays(day.year)

    def _spans(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The open intervals of local `day`, as UTC instants."""
        if not self.is_working_day(day):
            return ()
        out = []
        for start, end in self._weekly[day.weekday()]:
            out.append((self._instant(day, start), self._instant(day, end)))
        return tuple(out)

    def _instant(self, day: date, minutes: int) -> datetime:
        if minutes >= 24 * 60:
            day, minutes = day + timedelta(days=1), minutes - 24 * 60
        local = datetime.combine(day, time(minutes // 60, minutes % 60), self.tz)
        return local.astimezone(UTC)

    def _days_from(self, at: datetime):
        day = at.astimezone(self.tz).date() - timedelta(days=1)  # a span may cross midnight
        for offset in range(_SEARCH_DAYS):
            yield day + timedelta(days=offset)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        left = duration
        for day in self._days_from(start):
            for begin, end in self.spans(day):
                if end <= start:
                    continue
                begin = max(begin, start)
                if begin + left <= end:
                    return begin + left
                left -= end - begin
        raise ValueError("business_hours: no opening hours found within two years")

    def add_all(self, start: datetime, durations: list[timedelta]) -> list[datetime]:
        # Ingest computes four moments per new ticket: one walk over the days serves them all.
        order = sorted(range(len(durations)), key=durations.__getitem__)
        out: list[datetime] = [start] * len(durations)
        used, position = _ZERO, 0
        for day in self._days_from(start):
            for begin, end in self.spans(day):
                if end <= start:
                    continue
                begin = max(begin, start)
                span = end - begin
                while position < len(order) and durations[order[position]] - used <= span:
                    out[order[position]] = begin + (durations[order[position]] - used)
                    position += 1
                if position == len(order):
                    return out
                used += span
        raise ValueError("business_hours: no opening hours found within two years")

    def between(self, start: datetime, end: datetime) -> timedelta:
        total = _ZERO
        if end <= start:
            return total
        for day in self._days_from(start):
            for begin, finish in self.spans(day):
                if begin >= end:
                    return total
                overlap = min(finish, end) - max(begin, start)
                if overlap > _ZERO:
                    total += overlap
        return total

    def is_open(self, at: datetime) -> bool:
        local_day = at.astimezone(self.tz).date()
        return any(begin <= at < end for day in (local_day - timedelta(days=1), local_day)
                   for begin, end in self.spans(day))

    def next_open(self, at: datetime) -> datetime:
        for day in self._days_from(at):
            for begin, end in self.spans(day):
                if end > at:
                    return max(begin, at)
        raise ValueError("business_hours: no opening hours found within two years")
