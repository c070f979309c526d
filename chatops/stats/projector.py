"""Keeps the stats rollups exact, in the transaction of every ticket event.

For the ticket an event touched: read its current state, compute its fact row, subtract the
contribution of the fact row stored last time, add the new one (upserts that add deltas), and
add what the event itself counts (a reopen, an escalation), through the event's UnitOfWork.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from chatops.rules import Rules
from chatops.stats.buckets import BusinessClock, duration_minutes, local_day
from chatops.stats.models import COUNTERS, StatsDaily, StatsDuration, StatsFact
from chatops.tickets.events import EventNotice
from chatops.tickets.models import Customer, Ticket, TicketTag
from chatops.tickets.record import UnitOfWork, unit

FACT_FIELDS = tuple(c.name for c in StatsFact.__table__.columns if c.name != "ticket_id")
# Events that cannot change what a ticket contributes: skip the work (ingest hot path).
_NO_CHANGE = {"note_added", "released", "paged", "page_exhausted", "auto_replied", "link_suggested"}
# What a customer's follow-up can change in a ticket's fact (chatops.tickets.ingest._continue_ticket).
_FOLLOW_UP_CHANGES = {"priority_to", "tags_added"}
_LEVEL_COUNTER = {"L2": "esc_l2", "L3": "esc_l3"}

DailyKey = tuple[str, str, int, str, str]
HistKey = tuple[str, str, int, str, int]


class _Deltas:
    """Rollup deltas of several events, added up in memory until the transaction writes them."""

    def __init__(self) -> None:
        self.daily: dict[DailyKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.hist: dict[HistKey, int] = defaultdict(int)
        self.facts: dict[int, dict[str, Any]] = {}  # ticket id -> its fact row as it now stands

    def add(self, daily: dict, hist: dict) -> None:
        for key, counters in daily.items():
            row = self.daily[key]
            for name, value in counters.items():
                row[name] += value
        for key, count in hist.items():
            self.hist[key] += count




def filters_of(fact: dict[str, Any]) -> list[tuple[str, str]]:
    """The filters (dimension, value) a ticket's figures are counted under."""
    result = [("all", ""), ("channel", fact["channel"]), ("network", fact["source"])]
    if fact["assignee"]:
        result.append(("agent", fact["assignee"]))
    result += [("tag", tag[:80]) for tag in fact["tags"]]
    return result


def groups_of(fact: dict[str, Any]) -> list[tuple[str, str]]:
    """The breakdowns (dimension, value) a ticket's counters are counted in."""
    result = [("pt", f"{fact['priority']}/{fact['tier']}")]
    if fact["assignee"]:
        result.append(("agent", fact["assignee"]))
    result += [("tag", tag[:80]) for tag in fact["tags"]]
    result += [("kw", word[:80]) for word in fact["keywords"]]
    return result


def _day_counters(fact: dict[str, Any]) -> Iterator[tuple[int, dict[str, int]]]:
    yield fact["created_day"], {"created": 1}
    if fact["fr_day"] is not None:
        yield fact["fr_day"], {"fr_count": 1, "fr_sum": fact["fr_wall"], "fr_met": int(fact["fr_sla"] == 0),
                               "fr_breached": int(fact["fr_sla"] == 1)}
    if fact["res_day"] is not None:
        yield fact["res_day"], {"resolved": 1, "res_sum": fact["res_wall"], "res_met": int(fact["res_sla"] == 0),
                                "res_breached": int(fact["res_sla"] == 1)}
    if fact["csat_requested_day"] is not None:
        yield fact["csat_requested_day"], {"csat_requested": 1}
    if fact["csat_day"] is not None and fact["csat_score"] is not None:
        yield fact["csat_day"], {"csat_count": 1, "csat_sum": fact["csat_score"]}


