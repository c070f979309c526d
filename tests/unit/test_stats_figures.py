"""Every /stats figure on a fixed data set, computed by hand (see the comments), on SQLite and
PostgreSQL alike. Times are JST (UTC+9); 2026-11-23 is a Japanese public holiday."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from chatops.stats.period import parse_query
from chatops.stats.query import compute
from chatops.tickets.models import Customer, Ticket
from tests.helpers import answer, inbound, open_after_reply

JST = timezone(timedelta(hours=9))
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=JST)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=JST).astimezone(UTC)


def m(value, previous, status=None):
    return {"value": value, "previous": previous, "status": status}


@pytest.fixture
def dataset(flows, clock, session_factory):
    open_after_reply(flows)  # answered tickets stay open: no pause in their resolution times
    def new(text, when, source, user):
        clock.now = when
        return flows.ingest(inbound(text, source=source, created_at=when.isoformat(),
                                    author={"id": user, "handle": f"@{user}"})).ticket_key

    def due(key, first=None, resolution=None):
        with session_factory.begin() as session:
            session.execute(update(Ticket).where(Ticket.id == int(key[2:])).values(
                first_response_due_at=first, resolution_due_at=resolution))

    def step(when, call, *args, **kwargs):
        clock.now = when
        return call(*args, **kwargs)

    # D (previous period): webhook, orange, premium customer, U2; 1 min / 30 min, both SLAs met, CSAT 5.
    d = new("返品したい", at(10, 9, 30), "webhook", "u4")
    with session_factory.begin() as session:
        session.execute(update(Customer).where(Customer.external_user_id == "u4").values(tier="premium"))
    due(d, at(10, 9, 45), at(10, 10, 30))
    step(at(10, 9, 31), flows.claim, d, actor="U2")
    step(at(10, 9, 31, 59), answer, flows, d, actor="U2", text="ご返品の手順です")
    step(at(10, 10), flows.resolve, d, actor="U2")
    step(at(10, 10, 5), flows.record_rating, d, score=5, actor="customer")
    # C (created in the previous period, resolved in this one): x, green, U1, no SLA deadlines.
    c = new("使い方を教えてください", at(12, 15), "x", "u3")
    due(c)  # the SLA clock set deadlines at ingest; this ticket is defined without them
    step(at(12, 15, 5), flows.claim, c, actor="U1")
    step(at(12, 15, 10), answer, flows, c, actor="U1", text="こちらです")
    step(at(18, 10), flows.resolve, c, actor="U1")
    step(at(19, 10), flows.reopen, c, actor="U1")
    step(at(19, 11), flows.resolve, c, actor="U1")
    # A: x, green, U1; answered in 3.5 min (met), resolved after 4 h (breached), tagged billing, CSAT 2.
    a = new("使い方を教えてください", at(20, 10), "x", "u1")
    due(a, at(20, 10, 30), at(20, 12))
    step(at(20, 10, 3), flows.claim, a, actor="U1")
    step(at(20, 10, 3, 30), answer, flows, a, actor="U1", text="手順です")
    step(at(20, 11), flows.tag, a, actor="U1", add=["billing"])
    step(at(20, 14), flows.resolve, a, actor="U1")
    step(at(21, 8), flows.record_rating, a, score=2, actor="customer")
    # B: line, red, U2, escalated to L2; answered Monday 09:20 (a holiday): breached, still open.
    b = new("使い方を教えてください", at(21, 9), "line", "u2")
    step(at(21, 9, 1), flows.set_priority, b, actor="U2", priority="red")
    due(b, at(21, 10))  # after the priority change, which re-prices the SLA deadlines
    step(at(21, 9, 2), flows.tag, b, actor="U2", add=["billing"])
    step(at(21, 9, 5), flows.claim, b, actor="U2")
    step(at(22, 9), flows.escalate, b, actor="U2", level="L2", note="返金の判断が必要")
    step(at(23, 9, 20), answer, flows, b, actor="U2", text="確認しております")
    # E: today, unassigned, green.
    new("ありがとう", at(23, 11, 50), "x", "u5")
    return {"a": a, "b": b, "c": c, "d": d}


def figures(session_factory, rules, words):
    with session_factory() as session:
        return compute(session, rules, parse_query(words, rules, NOW), NOW.astimezone(UTC))


def test_every_figure_matches_the_hand_computed_one(dataset, session_factory, rules):
    f = figures(session_factory, rules, ["7d"])
    assert f["period"] == {"label": "7d", "start": "2026-11-17", "end": "2026-11-23",
                           "previous_start": "2026-11-10", "previous_end": "2026-11-16"}
    assert f["filter"] == {}
    # created A B E / C D; resolved A C (C's latest resolution, 11-19) / D; C reopened on 11-19.
    assert f["volume"] == {"created": m(3, 2), "resolved": m(2, 1), "reopened": m(1, 0)}
    # Open now: B (red, 2 d 3 h old), E (green, 10 min old).
    empty = {"lt1h": 0, "lt1d": 0, "lt7d": 0, "ge7d": 0}
    assert f["backlog"] == {"total": 2, "by_priority": {
        "red": {**empty, "lt7d": 1}, "orange": empty, "green": {**empty, "lt1h": 1}}}
    # First responses: A 3 min (3.5 floored), B 48 h 20 min → 2880 (6 h steps), business 0 (weekend,
    # holiday); previous C 10, D 1. Nearest rank: median of 2 = the 1st, p90 = the 2nd.
    assert f["first_response"] == {"median": m(3, 1, "green"), "p90": m(2880, 10, "red"),
                                   "median_business": m(0, 1, "green"), "p90_business": m(3, 10, "green")}
    # Resolutions: A 240 min (business 240); C 11-12 15:00 → 11-19 11:00 = 9840 → 9720,
    # business 180+540+540+540+540+120 = 2460 → 2160; previous D 30 / 30.
    assert f["resolution"] == {"median": m(240, 30, "green"), "p90": m(9720, 30, "red"),
                               "median_business": m(240, 30, "green"), "p90_business": m(2160, 30, "yellow")}
    # SLA: first response A met, B breached (50 %); resolution A breached, C met the fresh deadline
    # its reopen gave it (resolved an hour after reopening) (50 %); previous D met both.
    assert f["sla"]["first_response"] == m(50.0, 100.0, "red")
    assert f["sla"]["resolution"] == m(50.0, 100.0, "red")
    assert f["sla"]["breaches_by_priority"] == {"green": m(1, 0), "orange": m(0, 0), "red": m(1, 0)}
    assert f["sla"]["breaches_by_tier"] == {"premium": m(0, 0), "standard": m(2, 0)}
    assert f["escalations"] == {"L2": m(1, 0), "L3": m(0, 0)}
    assert f["agents"] == [
        {"agent": "U1", "created": m(1, 1), "resolved": m(2, 0), "first_response_mean": m(3.0, 10.0)},
        {"agent": "U2", "created": m(1, 1), "resolved": m(0, 1), "first_response_mean": m(2880.0, 1.0)},
    ]
    assert f["top_tags"] == [{"name": "billing", **m(2, 0)}, {"name": "how-to", **m(2, 1)},
                             {"name": "praise", **m(1, 0)}]
    assert f["top_keywords"] == [{"name": "使い方", **m(2, 1)}, {"name": "教えて", **m(2, 1)},
                                 {"name": "ありがとう", **m(1, 0)}]
    # CSAT: requests go out on resolve (x and webhook are in stats.csat.networks): A and C (its
    # latest resolution, 11-19) now, D before; A rated 2 (1 of 2 = 50 %), D rated 5 (1 of 1).
    assert f["csat"] == {"average": m(2.0, 5.0, "red"), "response_rate": m(50.0, 100.0, "green"),
                         "ratings": m(1, 1)}


def test_one_filter_narrows_every_figure(dataset, session_factory, rules):
    f = figures(session_factory, rules, ["7d", "tag:billing"])
    assert f["filter"] == {"tag": "billing"}
    assert f["volume"] == {"created": m(2, 0), "resolved": m(1, 0), "reopened": m(0, 0)}
    assert f["first_response"]["median"] == m(3, None, "green")
    assert f["backlog"]["total"] == 1  # B
    f = figures(session_factory, rules, ["2026-11", "agent:<@U2|sato>"])
    assert f["period"]["previous_start"] == "2026-10-01"
    assert f["volume"] == {"created": m(2, 0), "resolved": m(1, 0), "reopened": m(0, 0)}
    assert f["csat"]["average"] == m(5.0, None, "green")
