"""The figures of `/stats`: a few aggregate queries over the rollups (and one over open tickets).

Everything comes back as plain data (`Figures`, a dict) that the CLI prints as text, JSON or
CSV and the Slack side turns into blocks. Each headline figure is a `Metric`: value, the
previous period's value, and a colour against rules.yaml `stats.targets`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from chatops.rules import Rules
from chatops.sla.state import (
    overdue_first_response_clause,
    overdue_next_response_clause,
    overdue_resolution_clause,
)
from chatops.stats.buckets import nearest_rank
from chatops.stats.models import COUNTERS, StatsDaily, StatsDuration
from chatops.stats.period import StatsQuery
from chatops.tickets.models import PRIORITIES, Customer, Ticket, TicketTag

AGE_BUCKETS = (("lt1h", timedelta(hours=1)), ("lt1d", timedelta(days=1)), ("lt7d", timedelta(days=7)),
               ("ge7d", None))
TOP = 5


def _metric(value, previous, colour: str | None = None) -> dict[str, Any]:
    return {"value": value, "previous": previous, "status": colour}


def _ratio(part: int, whole: int, scale: float = 100.0, digits: int = 1) -> float | None:
    return round(scale * part / whole, digits) if whole else None


def compute(session: Session, rules: Rules, query: StatsQuery, now: datetime) -> dict[str, Any]:
    """Every figure for the query's period and the period before it."""
    period = query.period
    start, end = period.start.toordinal(), period.end.toordinal()
    prev_start = period.previous_start.toordinal()
    fdim, fval = query.fdim
    targets = rules.stats.targets
    current = StatsDaily.day >= start
    sums = [func.sum(getattr(StatsDaily, name)) for name in COUNTERS]
    rows = session.execute(
        select(current.label("cur"), StatsDaily.gdim, StatsDaily.gval, *sums)
        .where(StatsDaily.fdim == fdim, StatsDaily.fval == fval, StatsDaily.day.between(prev_start, end))
        .group_by(current, StatsDaily.gdim, StatsDaily.gval)).all()
    groups: dict[tuple[bool, str], dict[str, dict[str, int]]] = defaultdict(dict)
    totals = {True: dict.fromkeys(COUNTERS, 0), False: dict.fromkeys(COUNTERS, 0)}
    for row in rows:
        cur = bool(row[0])
        counters = {name: int(value or 0) for name, value in zip(COUNTERS, row[3:], strict=True)}
        groups[(cur, row.gdim)][row.gval] = counters
        if row.gdim == "pt":
            for name, value in counters.items():
                totals[cur][name] += value
    hist_current = StatsDuration.day >= start
    histograms: dict[tuple[bool, str], list[tuple[int, int]]] = defaultdict(list)
    for cur, metric, minutes, count in session.execute(
            select(hist_current, StatsDuration.metric, StatsDuration.minutes, func.sum(StatsDuration.count))
            .where(StatsDuration.fdim == fdim, StatsDuration.fval == fval,
                   StatsDuration.day.between(prev_start, end))
            .group_by(hist_current, StatsDuration.metric, StatsDuration.minutes)):
        if count:
            histograms[(bool(cur), metric)].append((minutes, int(count)))

    def pct(metric: str, p: int) -> tuple[int | None, int | None]:
        return nearest_rank(histograms[(True, metric)], p), nearest_rank(histograms[(False, metric)], p)

    cur, prev = totals[True], totals[False]
    durations = {}
    for name, wall, business in (("first_response", "frw", "frb"), ("resolution", "rsw", "rsb")):
        band_median, band_p90 = getattr(targets, f"{name}_median"), getattr(targets, f"{name}_p90")
        m, p90 = pct(wall, 50), pct(wall, 90)
        bm, bp90 = pct(business, 50), pct(business, 90)
        durations[name] = {
            "median": _metric(*m, band_median.colour(m[0])), "p90": _metric(*p90, band_p90.colour(p90[0])),
            "median_business": _metric(*bm, band_median.colour(bm[0])),
            "p90_business": _metric(*bp90, band_p90.colour(bp90[0])),
        }
    # Open tickets past a deadline are breaches already; the rollups only see them once answered
    # or resolved, so a period that reaches today adds the live count (nothing is rewritten).
    live = overdue_now(session, query, now)
    if period.end >= now.astimezone(rules.business_hours.tz).date():
        cur = {**cur, "fr_breached": cur["fr_breached"] + live["first_response"],
               "res_breached": cur["res_breached"] + live["resolution"]}
        for pt, (fr, res) in live["by_pt"].items():
            counters = groups[(True, "pt")].setdefault(pt, dict.fromkeys(COUNTERS, 0))
            groups[(True, "pt")][pt] = {**counters, "fr_breached": counters["fr_breached"] + fr,
                                        "res_breached": counters["res_breached"] + res}
    sla_fr = (_ratio(cur["fr_met"], cur["fr_met"] + cur["fr_breached"]),
              _ratio(prev["fr_met"], prev["fr_met"] + prev["fr_breached"]))
    sla_res = (_ratio(cur["res_met"], cur["res_met"] + cur["res_breached"]),
               _ratio(prev["res_met"], prev["res_met"] + prev["res_breached"]))
    csat_avg = (_ratio(cur["csat_sum"], cur["csat_count"], 1, 2), _ratio(prev["csat_sum"], prev["csat_count"], 1, 2))
    csat_rate = (_ratio(cur["csat_count"], cur["csat_requested"]), _ratio(prev["csat_count"], prev["csat_requested"]))
    return {
        "period": {"label": period.label, "start": period.start.isoformat(), "end": period.end.isoformat(),
                   "previous_start": period.previous_start.isoformat(),
                   "previous_end": period.previous_end.isoformat()},
        "filter": dict(query.filters),
        "volume": {name: _metric(cur[name], prev[name]) for name in ("created", "resolved", "reopened")},
        "backlog": backlog(session, query, now),
        "overdue_now": {"total": live["total"], "by_priority": live["by_priority"]},
        **durations,
        "sla": {"first_response": _metric(*sla_fr, targets.sla_first_response.colour(sla_fr[0])),
                "resolution": _metric(*sla_res, targets.sla_resolution.colour(sla_res[0])),
                "breaches_by_priority": _breaches(groups, lambda pt: pt.split("/")[0]),
                "breaches_by_tier": _breaches(groups, lambda pt: pt.split("/")[1])},
        "escalations": {"L2": _metric(cur["esc_l2"], prev["esc_l2"]), "L3": _metric(cur["esc_l3"], prev["esc_l3"])},
        "agents": _agents(groups),
        "top_tags": _top(groups, "tag"),
        "top_keywords": _top(groups, "kw"),
        "csat": {"average": _metric(*csat_avg, targets.csat_average.colour(csat_avg[0])),
                 "response_rate": _metric(*csat_rate, targets.csat_response_rate.colour(csat_rate[0])),
                 "ratings": _metric(cur["csat_count"], prev["csat_count"])},
    }


