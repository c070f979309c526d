"""The offline auto-reply goes only to customers who addressed the brand, judged when their
message arrives, never to trolls or blocked customers, and never to posts that were already old
when they came in (a backfill, `chatops ingest` of an old file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from chatops.cli import main
from chatops.tickets.customers import flag_customer
from chatops.tickets.models import Message, OutboxItem, TicketEvent
from tests.conftest import ROOT, RULES_PATH
from tests.helpers import inbound

FRIDAY_NIGHT = datetime(2026, 11, 20, 11, 30, tzinfo=UTC)  # 20:30 JST, closed until Monday 09:00
TUESDAY_OPENING = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # Tuesday 09:00 JST
TUESDAY_NIGHT = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # 20:00 JST, the next closed spell


def auto_replies(session_factory) -> list[Message]:
    with session_factory() as session:
        return list(session.scalars(select(Message).where(Message.author_id == "chatops:offline")))


def network_items(session_factory) -> list[OutboxItem]:
    with session_factory() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.target.like("network:%"))))


def person(n: int) -> dict:
    return {"id": f"c{n}", "handle": f"@c{n}", "name": f"C{n}"}


@pytest.fixture
def night(clock):
    clock.now = FRIDAY_NIGHT
    return clock


def test_a_mention_after_hours_is_answered_with_the_next_opening(flows, session_factory, night):
    flows.ingest(inbound("配送状況を教えてください", author=person(1), created_at=night.now.isoformat()))
    [reply] = auto_replies(session_factory)
    # Monday 2026-11-23 is a public holiday (勤労感謝の日): the team is back on Tuesday.
    back = TUESDAY_OPENING
    assert "2026-11-24 09:00 (JST)" in reply.text and back > night.now
    with session_factory() as session:
        event = session.scalars(select(TicketEvent).where(TicketEvent.kind == "auto_replied")).one()
    assert datetime.fromisoformat(event.payload["back_at"]) == back


def test_a_keyword_hit_never_addressed_the_brand_and_gets_no_auto_reply(flows, session_factory, night):
    result = flows.ingest(inbound("ACMEの配送遅すぎ", kind="keyword", author=person(2),
                                  created_at=night.now.isoformat()))
    assert result.outcome == "created" and auto_replies(session_factory) == []


def test_a_troll_gets_no_auto_reply(flows, session_factory, night):
    first = flows.ingest(inbound("まだですか", author=person(3), created_at=night.now.isoformat()))
    flows.resolve(first.ticket_key, actor="U0AGENT001")
    flag_customer(flows, first.ticket_key, actor="U0LEAD0001", flag="troll")
    assert len(auto_replies(session_factory)) == 1  # before the flag
    night.now = TUESDAY_NIGHT
    assert flows.ingest(inbound("返事しろ", author=person(3), created_at=night.now.isoformat())).outcome == "created"
    flows.ingest(inbound("配送について", author=person(6), created_at=night.now.isoformat()))
    # The other customer, in the same new spell, is answered; the troll is not.
    assert [m.text.count("2026-11-25 09:00") for m in auto_replies(session_factory)] == [0, 1]


def test_the_arrival_time_decides_not_the_post_time(flows, session_factory, clock):
    # Written at night, arriving during business hours (a late webhook, a poller catching up).
    clock.now = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tuesday 10:00 JST
    flows.ingest(inbound("夜中に書きました", author=person(4),
                         created_at=(clock.now - timedelta(minutes=20)).isoformat()))
    # Written in hours, arriving after hours but older than offline_reply_max_age (a backfill).
    clock.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # Tuesday 21:00 JST
    flows.ingest(inbound("昼に書いた古い投稿", author=person(5),
                         created_at=(clock.now - timedelta(days=2)).isoformat()))
    assert auto_replies(session_factory) == []


def test_ingesting_the_sample_file_answers_no_old_post(monkeypatch, capsys, database_url, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("CHATOPS_RULES", str(RULES_PATH))
    assert main(["--lang", "en", "ingest", str(ROOT / "examples" / "mentions.jsonl")]) == 0
    from chatops.db import make_engine, make_session_factory

    engine = make_engine(database_url)
    try:
        factory = make_session_factory(engine)
        assert auto_replies(factory) == [] and network_items(factory) == []  # every sample is days old
        assert main(["--lang", "en", "ingest", "--no-replies", str(ROOT / "examples" / "mentions.jsonl")]) == 0
        assert network_items(factory) == []
    finally:
        engine.dispose()
