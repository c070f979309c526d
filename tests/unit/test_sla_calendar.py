"""Business-time arithmetic: nights, weekends, Japanese holidays, closed dates, DST zones, 24x7."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chatops.rules import BusinessHours
from chatops.sla import AlwaysOpen, BusinessCalendar, SlaClock

JST = ZoneInfo("Asia/Tokyo")
NY = ZoneInfo("America/New_York")


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


@pytest.fixture(scope="module")
def tokyo(rules) -> BusinessCalendar:
    return BusinessCalendar(rules.business_hours)


@pytest.mark.parametrize(("start", "hours", "expected"), [
    (jst(2026, 11, 20, 10, 0), 1, jst(2026, 11, 20, 11, 0)),       # inside the day
    (jst(2026, 11, 19, 17, 30), 1, jst(2026, 11, 20, 9, 30)),      # across a night
    (jst(2026, 11, 19, 20, 0), 1, jst(2026, 11, 20, 10, 0)),       # starts after closing
    # Friday 17:30 + 1h: the weekend, then Monday 11/23 is 勤労感謝の日 (a public holiday)
    (jst(2026, 11, 20, 17, 30), 1, jst(2026, 11, 24, 9, 30)),
    (jst(2026, 11, 21, 12, 0), 8, jst(2026, 11, 24, 17, 0)),       # Saturday start, holiday Monday
    (jst(2026, 11, 20, 9, 0), 27, jst(2026, 11, 25, 18, 0)),       # 3 working days (Fri, Tue, Wed)
    (jst(2026, 12, 28, 17, 0), 2, jst(2027, 1, 4, 10, 0)),         # closed_dates 12/29..1/3
])
def test_business_add_in_tokyo(tokyo, start, hours, expected):
    assert tokyo.add(start, timedelta(hours=hours)) == expected
    assert tokyo.between(start, expected) == timedelta(hours=hours)


def test_open_and_next_open(tokyo):
    assert tokyo.is_open(jst(2026, 11, 20, 9, 0))
    assert not tokyo.is_open(jst(2026, 11, 20, 18, 0))
    assert not tokyo.is_open(jst(2026, 11, 23, 12, 0))  # holiday
    assert tokyo.next_open(jst(2026, 11, 20, 18, 30)) == jst(2026, 11, 24, 9, 0)
    assert tokyo.next_open(jst(2026, 11, 24, 9, 30)) == jst(2026, 11, 24, 9, 30)


def test_dst_zone_keeps_local_hours():
    hours = BusinessHours(timezone="America/New_York", holidays_country="US")
    calendar = BusinessCalendar(hours)
    # DST starts Sunday 2026-03-08: Friday is EST (UTC-5), Monday EDT (UTC-4).
    friday = datetime(2026, 3, 6, 16, 0, tzinfo=NY)
    due = calendar.add(friday, timedelta(hours=3))
    assert due == datetime(2026, 3, 9, 10, 0, tzinfo=NY)   # 2 h on Friday (to 18:00), 1 h on Monday
    assert due.astimezone(UTC).hour == 14
    # DST ends Sunday 2026-11-01, and US Thanksgiving 2026-11-26 is closed.
    assert calendar.add(datetime(2026, 10, 30, 17, 30, tzinfo=NY), timedelta(hours=1)) \
        == datetime(2026, 11, 2, 9, 30, tzinfo=NY)
    assert calendar.add(datetime(2026, 11, 25, 17, 30, tzinfo=NY), timedelta(hours=1)) \
        == datetime(2026, 11, 27, 9, 30, tzinfo=NY)


def test_around_the_clock():
    start = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    assert AlwaysOpen().add(start, timedelta(minutes=15)) == start + timedelta(minutes=15)


def test_policy_deadlines_by_priority_and_tier(rules):
    clock = SlaClock(rules)
    start = jst(2026, 11, 20, 17, 30)
    red = clock.deadlines("red", "standard", start)
    assert red.first_response_due_at == jst(2026, 11, 24, 9, 30)         # 1h business, holiday Monday
    assert red.first_response_warn_at == jst(2026, 11, 24, 9, 18)        # 80% of 1h = 30m + 18m
    premium = clock.deadlines("red", "premium", start)                   # 15m / 4h, 24x7
    assert premium.first_response_due_at == jst(2026, 11, 20, 17, 45)
    assert premium.resolution_due_at == jst(2026, 11, 20, 21, 30)


def test_no_opening_hours_is_refused():
    with pytest.raises(ValueError, match="no opening hours"):
        BusinessCalendar(BusinessHours(weekly={day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}))


def test_add_all_matches_add(tokyo):
    start = jst(2026, 12, 25, 16, 40)
    durations = [timedelta(hours=h, minutes=m) for h, m in ((72, 0), (0, 48), (1, 0), (57, 36), (0, 0), (9, 0))]
    assert tokyo.add_all(start, durations) == [tokyo.add(start, d) for d in durations]
