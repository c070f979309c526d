"""The `assignment:` section of rules.yaml: per channel, who takes new tickets automatically
and how. Shapes only; the picking is `chatops.tickets.assignment`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from chatops.rules.fields import Duration, Recipient
from chatops.rules.problems import RulesProblem
from chatops.rules.section import Section

ASSIGNMENT_MODES = ("round_robin", "least_loaded")
_SHIFT = re.compile(r"business_hours|always|schedule:[a-z0-9][a-z0-9_-]*")


class ChannelAssignment(Section):
    """One channel's auto-assignment: the agents (`@group` handles or user ids), how one of
    them is picked, the most open tickets an agent holds, when they work, and how long an
    automatic assignee has to reply before the ticket moves on."""

    people: list[Recipient] = Field(min_length=1)
    mode: Literal["round_robin", "least_loaded"] = "round_robin"
    cap: int | None = Field(None, ge=1, le=10_000)
    shift: str = "business_hours"
    reassign_after: Duration | None = None

    @field_validator("people", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        # `people: "@cs-agents"` is the common case; a list stays a list.
        return [value] if isinstance(value, str) else value

    @field_validator("shift")
    @classmethod
    def _known_shift(cls, value: str) -> str:
        if not _SHIFT.fullmatch(value):
            raise RulesProblem("not_a_shift", value=value)
        return value

    @property
    def schedule(self) -> str | None:
        """The on-call schedule whose holder is on shift (`shift: schedule:<name>`), else None."""
        return self.shift.removeprefix("schedule:") if self.shift.startswith("schedule:") else None

    @property
    def wait(self) -> timedelta | None:
        """How long an automatic assignee may leave the ticket unanswered (None: for ever)."""
        return self.reassign_after
