"""The `oncall:` section of rules.yaml: schedules (rotations, overrides), escalation policies,
and which tickets page. Shapes only; who is on call when is computed in `chatops.oncall`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatops.rules.fields import (
    Duration,
    PriorityName,
    Tier,
    Timezone,
    UserId,
)
from chatops.rules.problems import RulesProblem


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Override(_Section):
    """Someone else covers a schedule from `start` until `end` (local times of the schedule)."""

    user: UserId
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="until")

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        if self.end <= self.start:
            raise RulesProblem("override_backwards")
        return self


class Schedule(_Section):
    """A rotation: members take turns, handing off at `handoff` local time every day or every
    week (weekly rotations hand off on the weekday of `start`)."""

    timezone: Timezone = "UTC"
    rotation: Literal["daily", "weekly"] = "weekly"
    handoff: str = Field("09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    start: date
    members: list[UserId] = Field(min_length=1)
    overrides: list[Override] = []

    @property
    def period(self) -> timedelta:
        """How long one member's shift lasts."""
        return timedelta(days=7 if self.rotation == "weekly" else 1)


class Step(_Section):
    """One escalation step: whom to notify, and how long to wait for an acknowledgement."""

    notify: str = Field(pattern=r"^(schedule:[a-z0-9][a-z0-9_-]*|[UW][A-Z0-9]{2,})$")
    escalate_after: Duration = timedelta(minutes=15)


class EscalationPolicy(_Section):
    """Ordered steps, run `repeat` times in all before the page stops escalating."""

    steps: list[Step] = Field(min_length=1)
    repeat: int = Field(1, ge=1, le=10)


class PagingRule(_Section):
    """Which tickets page: by priority (any ticket that is or becomes one of `priorities`), or
    on an SLA breach (`when: breach`), optionally only for some customer tiers. (Not `on:`:
    YAML 1.1 reads a bare `on` key as the boolean true.)"""

    when: Literal["priority", "breach"] = "priority"
    priorities: list[PriorityName] = []
    tiers: list[Tier] = []
    policy: str

    def matches(self, on: str, priority: str, tier: str) -> bool:
        """Tell whether a ticket with this priority and customer tier pages for this trigger."""
        return (self.when == on and (not self.priorities or priority in self.priorities)
                and (not self.tiers or tier in self.tiers or "*" in self.tiers))


class OnCall(_Section):
    """Schedules, escalation policies and paging rules."""

    schedules: dict[str, Schedule] = {}
    policies: dict[str, EscalationPolicy] = {}
    paging: list[PagingRule] = []

    @model_validator(mode="after")
    def _references(self) -> OnCall:
        for name, policy in self.policies.items():
            for step in policy.steps:
                if step.notify.startswith("schedule:") and step.notify[9:] not in self.schedules:
                    raise RulesProblem("no_schedule", name=name, value=step.notify, defined=", ".join(self.schedules) or "-")
        for index, rule in enumerate(self.paging):
            if rule.policy not in self.policies:
                raise RulesProblem("no_policy", index=index, value=rule.policy, defined=", ".join(self.policies) or "-")
        return self

    def policy_for(self, on: str, priority: str, tier: str) -> str | None:
        """The escalation policy of the first paging rule that matches, or None."""
        for rule in self.paging:
            if rule.matches(on, priority, tier):
                return rule.policy
        return None
