"""Who is on call: rotations with a local handoff time, overrides from rules.yaml and from
people (`/oncall override`). Pure functions over the schedule and an instant."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chatops.rules.oncall import Schedule


@dataclass(frozen=True)
class Cover:
    """One person holding a schedule over [start, end) (UTC)."""

    user: str
    start: datetime
    end: datetime


def _handoff(schedule: Schedule) -> time:
    hours, minutes = map(int, schedule.handoff.split(":"))
    return time(hours, minutes)


def shift_at(schedule: Schedule, at: datetime) -> Cover:
    """The regular rotation's shift holding `at` (overrides ignored)."""
    zone, handoff = ZoneInfo(schedule.timezone), _handoff(schedule)
    local = at.astimezone(zone)
    day = local.date() if local.time() >= handoff else local.date() - timedelta(days=1)
    period_days = schedule.period.days
    index = (day - schedule.start).days // period_days
    first = schedule.start + timedelta(days=index * period_days)
    start = datetime.combine(first, handoff, zone).astimezone(UTC)
    end = datetime.combine(first + timedelta(days=period_days), handoff, zone).astimezone(UTC)
    return Cover(schedule.members[index % len(schedule.members)], start, end)


def rules_overrides(schedule: Schedule) -> list[Cover]:
    """Overrides written in rules.yaml (local times of the schedule) as UTC covers."""
    zone = ZoneInfo(schedule.timezone)

    def utc(moment: datetime) -> datetime:
        return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)

    return [Cover(item.user, utc(item.start), utc(item.end)) for item in schedule.overrides]


def on_call(schedule: Schedule, at: datetime, overrides: Iterable[Cover] = ()) -> Cover:
    """Who holds the schedule at `at`: the latest listed override covering it, else the rotation."""
    covering = [cover for cover in (*rules_overrides(schedule), *overrides) if cover.start <= at < cover.end]
    if covering:
        return covering[-1]
    return shift_at(schedule, at)


def now_and_next(schedule: Schedule, at: datetime, overrides: Iterable[Cover] = ()) -> tuple[Cover, Cover]:
    """Who holds the schedule now, and who takes over at the next change (handoff or override)."""
    overrides = [*rules_overrides(schedule), *overrides]
    current = on_call(schedule, at, overrides)
    changes = [shift_at(schedule, at).end, current.end]
    changes += [cover.start for cover in overrides if cover.start > at]
    changes += [cover.end for cover in overrides if cover.end > at]
    moment = min(change for change in changes if change > at)
    following = on_call(schedule, moment, overrides)
    return Cover(current.user, current.start, moment), Cover(following.user, moment, following.end)


def shifts(schedule: Schedule, start: datetime, until: datetime,
           overrides: Iterable[Cover] = ()) -> list[Cover]:
    """Who holds the schedule from `start` to `until`, one entry per change."""
    overrides = list(overrides)
    out: list[Cover] = []
    at = start
    while at < until and len(out) < 200:
        current, following = now_and_next(schedule, at, overrides)
        out.append(Cover(current.user, at, min(current.end, until)))
        at = current.end
    return out