def _breaches(groups, key) -> dict[str, dict[str, Any]]:
    result: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for index, cur in enumerate((True, False)):
        for pt, counters in groups.get((cur, "pt"), {}).items():
            result[key(pt)][index] += counters["fr_breached"] + counters["res_breached"]
    return {name: _metric(*values) for name, values in sorted(result.items())}


def _agents(groups) -> list[dict[str, Any]]:
    current, previous = groups.get((True, "agent"), {}), groups.get((False, "agent"), {})
    rows = []
    for agent in sorted(set(current) | set(previous)):
        c, p = current.get(agent, dict.fromkeys(COUNTERS, 0)), previous.get(agent, dict.fromkeys(COUNTERS, 0))
        rows.append({"agent": agent, "created": _metric(c["created"], p["created"]),
                     "resolved": _metric(c["resolved"], p["resolved"]),
                     "first_response_mean": _metric(_ratio(c["fr_sum"], c["fr_count"], 1),
                                                    _ratio(p["fr_sum"], p["fr_count"], 1))})
    rows.sort(key=lambda row: (-row["created"]["value"], row["agent"]))
    return rows


def _top(groups, gdim: str) -> list[dict[str, Any]]:
    current, previous = groups.get((True, gdim), {}), groups.get((False, gdim), {})
    ranked = sorted(((counters["created"], name) for name, counters in current.items() if counters["created"] > 0),
                    key=lambda item: (-item[0], item[1]))[:TOP]
    return [{"name": name, **_metric(count, previous.get(name, {}).get("created", 0))} for count, name in ranked]


