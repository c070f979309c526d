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
from chatops.rules.problems import ByLanguage, RulesProblem, what

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
ACTIONS = ("claim", "reply", "escalate", "resolve", "reopen", "assign", "stats", "issue", "moderate", "block")


def _one_of(noun: str, allowed: tuple[str, ...]):
    """Build a validator accepting only the given names; noun names a `rules.what.*` string."""

    def check(value: str) -> str:
        if value not in allowed:
            raise RulesProblem("not_one_of", value=value, what=what(noun), allowed=", ".join(allowed))
        return value

    return AfterValidator(check)


def _matching(pattern: str, noun: str):
    """Build a validator accepting strings that fully match pattern."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise RulesProblem("not_a", value=value, what=what(noun))
        return value

    return AfterValidator(check)


PriorityName = Annotated[str, _one_of("priority", PRIORITIES)]
LevelName = Annotated[str, _one_of("level", LEVELS)]
Source = Annotated[str, _one_of("source", SOURCES)]
Kind = Annotated[str, _one_of("kind", KINDS)]
Language = Annotated[str, _one_of("language", LANGUAGES)]
Tier = Annotated[str, _one_of("tier", TIERS)]
Calendar = Annotated[str, _one_of("calendar", CALENDARS)]
Day = Annotated[str, _one_of("day", DAYS)]
RoleName = Annotated[str, _one_of("role", ROLE_NAMES)]
Action = Annotated[str, _one_of("action", ACTIONS)]

Identifier = Annotated[str, _matching(r"[a-z0-9][a-z0-9_-]*", "identifier")]
ChannelName = Identifier
Tag = Annotated[str, _matching(r"[^\s,]+", "tag")]
UserId = Annotated[str, _matching(r"\S+", "user_id")]
Recipient = Annotated[
    str,
    _matching(r"[UW][A-Z0-9]{2,}|@[a-z0-9][a-z0-9._-]*", "slack_recipient"),
]
SlackChannel = Annotated[
    str,
    _matching(r"[CG][A-Z0-9]{2,}|#[a-z0-9][a-z0-9_-]{0,79}", "slack_channel"),
]
WebhookUrl = Annotated[str, _matching(r"https?://\S+", "url")]
# A Teams channel id as the bot sees it (`19:…@thread.tacv2`; older teams: `@thread.skype`).
TeamsChannelId = Annotated[str, _matching(r"19:[^\s;/]+@thread\.(?:tacv2|skype)", "teams_channel")]
HexColor = Annotated[str, _matching(r"#[0-9a-fA-F]{6}", "hex_color")]
NonEmpty = Annotated[str, _matching(r"(?s).*\S.*", "non_empty")]

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")


def parse_duration(value: object) -> timedelta:
    """Parse '2d', '1h30m', '45m' into a timedelta (a positive whole number of minutes)."""
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        raise RulesProblem("not_duration", value=value)
    days, hours, minutes = (int(group or 0) for group in match.groups())
    try:
        duration = timedelta(days=days, hours=hours, minutes=minutes)
    except OverflowError:
        raise RulesProblem("duration_too_long", value=value) from None
    if not duration:
        raise RulesProblem("zero_duration", value=value)
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
        raise RulesProblem("not_time_range", value=value)
    start, end = minutes_of_range(value)
    if end > 24 * 60 or start >= end:
        raise RulesProblem("range_backwards", value=value)
    return value


TimeRange = Annotated[str, AfterValidator(_check_time_range)]


def _check_timezone(value: str) -> str:
    """Accept IANA time zone names known to zoneinfo."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise RulesProblem("not_timezone", value=value) from None
    return value


Timezone = Annotated[str, AfterValidator(_check_timezone)]


def _check_country(value: str) -> str:
    """Accept country codes the `holidays` package has calendars for (any code if it is absent)."""
    try:
        import holidays
    except ImportError:  # optional at this layer: the SLA calendar reports it when needed
        return value
    # The registry names every country's codes without importing each country's calendar
    # (list_supported_countries imports all 250, a fifth of a second); it decides the rest.
    from holidays.registry import COUNTRIES

    if any(value in codes[1:] for codes in COUNTRIES.values()):
        return value
    if value not in holidays.list_supported_countries():
        raise RulesProblem("not_country", value=value)
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
                raise RulesProblem("not_date_range", value=item) from None
            if end < start:
                raise RulesProblem("dates_backwards", value=item)
            expanded.extend(start + timedelta(days=n) for n in range((end - start).days + 1))
        else:
            expanded.append(item)
    return expanded


def _check_regex(value: str) -> str:
    """Accept patterns Python's re module compiles."""
    try:
        re.compile(value)
    except re.error as exc:
        where = "" if exc.pos is None else f" ({exc.pos + 1} 文字目)"
        raise RulesProblem("bad_regex", value=value, error=ByLanguage(en=str(exc), ja=where)) from None
    return value


Regex = Annotated[str, AfterValidator(_check_regex)]


def _check_keyword(value: str) -> str:
    """Accept keywords that keep at least one visible character once normalised."""
    if not normalize(value).strip():
        raise RulesProblem("empty_keyword", value=value)
    return value


Keyword = Annotated[str, AfterValidator(_check_keyword)]
