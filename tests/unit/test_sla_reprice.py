"""`SlaClock.reprice`, the one function every path re-prices deadlines through, on the hand
clock and the shipped rules.yaml (business hours Mon-Fri 09:00-18:00 JST; red 1h/8h business,
red premium 15m/4h 24x7, green 8h/3d business; warn at 80%)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from chatops.sla.clock import NEXT_SLOTS, SlaClock
from chatops.tickets.models import Ticket
from tests.helpers import inbound

JST = ZoneInfo("Asia/Tokyo")
OPENED = datetime(2026, 11, 20, 10, 0, tzinfo=JST)  # Friday


def jst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=JST)


@pytest.fixture
def sla(rules) -> SlaClock:
    return SlaClock(rules)


def _opened(sla: SlaClock, priority: str, tier: str = "standard") -> dict:
    moments = {**sla.deadlines(priority, tier, OPENED).as_dict(), **dict.fromkeys(NEXT_SLOTS)}
    moments["sla_next_at"] = moments["first_response_warn_at"]
    return moments


def _apply(moments: dict, changes: dict) -> dict:
    return {**moments, **changes}


def test_priority_raise_prices_from_the_start_and_fires_moments_moved_into_the_past(sla):
    moments = _opened(sla, "green")
    changes = sla.reprice(moments, priority="red", tier="standard", created_at=OPENED, status="new",
                          paused_at=None, answered=False, now=jst(20, 10, 30), reason="priced")
    assert changes["first_response_warn_at"] == jst(20, 10, 48)
    assert changes["first_response_due_at"] == jst(20, 11, 0)
    assert changes["resolution_due_at"] == jst(20, 18, 0)
    assert changes["sla_next_at"] == jst(20, 10, 48)
    late = sla.reprice(moments, priority="red", tier="standard", created_at=OPENED, status="new",
                       paused_at=None, answered=False, now=jst(20, 11, 5), reason="priced")
    assert late["sla_next_at"] == jst(20, 10, 48)  # moved into the past: the next pass says so


def test_tier_change_to_premium_uses_the_premium_policy_and_its_calendar(sla):
    changes = sla.reprice(_opened(sla, "red"), priority="red", tier="premium", created_at=OPENED, status="new",
                          paused_at=None, answered=False, now=jst(20, 10, 5), reason="priced")
    assert changes["first_response_due_at"] == jst(20, 10, 15)
    assert changes["resolution_due_at"] == jst(20, 14, 0)
    assert changes["sla_next_at"] == jst(20, 10, 12)
    same = sla.reprice({**_opened(sla, "red", "premium"), "sla_next_at": jst(20, 10, 12)}, priority="red",
                       tier="premium", created_at=OPENED, status="new", paused_at=None, answered=False,
                       now=jst(20, 10, 5), reason="priced")
    assert same == {"sla_next_at": jst(20, 10, 12)}  # nothing moved: only the scheduler's moment


def test_customer_reopen_gives_a_new_resolution_and_a_next_reply_a_person_reopen_no_next_reply(sla):
    resolved = {**_opened(sla, "red"), "sla_next_at": None}
    now = jst(24, 10, 0)  # Tuesday (Monday 11/23 is a public holiday)
    by_customer = sla.reprice(resolved, priority="red", tier="standard", created_at=OPENED, status="open",
                              paused_at=None, answered=True, now=now, reason=("reopened", "customer_wrote"))
    assert by_customer["resolution_due_at"] == jst(24, 18, 0)
    assert by_customer["next_response_warn_at"] == jst(24, 10, 48)
    assert by_customer["next_response_due_at"] == jst(24, 11, 0)
    assert "first_response_due_at" not in by_customer  # answered long ago: kept
    assert by_customer["sla_next_at"] == jst(24, 10, 48)
    by_person = sla.reprice(resolved, priority="red", tier="standard", created_at=OPENED, status="open",
                            paused_at=None, answered=True, now=now, reason="reopened")
    assert by_person["resolution_due_at"] == jst(24, 18, 0)
    assert "next_response_due_at" not in by_person
    assert by_person["sla_next_at"] == jst(24, 16, 24)  # the resolution warning (80% of 8h)


def test_pause_then_resume_pushes_resolution_back_by_the_time_spent_pending(sla):
    opened = _opened(sla, "red")
    paused = sla.reprice(opened, priority="red", tier="standard", created_at=OPENED, status="pending",
                         paused_at=None, answered=True, now=jst(20, 12, 0), reason="paused")
    assert paused["sla_paused_at"] == jst(20, 12, 0)
    assert paused["sla_next_at"] is None  # answered and pending: nothing to say
    moments = _apply(opened, paused)
    resumed = sla.reprice(moments, priority="red", tier="standard", created_at=OPENED, status="open",
                          paused_at=jst(20, 12, 0), answered=True, now=jst(24, 10, 0),
                          reason=("resumed", "customer_wrote"))
    assert resumed["sla_paused_at"] is None
    assert resumed["resolution_due_at"] == jst(24, 16, 0)  # 6 of 8 business hours were left
    assert resumed["next_response_due_at"] == jst(24, 11, 0)
    assert resumed["sla_next_at"] == jst(24, 10, 48)


def test_priority_raise_while_pending_keeps_the_pause(sla):
    moments = {**_opened(sla, "green"), "sla_paused_at": jst(20, 12, 0)}
    changes = sla.reprice(moments, priority="red", tier="standard", created_at=OPENED, status="pending",
                          paused_at=jst(20, 12, 0), answered=True, now=jst(24, 10, 0), reason="priced")
    assert changes["resolution_due_at"] == jst(20, 18, 0)  # 6h were left when it paused; they stay left
    assert "sla_paused_at" not in changes and changes["sla_next_at"] is None


def test_next_reply_is_set_once_and_cleared_by_an_answer_or_resolving(sla):
    answered = {**_opened(sla, "red"), "sla_next_at": jst(20, 16, 24)}
    wrote = sla.reprice(answered, priority="red", tier="standard", created_at=OPENED, status="open",
                        paused_at=None, answered=True, now=jst(20, 13, 0), reason="customer_wrote")
    assert (wrote["next_response_warn_at"], wrote["next_response_due_at"]) == (jst(20, 13, 48), jst(20, 14, 0))
    assert wrote["sla_next_at"] == jst(20, 13, 48)
    waiting = _apply(answered, wrote)
    again = sla.reprice(waiting, priority="red", tier="standard", created_at=OPENED, status="open",
                        paused_at=None, answered=True, now=jst(20, 13, 30), reason="customer_wrote")
    assert again == {"sla_next_at": jst(20, 13, 48)}  # already waiting: the clock keeps running
    cleared = sla.reprice(waiting, priority="red", tier="standard", created_at=OPENED, status="open",
                          paused_at=None, answered=True, now=jst(20, 13, 40), reason="answered")
    assert cleared == {"next_response_warn_at": None, "next_response_due_at": None, "sla_next_at": jst(20, 16, 24)}
    resolved = sla.reprice(waiting, priority="red", tier="standard", created_at=OPENED, status="resolved",
                           paused_at=None, answered=True, now=jst(20, 13, 40), reason="resolved")
    assert resolved == {"next_response_warn_at": None, "next_response_due_at": None, "sla_next_at": None}
    unanswered = sla.reprice(_opened(sla, "red"), priority="red", tier="standard", created_at=OPENED,
                             status="open", paused_at=None, answered=False, now=jst(20, 10, 20),
                             reason="customer_wrote")
    assert "next_response_due_at" not in unanswered  # the first response is what they wait on


def test_next_response_of_the_policy_and_its_default(rules):
    policies = [policy.model_copy(update={"next_response": timedelta(minutes=30)})
                if policy.priority == "red" and policy.tier == "*" else policy for policy in rules.sla.policies]
    faster = SlaClock(rules.model_copy(update={"sla": rules.sla.model_copy(update={"policies": policies})}))
    assert faster.next_response("red", "standard", jst(20, 13, 0)) == {
        "next_response_warn_at": jst(20, 13, 24), "next_response_due_at": jst(20, 13, 30)}
    assert SlaClock(rules).next_response("green", "standard", jst(20, 13, 0))["next_response_due_at"] == \
        jst(24, 12, 0)  # green: first_response's 8 business hours (Mon 11/23 is a holiday)


def test_a_running_next_reply_gets_the_new_terms_but_never_more_time(sla):
    waiting = {**_opened(sla, "green"), **sla.next_response("green", "standard", jst(20, 13, 0)),
               "sla_next_at": jst(20, 13, 0)}
    raised = sla.reprice(waiting, priority="red", tier="standard", created_at=OPENED, status="open",
                         paused_at=None, answered=True, now=jst(20, 13, 10), reason="priced")
    assert raised["next_response_due_at"] == jst(20, 14, 10)
    lowered = sla.reprice(_apply(waiting, raised), priority="green", tier="standard", created_at=OPENED,
                          status="open", paused_at=None, answered=True, now=jst(20, 13, 20), reason="priced")
    assert "next_response_due_at" not in lowered


def test_a_moment_the_scheduler_has_not_reached_yet_stays_owed(sla):
    moments = {**_opened(sla, "red"), "sla_next_at": jst(20, 16, 24)}  # the pass has not run since 16:24
    changes = sla.reprice(moments, priority="red", tier="standard", created_at=OPENED, status="open",
                          paused_at=None, answered=True, now=jst(20, 16, 30), reason="customer_wrote")
    assert changes["next_response_due_at"] == jst(20, 17, 30)
    assert changes["sla_next_at"] == jst(20, 16, 24)  # the resolution warning is still to be said


def test_unknown_reason_is_refused(sla):
    with pytest.raises(ValueError):
        sla.reprice(_opened(sla, "red"), priority="red", tier="standard", created_at=OPENED, status="open",
                    paused_at=None, answered=False, now=OPENED, reason="bumped")


def test_a_raise_prices_the_same_from_ingest_and_from_a_person(flows, clock, session_factory):
    """Core (a follow-up raising the priority) and ORM (`set_priority`) land on the same columns."""
    by_ingest = flows.ingest(inbound("使い方を教えて", conversation_id="c-a",
                                     author={"id": "a1", "handle": "@a", "name": "A"})).ticket_key
    by_person = flows.ingest(inbound("使い方を教えて", conversation_id="c-b",
                                     author={"id": "b1", "handle": "@b", "name": "B"})).ticket_key
    clock.advance(minutes=20)
    flows.ingest(inbound("二重請求されています", conversation_id="c-a", author={"id": "a1", "handle": "@a", "name": "A"}))
    flows.set_priority(by_person, actor="U0AGENT001", priority="red")
    columns = ("priority", "first_response_warn_at", "first_response_due_at", "resolution_warn_at",
               "resolution_due_at", "next_response_due_at", "sla_next_at")
    with session_factory() as session:
        rows = {ticket.key: tuple(getattr(ticket, c) for c in columns) for ticket in session.scalars(select(Ticket))}
    assert rows[by_ingest] == rows[by_person]
    assert rows[by_ingest][0] == "red"
