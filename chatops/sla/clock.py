"""Deadlines of a ticket from its priority and customer tier, and the next moment the SLA
scheduler has something to say about it.

Four moments per ticket: first-response warning and deadline, resolution warning and
deadline. The warning comes when `warn_at` of the allowed (business) time is used. The
scheduler only reads `sla_next_at` (indexed), so one pass costs what is due, not what is open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chatops.rules import Rules
from chatops.sla.calendar import AlwaysOpen, BusinessCalendar, Calendar

SLOTS = ("first_response_warn_at", "first_response_due_at", "resolution_warn_at", "resolution_due_at")


@dataclass(frozen=True)
class Deadlines:
    """The four SLA moments of a ticket (UTC)."""

    first_response_warn_at: datetime
    first_response_due_at: datetime
    resolution_warn_at: datetime
    resolution_due_at: datetime

    def as_dict(self) -> dict[str, datetime]:
        """Column name → value, ready for an INSERT or UPDATE of tickets."""
        return {slot: getattr(self, slot) for slot in SLOTS}


class SlaClock:
    """SLA arithmetic over rules.yaml `sla` and `business_hours`."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.business = BusinessCalendar(rules.business_hours)
        self.always = AlwaysOpen()

    def calendar(self, priority: str, tier: str) -> Calendar:
        """The calendar the policy of (priority, tier) counts in."""
        policy = self.rules.sla.policy_for(priority, tier)
        return self.always if policy.calendar == "24x7" else self.business

    def deadlines(self, priority: str, tier: str, start: datetime) -> Deadlines:
        """Warnings and deadlines of a ticket opened at `start`."""
        policy = self.rules.sla.policy_for(priority, tier)
        calendar = self.always if policy.calendar == "24x7" else self.business
        warn = self.rules.sla.warn_at
        moments = calendar.add_all(start, [policy.first_response * warn, policy.first_response,
                                           policy.resolution * warn, policy.resolution])
        return Deadlines(*moments)

    @staticmethod
    def next_at(moments: dict[str, datetime | None], *, answered: bool, paused: bool,
                after: datetime | None) -> datetime | None:
        """The earliest moment still to act on: first-response slots until answered, resolution
        slots unless paused; only moments later than `after` (already handled up to there)."""
        live = []
        for slot in SLOTS:
            value = moments.get(slot)
            if value is None or (answered and slot.startswith("first")) or (paused and slot.startswith("res")):
                continue
            if after is None or value > after:
                live.append(value)
        return min(live) if live else None

    def reopened(self, priority: str, tier: str, at: datetime) -> dict[str, datetime]:
        """A reopened ticket's new resolution moments: the full resolution time again from the
        moment it reopened (the old ones passed long ago; the first response keeps its own)."""
        fresh = self.deadlines(priority, tier, at)
        return {"resolution_warn_at": fresh.resolution_warn_at, "resolution_due_at": fresh.resolution_due_at}

    def resumed(self, moments: dict[str, datetime | None], priority: str, tier: str, paused_at: datetime,
                now: datetime) -> dict[str, datetime]:
        """Resolution moments pushed back by the open time spent pending (paused_at → now)."""
        calendar = self.calendar(priority, tier)
        out = {}
        for slot in ("resolution_warn_at", "resolution_due_at"):
            value = moments.get(slot)
            if value is None or value <= paused_at:  # passed before the pause: already handled
                if value is not None:
                    out[slot] = value
                continue
            left = calendar.between(paused_at, value) if value > paused_at else timedelta(0)
            out[slot] = calendar.add(now, left) if left else max(value, now)
        return out
