"""The weekly digest: queued once per ISO week when rules.yaml says it is due, posted to the
managers' channel with the figures by the slack-stats deliverer."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk import WebClient
from sqlalchemy import select

from chatops.outbox import Outbox
from chatops.slack.stats import SlackStatsDeliverer
from chatops.stats.digest import digest_due_at, queue_digest
from chatops.tickets.models import OutboxItem
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.unit.test_stats_figures import dataset  # noqa: F401

MONDAY_0859_JST = datetime(2026, 11, 22, 23, 59, tzinfo=UTC)  # Mon 08:59 JST
MONDAY_0900_JST = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Mon 09:00 JST


def test_due_on_monday_at_nine_tokyo_time(rules):
    assert digest_due_at(rules, MONDAY_0859_JST) is None
    assert digest_due_at(rules, MONDAY_0900_JST) == MONDAY_0900_JST
    assert digest_due_at(rules, datetime(2026, 11, 26, 3, 0, tzinfo=UTC)) == MONDAY_0900_JST  # Thursday


def test_queued_once_per_week_and_posted_to_the_managers_channel(rules, session_factory, dataset, clock):  # noqa: F811
    assert not queue_digest(session_factory, rules, MONDAY_0859_JST)
    assert queue_digest(session_factory, rules, MONDAY_0900_JST)
    assert not queue_digest(session_factory, rules, datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    with RecordingServer() as slack:
        slack.default = Answer(200, {"ok": True, "channel": "C0MANAGERS", "ts": "1.2"})
        client = WebClient(token="xoxb-test", base_url=slack.url + "/api/")
        clock.now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
        deliverer = SlackStatsDeliverer(session_factory, rules, client, lang="en", clock=clock)
        Outbox(session_factory, {deliverer.target: deliverer}, clock=clock).run_once()
        post = [r for r in slack.requests if r.path == "/api/chat.postMessage"][0]
    body = post.body.decode()
    assert "cs-managers" in body and "Weekly support digest" in body and "2026-11-17" in body
    with session_factory() as session:
        item = session.scalars(select(OutboxItem).where(OutboxItem.kind == "digest")).one()
        assert item.state == "done" and item.dedupe_key == "stats-digest:2026-W48"


def test_only_the_scheduler_leader_queues_the_digest(flows, session_factory):
    from datetime import timedelta

    from chatops.scheduler import Lease, Scheduler

    woken = []
    clock = lambda: MONDAY_0900_JST  # noqa: E731
    leader = Scheduler(flows, Lease(session_factory, holder="a", clock=clock), wake=lambda: woken.append("a"))
    follower = Scheduler(flows, Lease(session_factory, holder="b", clock=clock), wake=lambda: woken.append("b"))
    assert leader.digest(MONDAY_0900_JST)  # takes the lease, queues the week's digest
    assert not follower.digest(MONDAY_0900_JST)  # the lease is held: does nothing
    assert not leader.digest(MONDAY_0900_JST + timedelta(minutes=1))  # queued once per week
    assert woken == ["a"]
    with session_factory() as session:
        assert len(session.scalars(select(OutboxItem).where(OutboxItem.kind == "digest")).all()) == 1
