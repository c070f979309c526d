"""The SLA clock on rows: warnings and breaches exactly once per deadline, pauses, re-pricing,
paging escalation and acknowledgement, restarts, and one leader among schedulers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from chatops.db import make_engine, make_session_factory
from chatops.oncall.models import Page
from chatops.scheduler import Lease, Scheduler
from chatops.tickets.flows import TicketFlows
from chatops.tickets.models import Customer, Ticket, TicketEvent
from tests.helpers import inbound

JST = ZoneInfo("Asia/Tokyo")
RED = "二重請求されています。確認してください"
GREEN = "使い方を教えてください"


def at(clock, *args) -> datetime:
    clock.now = datetime(*args, tzinfo=JST).astimezone(UTC)
    return clock.now


def events(session_factory, kind: str) -> list[tuple[int, dict]]:
    with session_factory() as session:
        rows = session.scalars(select(TicketEvent).where(TicketEvent.kind == kind).order_by(TicketEvent.id))
        return [(row.ticket_id, row.payload) for row in rows]


def test_warning_and_breach_fire_once_per_deadline(flows, clock, session_factory):
    key = flows.ingest(inbound(RED)).ticket_key  # Friday 10:00 JST; red: 1h / 8h business
    with session_factory() as session:
        ticket = session.get(Ticket, 1)
        assert ticket.first_response_due_at == datetime(2026, 11, 20, 11, 0, tzinfo=JST)
        assert ticket.resolution_due_at == datetime(2026, 11, 20, 18, 0, tzinfo=JST)
    assert flows.sla_pass(at(clock, 2026, 11, 20, 10, 47)) == []
    assert flows.sla_pass(at(clock, 2026, 11, 20, 10, 48)) == [(key, "sla_warning", "first_response")]
    assert flows.sla_pass(at(clock, 2026, 11, 20, 10, 59)) == []
    assert flows.sla_pass(at(clock, 2026, 11, 20, 11, 0)) == [(key, "sla_breached", "first_response")]
    assert flows.sla_pass(at(clock, 2026, 11, 20, 11, 0)) == []
    flows.reply(key, actor="U0AGENT001", text="確認します")
    # A pass that was down for days fires the later deadline's breach once, not its warning too.
    assert flows.sla_pass(at(clock, 2026, 11, 24, 12, 0)) == [(key, "sla_breached", "resolution")]
    assert flows.sla_pass(at(clock, 2026, 11, 30, 12, 0)) == []
    breach = events(session_factory, "sla_breached")[0][1]
    assert (breach["deadline"], breach["level"], breach["notify"]) == ("first_response", "L3", ["U0LEAD0001"])
    assert len(events(session_factory, "sla_warning")) == 1


def test_pending_pauses_the_resolution_clock(flows, clock, session_factory):
    message = inbound(GREEN, conversation_id="conv-9")
    key = flows.ingest(message).ticket_key  # green: 8h / 3d business from Fri 10:00
    flows.reply(key, actor="U0AGENT001", text="どの画面でしょうか？")
    at(clock, 2026, 11, 20, 12, 0)
    flows.set_pending(key, actor="U0AGENT001")
    assert flows.sla_pass(at(clock, 2026, 12, 10, 12, 0)) == []  # three weeks waiting: no breach
    flows.ingest(inbound("設定画面です", conversation_id="conv-9",
                         created_at=datetime(2026, 12, 10, 12, 0, tzinfo=JST).isoformat()))
    with session_factory() as session:
        ticket = session.get(Ticket, 1)
        assert ticket.status == "open" and ticket.sla_paused_at is None
        # 3d = 72 business hours allowed, 2 used before the pause: 70 left from Thu 12/10 12:00.
        assert ticket.resolution_due_at == datetime(2026, 12, 22, 10, 0, tzinfo=JST)
        assert ticket.next_response_due_at == datetime(2026, 12, 11, 11, 0, tzinfo=JST)  # 8h business: a next reply owed
    # The unanswered follow-up breached its next reply long before; the resolution breaches at its own moment.
    assert flows.sla_pass(at(clock, 2026, 12, 22, 10, 0)) == [(key, "sla_breached", "next_response"),
                                                              (key, "sla_breached", "resolution")]


def test_raising_priority_moves_deadlines(flows, clock, session_factory):
    key = flows.ingest(inbound(GREEN)).ticket_key
    at(clock, 2026, 11, 20, 10, 30)
    flows.set_priority(key, actor="U0AGENT001", priority="red")
    # red's 1h first response was due at 11:00; the warning moment (10:48) is folded into the breach
    assert flows.sla_pass(at(clock, 2026, 11, 20, 11, 5)) == [(key, "sla_breached", "first_response")]
    with session_factory() as session:
        assert [page.reason for page in session.scalars(select(Page))] == ["T-1:priority:red"]


def _targets(session_factory) -> list[str]:
    return [payload["target"] for _, payload in events(session_factory, "paged")]


def test_page_escalates_until_acknowledged(flows, clock, session_factory):
    flows.ingest(inbound(RED))
    for minute in (0, 10, 15, 29, 30):
        flows.page_pass(at(clock, 2026, 11, 20, 10, minute))
    # primary (weekly from Mon 11/02 10:00: third week → U0AGENT003), then leads (daily → U0LEAD0001)
    assert _targets(session_factory) == ["U0AGENT003", "U0LEAD0001", "U0MANAGER1"]
    assert [p.key for p in flows.acknowledge_page("T-1", actor="U0MANAGER1")] == ["P-1"]
    assert flows.acknowledge_page("P-1", actor="U0MANAGER1") == []  # acknowledging twice changes nothing
    for hour in (11, 12, 13):
        flows.page_pass(at(clock, 2026, 11, 20, hour, 0))
    assert _targets(session_factory) == ["U0AGENT003", "U0LEAD0001", "U0MANAGER1"]
    assert len(events(session_factory, "page_acknowledged")) == 1


def test_restart_mid_escalation_neither_loses_nor_repeats(flows, clock, database_url, rules, session_factory):
    flows.ingest(inbound(RED))
    flows.page_pass(at(clock, 2026, 11, 20, 10, 0))
    flows.page_pass(at(clock, 2026, 11, 20, 10, 15))
    # "Restart": a new process — new engine, new flows, new lease holder — at a later time.
    engine = make_engine(database_url)
    try:
        again = TicketFlows(make_session_factory(engine), rules, clock=clock)
        scheduler = Scheduler(again, Lease(again.session_factory, holder="replica-2", clock=clock))
        for minute in (15, 20, 30, 45):  # 10:15 was already handled before the restart
            scheduler.tick(at(clock, 2026, 11, 20, 10, minute))
        scheduler.tick(at(clock, 2026, 11, 20, 11, 15))
        scheduler.tick(at(clock, 2026, 11, 20, 11, 30))
        scheduler.tick(at(clock, 2026, 11, 20, 23, 0))
    finally:
        engine.dispose()
    # 3 steps × repeat 2, each exactly once, in order; then the chain stops.
    assert _targets(session_factory) == ["U0AGENT003", "U0LEAD0001", "U0MANAGER1"] * 2
    with session_factory() as session:
        page = session.scalars(select(Page)).one()
        assert (page.status, page.notified, page.next_at) == ("triggered", 6, None)


def test_premium_breach_pages(flows, clock, session_factory):
    flows.ingest(inbound(GREEN))
    with session_factory.begin() as session:
        session.get(Customer, 1).tier = "premium"
    flows.set_priority("T-1", actor="U0AGENT001", priority="orange")  # premium orange: 1h business
    flows.sla_pass(at(clock, 2026, 11, 20, 11, 0))
    with session_factory() as session:
        assert [page.reason for page in session.scalars(select(Page))] == [
            "T-1:breach:first_response:2026-11-20T02:00:00+00:00"]


def test_two_schedulers_never_both_fire(flows, clock, database_url, rules, session_factory):
    """Two replicas on the same database tick at the same moments: one leads, every notice once."""
    for n in range(20):
        flows.ingest(inbound(RED, author={"id": f"c{n}", "handle": f"@c{n}", "name": "c"}))
    engines = [make_engine(database_url) for _ in range(2)]
    try:
        schedulers = [Scheduler(TicketFlows(make_session_factory(e), rules, clock=clock),
                                Lease(make_session_factory(e), holder=f"replica-{i}", clock=clock,
                                      ttl=timedelta(minutes=10)))
                      for i, e in enumerate(engines)]
        leaders = []
        for minute in range(0, 24 * 60, 7):
            now = clock.now = datetime(2026, 11, 20, 10, 0, tzinfo=JST).astimezone(UTC) + timedelta(minutes=minute)
            barrier, results = threading.Barrier(2), [None, None]

            def run(i, now=now, barrier=barrier, results=results):
                barrier.wait()
                results[i] = schedulers[i].tick(now)

            threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sum(result is not None for result in results) == 1
            leaders.append(next(i for i, result in enumerate(results) if result is not None))
        assert len(set(leaders)) == 1  # the lease is renewed each tick: no flapping
    finally:
        for engine in engines:
            engine.dispose()
    warnings, breaches = events(session_factory, "sla_warning"), events(session_factory, "sla_breached")
    expected = sorted((ticket, deadline) for ticket in range(1, 21) for deadline in ("first_response", "resolution"))
    # every 7 minutes: each deadline's warning and breach land in different ticks, each exactly once
    assert sorted((ticket, p["deadline"]) for ticket, p in warnings) == expected
    assert sorted((ticket, p["deadline"]) for ticket, p in breaches) == expected
    assert len(_targets(session_factory)) == 20 * 6  # 3 steps × 2 rounds per page, never twice


def test_a_dead_leader_is_replaced_when_its_lease_runs_out(session_factory, clock):
    first = Lease(session_factory, holder="a", clock=clock, ttl=timedelta(seconds=30))
    second = Lease(session_factory, holder="b", clock=clock, ttl=timedelta(seconds=30))
    assert first.acquire() and not second.acquire()
    clock.advance(seconds=29)
    assert not second.acquire()
    clock.advance(seconds=2)  # "a" stopped renewing (it died)
    assert second.acquire() and not first.acquire()
    with session_factory.begin() as session:
        assert not first.fence(session)  # the old leader's late pass writes nothing
    second.release()
    assert first.acquire()


def test_customer_tier_change_reprices_open_tickets(flows, clock, session_factory):
    key = flows.ingest(inbound(RED)).ticket_key  # standard red: first response 1h business → 11:00
    at(clock, 2026, 11, 20, 10, 5)
    flows.set_customer_tier(key, actor="U0LEAD0001", tier="premium")  # premium red: 15m, 24x7 → 10:15
    with session_factory() as session:
        assert session.get(Ticket, 1).first_response_due_at == datetime(2026, 11, 20, 10, 15, tzinfo=JST)
    assert flows.sla_pass(at(clock, 2026, 11, 20, 10, 15)) == [(key, "sla_breached", "first_response")]
    assert [p["tier_to"] for _, p in events(session_factory, "tier_changed")] == ["premium"]


def test_metrics_show_breaches_and_pages(flows, clock, session_factory):
    from prometheus_client import generate_latest

    from chatops.metrics import Metrics

    key = flows.ingest(inbound(RED)).ticket_key  # Friday 10:00 JST: due 11:00, and red pages
    for minute in (0, 15):  # the primary, then (not acknowledged) the leads
        flows.page_pass(at(clock, 2026, 11, 20, 10, minute))
    at(clock, 2026, 11, 20, 11, 30)
    flows.reply(key, actor="U0AGENT001", text="確認します")  # half an hour late
    flows.acknowledge_page(key, actor="U0AGENT003")
    text = generate_latest(Metrics(session_factory).registry).decode()
    assert 'chatops_sla_breached_total{deadline="first_response"} 1.0' in text
    assert 'chatops_sla_breached_total{deadline="resolution"} 0.0' in text
    assert 'chatops_pages{status="acknowledged"} 1.0' in text
    assert 'chatops_pages{status="triggered"} 0.0' in text
    assert "chatops_page_notifications_total 2.0" in text


def test_a_reopened_ticket_gets_a_new_resolution_deadline(flows, clock, session_factory):
    key = flows.ingest(inbound(RED, conversation_id="dm-1")).ticket_key  # Friday 10:00 JST: first response 11:00, resolution 18:00
    at(clock, 2026, 11, 20, 10, 30)
    flows.reply(key, actor="U0AGENT001", text="確認します")
    flows.resolve(key, actor="U0AGENT001")
    reopen_at = at(clock, 2026, 11, 24, 10, 0)  # Tuesday: the customer writes again
    again = flows.ingest(inbound("まだ二重請求のままです", conversation_id="dm-1", created_at=reopen_at.isoformat()))
    assert again.outcome == "reopened" and again.ticket_key == key
    with session_factory() as session:
        ticket = session.get(Ticket, again.ticket_id)
        assert ticket.resolution_due_at == datetime(2026, 11, 24, 18, 0, tzinfo=JST)  # 8 business hours on
        assert ticket.first_response_due_at == datetime(2026, 11, 20, 11, 0, tzinfo=JST)  # answered: kept
    # no breach of the old deadline on reopening; the new one warns and breaches in its time
    assert flows.sla_pass(at(clock, 2026, 11, 24, 10, 1)) == []
    # the customer waits on a next reply (red: 1h, due 11:00) as well as the resolution
    assert flows.sla_pass(at(clock, 2026, 11, 24, 18, 0)) == [(key, "sla_breached", "next_response"),
                                                              (key, "sla_breached", "resolution")]
    # reopened by a person (not by the customer): the same fresh clock
    flows.resolve(key, actor="U0AGENT001")
    flows.reopen(key, actor="U0AGENT001", reason="follow-up call")
    with session_factory() as session:
        assert session.get(Ticket, again.ticket_id).resolution_due_at > datetime(2026, 11, 24, 18, 0, tzinfo=JST)
