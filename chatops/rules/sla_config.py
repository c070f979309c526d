"""The SLA sections of rules.yaml: response and resolution policies, and the business hours they count in."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from chatops.rules.fields import (
    DAYS,
    Calendar,
    Country,
    Day,
    Duration,
    PriorityName,
    Tier,
    TimeRange,
    Timezone,
    expand_dates,
    minutes_of_range,
)
from chatops.rules.problems import RulesProblem
from chatops.rules.section import Localized, Section


class SlaPolicy(Section):
    """Response and resolution targets for one priority and customer tier."""

    priority: PriorityName
    tier: Tier = "*"
    first_response: Duration
    # How soon a customer writing again on an answered ticket gets the next answer; None = first_response.
    next_response: Duration | None = None
    resolution: Duration
    calendar: Calendar = "business"

    @model_validator(mode="after")
    def _response_before_resolution(self) -> "SlaPolicy":
        if self.first_response > self.resolution:
            raise RulesProblem("response_after_resolution")
        if self.next_response is not None and self.next_response > self.resolution:
            raise RulesProblem("next_after_resolution")
        return self


class SlaConfig(Section):
    """SLA policies and when to warn (fraction of the allowed time already used)."""

    warn_at: float = Field(0.8, gt=0, lt=1)
    # An agent's delivered reply leaves the ticket waiting on the customer (clock paused).
    pending_after_reply: bool = True
    # A ticket pending this long (wall-clock time since it started waiting) is resolved; None = never.
    auto_resolve_pending: Duration | None = None
    policies: list[SlaPolicy]

    def policy_for(self, priority: str, tier: str) -> SlaPolicy:
        """Return the policy for priority and tier: the exact tier first, then tier '*'."""
        for wanted in (tier, "*"):
            for policy in self.policies:
                if policy.priority == priority and policy.tier == wanted:
                    return policy
        raise KeyError(f"no SLA policy for priority {priority!r}, tier {tier!r}")


class BusinessHours(Section):
    """The team's working week, time zone, public holidays and extra closed dates."""

    timezone: Timezone = "UTC"
    holidays_country: Country | None = None
    weekly: dict[Day, list[TimeRange]] = Field(
        default_factory=lambda: {day: ["09:00-18:00"] if day not in ("sat", "sun") else [] for day in DAYS}
    )
    closed_dates: list[date] = []
    # Sent once per customer per closed spell to a first message outside hours; {back} = reopening time.
    offline_reply: Localized | None = None
    # A message older than this when it arrives (a backfill, an old file) gets no auto-reply.
    offline_reply_max_age: Duration = timedelta(minutes=30)

    _expand_closed_dates = field_validator("closed_dates", mode="before")(expand_dates)

    @field_validator("weekly")
    @classmethod
    def _complete_week(cls, weekly: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, ranges in weekly.items():
            spans = sorted(minutes_of_range(text) for text in ranges)
            for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
                if start < end:
                    raise RulesProblem("hours_overlap", day=day)
        if not any(weekly.values()):
            raise RulesProblem("no_hours")
        return {day: weekly.get(day, []) for day in DAYS}

    @property
    def tz(self) -> ZoneInfo:
        """The team's time zone."""
        return ZoneInfo(self.timezone)

    def opening_hours(self, weekday: int) -> list[tuple[int, int]]:
        """Return sorted (start, end) minutes since midnight for weekday (0 = Monday, as date.weekday())."""
        return sorted(minutes_of_range(text) for text in self.weekly[DAYS[weekday]])
