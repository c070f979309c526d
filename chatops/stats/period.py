"""Periods and filters of `/stats` and `chatops stats`: parsed once, with errors naming the word."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from chatops.errors import InvalidValue
from chatops.rules import Rules

_DAYS = re.compile(r"^(\d{1,3})d$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
FILTERS = ("channel", "tag", "agent", "network")


@dataclass(frozen=True)
class Period:
    """Inclusive local dates, with the period of the same length just before."""

    label: str
    start: date
    end: date
    previous_start: date
    previous_end: date

    @property
    def days(self) -> list[date]:
        """Every date of the period."""
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def parse_period(word: str, today: date) -> Period:
    """`today`, `Nd` (the N days ending today), or `YYYY-MM` (a calendar month)."""
    word = word.strip().lower()
    if word in ("today", "今日"):
        return Period("today", today, today, today - timedelta(days=1), today - timedelta(days=1))
    match = _DAYS.match(word)
    if match and 1 <= int(match.group(1)) <= 366:
        n = int(match.group(1))
        start = today - timedelta(days=n - 1)
        return Period(word, start, today, start - timedelta(days=n), start - timedelta(days=1))
    match = _MONTH.match(word)
    if match and 1 <= int(match.group(2)) <= 12:
        year, month = int(match.group(1)), int(match.group(2))
        start = date(year, month, 1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        prev_end = start - timedelta(days=1)
        return Period(word, start, end, prev_end.replace(day=1), prev_end)
    raise InvalidValue(value=word, field="period", choices="today, 7d, 30d, 2026-11")


@dataclass(frozen=True)
class StatsQuery:
    """A period and at most one filter (`channel`, `tag`, `agent` or `network`)."""

    period: Period
    filters: dict[str, str] = field(default_factory=dict)
    chart: bool = False

    @property
    def fdim(self) -> tuple[str, str]:
        """The rollup filter (dimension, value)."""
        if not self.filters:
            return "all", ""
        (name, value), = self.filters.items()
        return name, value


def parse_query(words: list[str], rules: Rules, now: datetime) -> StatsQuery:
    """Words like `30d channel:#cs-support chart`; InvalidValue naming the bad word."""
    today = now.astimezone(rules.business_hours.tz).date()
    period, filters, chart = None, {}, False
    for word in words:
        name, sep, value = word.partition(":")
        if sep and name.lower() in FILTERS:
            if filters:
                raise InvalidValue(value=word, field="filter", choices="one of channel:, tag:, agent:, network:")
            filters[name.lower()] = _filter_value(name.lower(), value, rules)
        elif word.lower() in ("chart", "グラフ"):
            chart = True
        elif period is None:
            period = parse_period(word, today)
        else:
            raise InvalidValue(value=word, field="stats", choices="period, channel:, tag:, agent:, network:, chart")
    return StatsQuery(period or parse_period("7d", today), filters, chart)


def _filter_value(name: str, value: str, rules: Rules) -> str:
    value = value.strip()
    if name == "channel":
        bare = value.lstrip("#")
        for key, channel in rules.channels.items():
            if bare == key or bare == channel.slack.lstrip("#"):
                return key
        raise InvalidValue(value=value, field="channel", choices=", ".join(rules.channels))
    if name == "agent":
        match = _MENTION.match(value)
        value = match.group(1) if match else value.lstrip("@")
    if name == "tag":
        value = value.lstrip("#").casefold()
    if not value:
        raise InvalidValue(value=value, field=name, choices="a value after ':'")
    return value[:80]