def _scoped(stmt, query: StatsQuery):
    """`stmt` over tickets narrowed to the query's one filter."""
    name, value = query.fdim
    if name == "channel":
        stmt = stmt.where(Ticket.channel == value)
    elif name == "network":
        stmt = stmt.where(Ticket.source == value)
    elif name == "agent":
        stmt = stmt.where(Ticket.assignee == value)
    elif name == "tag":
        stmt = stmt.join(TicketTag, and_(TicketTag.ticket_id == Ticket.id, TicketTag.tag == value))
    return stmt


def backlog(session: Session, query: StatsQuery, now: datetime) -> dict[str, Any]:
    """Open tickets now, by priority and age (`lt1h`, `lt1d`, `lt7d`, `ge7d`)."""
    age = case(*[(Ticket.created_at > now - limit, name) for name, limit in AGE_BUCKETS if limit],
               else_=AGE_BUCKETS[-1][0])
    stmt = _scoped(select(Ticket.priority, age.label("age"), func.count())
                   .where(Ticket.status.in_(("new", "open", "pending"))).group_by(Ticket.priority, age), query)
    by_priority = {p: dict.fromkeys((b for b, _ in AGE_BUCKETS), 0) for p in PRIORITIES}
    for priority, bucket, count in session.execute(stmt):
        by_priority.setdefault(priority, dict.fromkeys((b for b, _ in AGE_BUCKETS), 0))[bucket] = count
    return {"total": sum(sum(b.values()) for b in by_priority.values()), "by_priority": by_priority}


def overdue_now(session: Session, query: StatsQuery, now: datetime) -> dict[str, Any]:
    """Open tickets past their live stored deadline now (`sla_state` breached), read from
    `tickets` through the partial overdue indexes: totals per deadline, per priority, and per
    "priority/tier" (the rollups' breach key)."""
    deadlines = ("first_response", "next_response", "resolution")
    by_priority = {p: dict.fromkeys(deadlines, 0) for p in PRIORITIES}
    by_pt: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    totals = dict.fromkeys(deadlines, 0)
    # A ticket past both its next reply and its resolution counts once, under resolution.
    next_only = overdue_next_response_clause(now) & (
        Ticket.resolution_due_at.is_(None) | (Ticket.resolution_due_at > now))
    for deadline, clause in (("first_response", overdue_first_response_clause(now)),
                             ("next_response", next_only), ("resolution", overdue_resolution_clause(now))):
        stmt = _scoped(select(Ticket.priority, Customer.tier, func.count())
                       .join(Customer, Customer.id == Ticket.customer_id)
                       .where(clause).group_by(Ticket.priority, Customer.tier), query)
        for priority, tier, count in session.execute(stmt):
            by_priority.setdefault(priority, dict.fromkeys(deadlines, 0))[deadline] += count
            if deadline != "next_response":  # the rollups' breaches are of first response and resolution
                by_pt[f"{priority}/{tier}"][0 if deadline == "first_response" else 1] += count
            totals[deadline] += count
    return {"total": sum(totals.values()), **totals,
            "by_priority": {p: {**c, "total": sum(c.values())} for p, c in by_priority.items()},
            "by_pt": dict(by_pt)}