def contribute(fact: dict[str, Any], sign: int, daily: dict, hist: dict,
               extra: list[tuple[int, dict[str, int]]] = ()) -> None:
    """Add (sign=1) or subtract (sign=-1) what `fact` counts into the delta maps."""
    filters, groups = filters_of(fact), groups_of(fact)
    for day, counters in [*_day_counters(fact), *extra]:
        items = [(name, sign * value) for name, value in counters.items() if value]
        for fdim, fval in filters:
            for gdim, gval in groups:
                row = daily[(fdim, fval, day, gdim, gval)]
                for name, value in items:
                    row[name] += value
    durations = []
    if fact["fr_day"] is not None:
        durations += [("frw", fact["fr_day"], fact["fr_wall"]), ("frb", fact["fr_day"], fact["fr_business"])]
    if fact["res_day"] is not None:
        durations += [("rsw", fact["res_day"], fact["res_wall"]), ("rsb", fact["res_day"], fact["res_business"])]
    for fdim, fval in filters:
        for metric, day, minutes in durations:
            hist[(fdim, fval, day, metric, minutes)] += sign


class TicketFacts(NamedTuple):
    """A ticket's columns as `StatsProjector.fact` reads them (those of `_TICKET`) and its tags."""

    channel: str
    priority: str
    source: str
    assignee: str | None
    keywords: list[str]
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    csat_score: int | None
    csat_requested_at: datetime | None
    csat_rated_at: datetime | None
    tier: str
    tags: list[str]


