"""Scalar field types of rules.yaml: names, durations, time ranges, keywords, regexes.

Each validator raises ValueError with a message meant for the person editing rules.yaml;
the loader prefixes it with the file, line and field path.
"""

import re
from datetime import date, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator

from chatops.rules.normalize import normalize

PRIORITIES = ("red", "orange", "green")
LEVELS = ("L1", "L2", "L3")
SOURCES = ("x", "facebook", "instagram", "line", "mastodon", "bluesky", "webhook")
KINDS = ("mention", "reply", "dm", "comment", "keyword")
LANGUAGES = ("ja", "en")
CUSTOMER_TIERS = ("standard", "premium")
TIERS = (*CUSTOMER_TIERS, "*")  # '*' in an SLA policy: any tier without a policy of its own
CALENDARS = ("business", "24x7")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ROLE_NAMES = ("agents", "leads", "managers", "everyone")
ACTIONS = ("claim", "reply", "escalate", "resolve", "reopen", "assign", "stats")


def _one_of(what: str, allowed: tuple[str, ...]):
    """Build a validator accepting only the given names; what is e.g. 'a priority'."""

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not {what} ({', '.join(allowed)})")
        return value

    return AfterValidator(check)


def _matching(pattern: str, what: str):
    """Build a validator accepting strings that fully match pattern."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


PriorityName = Annotated[str, _one_of("a priority", PRIORITIES)]
LevelName = Annotated[str, _one_of("a level", LEVELS)]
Source = Annotated[str, _one_of("a source", SOURCES)]
Kind = Annotated[str, _one_of("a kind", KINDS)]
Language = Annotated[str, _one_of("a language", LANGUAGES)]
Tier = Annotated[str, _one_of("a customer tier", TIERS)]
Calendar = Annotated[str, _one_of("a calendar", CALENDARS)]
Day = Annotated[str, _one_of("a day", DAYS)]
RoleName = Annotated[str, _one_of("a role", ROLE_NAMES)]
Action = Annotated[str, _one_of("an action", ACTIONS)]

Identifier = Annotated[str, _matching(r"[a-z0-9][a-z0-9_-]*", "an id (lowercase letters, digits, '-', '_')")]
ChannelName = Identifier
Tag = Annotated[str, _matching(r"[^\s,]+", "a tag (no spaces or commas)")]
UserId = Annotated[str, _matching(r"\S+", "a user id (no spaces)")]
Recipient = Annotated[
    str,
    _matching(r"[UW][A-Z0-9]{2,}|@[a-z0-9][a-z0-9._-]*", "a Slack user id (U012ABC) or group handle (@team)"),
]
SlackChannel = Annotated[
    str,
    _matching(r"[CG][A-Z0-9]{2,}|#[a-z0-9][a-z0-9_-]{0,79}", "a Slack channel id (C012ABC) or #name"),
]
WebhookUrl = Annotated[str, _matching(r"https?://\S+", "an http(s) URL")]
HexColor = Annotated[str, _matching(r"#[0-9a-fA-F]{6}", "a hex colour like #d50000")]
NonEmpty = Annotated[str, _matching(r"(?s).*\S.*", "a non-empty text")]

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")


def parse_duration(value: object) -> timedelta:
    """Parse '2d', '1h30m', '45m' into a timedelta (a positive whole number of minutes)."""
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"{value!r} is not a duration (write e.g. 30m, 1h, 1h30m, 2d)")
    days, hours, minutes = (int(group or 0) for group in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes)
    if not duration:
        raise ValueError(f"{value!r} is zero; a duration must be positive")
    return duration


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

_TIME_RANGE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)")


def minutes_of_range(value: str) -> tuple[int, int]:
    """Return (start, end) minutes since midnight of an already validated 'HH:MM-HH:MM'."""
    start_h, start_m, end_h, end_m = map(int, _TIME_RANGE.fullmatch(value).groups())
    return start_h * 60 + start_m, end_h * 60 + end_m


def _check_time_range(value: str) -> str:
    """Accept 'HH:MM-HH:MM' with start before end (end may be 24:00)."""
    if not _TIME_RANGE.fullmatch(value):
        raise ValueError(f"{value!r} is not a time range (write HH:MM-HH:MM, e.g. 09:00-18:00)")
    start, end = minutes_of_range(value)
    if end > 24 * 60 or start >= end:
        raise ValueError(f"{value!r}: the range must start before it ends (00:00-24:00 at most)")
    return value


TimeRange = Annotated[str, AfterValidator(_check_time_range)]


def _check_timezone(value: str) -> str:
    """Accept IANA time zone names known to zoneinfo."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known time zone (e.g. Asia/Tokyo, UTC)") from None
    return value


Timezone = Annotated[str, AfterValidator(_check_timezone)]


def _check_country(value: str) -> str:
    """Accept country codes the `holidays` package has calendars for (any code if it is absent)."""
    try:
        import holidays
    except ImportError:  # optional at this layer: the SLA calendar reports it when needed
        return value
    if value not in holidays.list_supported_countries():
        raise ValueError(f"{value!r} is not a country the holidays package knows (e.g. JP, US)")
    return value


Country = Annotated[str, AfterValidator(_check_country)]


def expand_dates(value: object) -> object:
    """Expand 'YYYY-MM-DD..YYYY-MM-DD' items of a date list into every date of the range."""
    if not isinstance(value, list):
        return value
    expanded: list[object] = []
    for item in value:
        if isinstance(item, str) and ".." in item:
            first, _, last = item.partition("..")
            try:
                start, end = date.fromisoformat(first.strip()), date.fromisoformat(last.strip())
            except ValueError:
                raise ValueError(f"{item!r} is not a date range (write 2026-12-29..2027-01-03)") from None
            if end < start:
                raise ValueError(f"{item!r}: the range ends before it starts")
            expanded.extend(start + timedelta(days=n) for n in range((end - start).days + 1))
        else:
            expanded.append(item)
    return expanded


def _check_regex(value: str) -> str:
    """Accept patterns Python's re module compiles."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"bad regex {value!r}: {exc}") from None
    return value


Regex = Annotated[str, AfterValidator(_check_regex)]


def _check_keyword(value: str) -> str:
    """Accept keywords that keep at least one visible character once normalised."""
    if not normalize(value).strip():
        raise ValueError(f"keyword {value!r} is empty after normalisation")
    return value


Keyword = Annotated[str, AfterValidator(_check_keyword)]