class StatsProjector:
    """Called by the flows for every ticket event, inside its transaction."""

    FIELDS = FACT_FIELDS

    def __init__(self, rules: Rules) -> None:
        self.tz = rules.business_hours.tz
        self.clock = BusinessClock(rules.business_hours)

    def fact(self, row, tags: list[str]) -> dict[str, Any]:
        """A ticket's fact row from its current state (columns of `_TICKET`)."""
        tz, clock = self.tz, self.clock
        created = row.created_at
        fact: dict[str, Any] = {
            "channel": row.channel, "priority": row.priority, "tier": row.tier, "source": row.source,
            "assignee": row.assignee or "", "tags": sorted(tags), "keywords": sorted(set(row.keywords or [])),
            "created_day": local_day(created, tz),
            "fr_day": None, "fr_wall": None, "fr_business": None, "fr_sla": None,
            "res_day": None, "res_wall": None, "res_business": None, "res_sla": None,
            "csat_requested_day": local_day(row.csat_requested_at, tz) if row.csat_requested_at else None,
            "csat_day": local_day(row.csat_rated_at, tz) if row.csat_rated_at else None,
            "csat_score": row.csat_score if row.csat_rated_at else None,
        }
        if row.first_response_at is not None:
            fact.update(fr_day=local_day(row.first_response_at, tz),
                        fr_wall=duration_minutes(created, row.first_response_at),
                        fr_business=clock.minutes(created, row.first_response_at),
                        fr_sla=None if row.first_response_due_at is None
                        else int(row.first_response_at > row.first_response_due_at))
        if row.resolved_at is not None:
            fact.update(res_day=local_day(row.resolved_at, tz),
                        res_wall=duration_minutes(created, row.resolved_at),
                        res_business=clock.minutes(created, row.resolved_at),
                        res_sla=None if row.resolution_due_at is None
                        else int(row.resolved_at > row.resolution_due_at))
        return fact

    def __call__(self, uow: UnitOfWork, notice: EventNotice) -> None:
        """Bring the rollups in step with the ticket after `notice`."""
        if notice.kind in _NO_CHANGE:
            return
        if notice.kind == "customer_message" and not _FOLLOW_UP_CHANGES & notice.payload.keys():
            return  # a follow-up that raised nothing and tagged nothing leaves the fact as it was
        if notice.facts is not None:  # a ticket ingest just created: its columns came with the notice
            new = self.fact(notice.facts, notice.facts.tags)
        else:
            row = uow.execute(_TICKET, {"tid": notice.ticket_id}).one()
            new = self.fact(row, [tag for tag, in uow.execute(_TAGS, {"tid": notice.ticket_id}).all()])
        held = uow.deferred.get(id(self)) if uow.batched else None
        if held is not None and notice.ticket_id in held.facts:  # written earlier in this group commit
            old = dict(held.facts[notice.ticket_id])
        elif notice.kind == "created":  # a ticket being created has no fact row yet: skip the lookup
            old = None
        else:
            stored = uow.execute(_FACT, {"tid": notice.ticket_id}).first()
            old = dict(zip(FACT_FIELDS, stored, strict=True)) if stored is not None else None
            if old is not None:
                old["tags"], old["keywords"] = list(old["tags"] or []), list(old["keywords"] or [])
        extra = self.event_counters(notice, local_day(notice.at, self.tz))
        if old == new and not extra:
            return
        daily: dict[DailyKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        hist: dict[HistKey, int] = defaultdict(int)
        if old is not None:
            contribute(old, -1, daily, hist)
        contribute(new, 1, daily, hist, extra)
        if uow.batched:  # a group commit: added up in memory, written once by `flush`
            deltas = uow.deferred.setdefault(id(self), _Deltas())
            deltas.add(daily, hist)
            if old != new:
                deltas.facts[notice.ticket_id] = new
        else:
            write(uow, daily, hist)
            if old != new:
                uow.execute(_upserts(uow.dialect_name)[StatsFact], {"ticket_id": notice.ticket_id, **new})

    def flush(self, uow: UnitOfWork) -> None:
        """End of a group commit: the rollup deltas and fact rows of its events, one upsert per row
        instead of one per event (a burst of tickets of one day and channel shares most rows)."""
        pending = uow.deferred.pop(id(self), None)
        if pending is not None:
            write(uow, pending.daily, pending.hist)
            if pending.facts:  # one upsert for the batch's fact rows, in ticket order
                uow.execute(_upserts(uow.dialect_name)[StatsFact],
                            [{"ticket_id": tid, **pending.facts[tid]} for tid in sorted(pending.facts)])

    @staticmethod
    def event_counters(notice: EventNotice, day: int) -> list[tuple[int, dict[str, int]]]:
        """What the event itself counts besides the ticket's fact (a reopen, an escalation to L2/L3)."""
        if notice.kind == "reopened":
            return [(day, {"reopened": 1})]
        if notice.kind == "escalated" and notice.payload.get("level_to") in _LEVEL_COUNTER:
            return [(day, {_LEVEL_COUNTER[notice.payload["level_to"]]: 1})]
        return []


def write(db, daily: dict, hist: dict) -> None:
    """Add the deltas to the rollup rows (insert or add on conflict); zero deltas are skipped.

    Rows go in key order: concurrent transactions on PostgreSQL then lock shared rollup rows
    in the same order and cannot deadlock each other."""
    uow = unit(db)
    upserts = _upserts(uow.dialect_name)
    daily_rows = [{"fdim": key[0], "fval": key[1], "day": key[2], "gdim": key[3], "gval": key[4],
                   **{name: counters.get(name, 0) for name in COUNTERS}}
                  for key, counters in sorted(daily.items()) if any(counters.values())]
    if daily_rows:
        uow.execute(upserts[StatsDaily], daily_rows)
    hist_rows = [{"fdim": k[0], "fval": k[1], "day": k[2], "metric": k[3], "minutes": k[4], "count": count}
                 for k, count in sorted(hist.items()) if count]
    if hist_rows:
        uow.execute(upserts[StatsDuration], hist_rows)


@cache
def _upserts(dialect: str) -> dict:
    """The three upserts, built once per dialect: building them costs more than running them."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    fact, daily, duration = insert(StatsFact), insert(StatsDaily), insert(StatsDuration)
    return {
        StatsFact: fact.on_conflict_do_update(
            index_elements=["ticket_id"], set_={name: fact.excluded[name] for name in FACT_FIELDS}),
        StatsDaily: daily.on_conflict_do_update(
            index_elements=["fdim", "fval", "day", "gdim", "gval"],
            set_={name: getattr(StatsDaily, name) + daily.excluded[name] for name in COUNTERS}),
        StatsDuration: duration.on_conflict_do_update(
            index_elements=["fdim", "fval", "day", "metric", "minutes"],
            set_={"count": StatsDuration.count + duration.excluded["count"]}),
    }


_TICKET = select(
    Ticket.channel, Ticket.priority, Ticket.source, Ticket.assignee, Ticket.keywords, Ticket.created_at,
    Ticket.first_response_at, Ticket.resolved_at, Ticket.first_response_due_at, Ticket.resolution_due_at,
    Ticket.csat_score, Ticket.csat_requested_at, Ticket.csat_rated_at, Customer.tier,
).join(Customer, Customer.id == Ticket.customer_id).where(Ticket.id == bindparam("tid"))
_TAGS = select(TicketTag.tag).where(TicketTag.ticket_id == bindparam("tid"))
_FACT = select(*(StatsFact.__table__.c[name] for name in FACT_FIELDS)).where(StatsFact.ticket_id == bindparam("tid"))
