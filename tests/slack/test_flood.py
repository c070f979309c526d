"""A flood in one channel: 500 tickets in one burst reach Slack in order, each exactly once, while
Slack answers 429 to every fifth call; the lane is paced at one post per second and the backlog
shows in /metrics; permanent errors go dead instead of blocking the channel."""

from __future__ import annotations

from sqlalchemy import func, select

from chatops.tickets.models import OutboxItem, SurfaceThread
from tests.helpers import inbound

BURST = 500


def test_burst_of_500_in_one_channel_with_429_every_fifth_call(desk):
    slack = desk.slack
    slack.rate_limit_every = 5
    keys = [desk.flows.ingest(inbound(f"ログインの方法を教えてください #{n}",
                                      author={"id": f"c{n}", "handle": f"@c{n}", "name": f"C{n}"})).ticket_key
            for n in range(BURST)]
    metrics = desk.client.get("/metrics").get_data(as_text=True)
    assert f'chatops_outbox_backlog{{target="slack"}} {float(BURST)}' in metrics

    started = desk.clock.now
    desk.drain()

    parents = slack.parents()
    assert [p.text.split()[1] for p in parents] == keys  # in order, none lost, none twice
    assert len({p.channel for p in parents}) == 1
    limited = [c for c in slack.calls if c.status == 429]
    assert len(limited) == len(slack.calls) // 5
    # Paced: at most one post per second of (test) clock in the channel, 429 waits included.
    assert (desk.clock.now - started).total_seconds() >= BURST + len(limited) - 1
    with desk.runtime.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(SurfaceThread)) == BURST
        states = dict(session.execute(select(OutboxItem.state, func.count()).group_by(OutboxItem.state)).all())
    assert states == {"done": BURST}
    metrics = desk.client.get("/metrics").get_data(as_text=True)
    assert 'chatops_outbox_backlog{target="slack"}' not in metrics


def test_a_missing_channel_goes_dead_and_the_next_ticket_still_posts(desk, rules):
    slack = desk.slack
    slack.missing_channels.add(rules.channels["support"].slack)
    lost = desk.flows.ingest(inbound("使い方を教えてください")).ticket_key
    desk.drain()
    slack.missing_channels.clear()
    kept = desk.flows.ingest(inbound("ポイントの使い方は？", author={"id": "u2", "handle": "@b", "name": "B"})).ticket_key
    desk.drain()
    assert [p.text.split()[1] for p in slack.parents()] == [kept]
    with desk.runtime.session_factory() as session:
        dead = session.scalar(select(OutboxItem).where(OutboxItem.state == "dead"))
    assert dead.payload == {"ticket_id": int(lost.split("-")[1])}
    assert dead.last_error == "slack: channel_not_found"
    assert 'chatops_outbox_dead{target="slack"} 1.0' in desk.client.get("/metrics").get_data(as_text=True)


def test_a_post_whose_answer_was_lost_is_found_not_posted_twice(desk):
    slack = desk.slack
    first = desk.flows.ingest(inbound("使い方を教えてください")).ticket_key
    desk.drain()  # the channel's id is known from this post
    slack.lose_answer = ["chat.postMessage"]
    second = desk.flows.ingest(inbound("ポイントの使い方は？", author={"id": "u2", "handle": "@b", "name": "B"})).ticket_key
    desk.flows.claim(second, actor="U0AGENT001")
    slack.lose_answer = ["chat.postMessage", "chat.postMessage"]  # the parent, then its first line
    desk.drain()
    assert [p.text.split()[1] for p in slack.parents()] == [first, second]
    [parent] = [p for p in slack.parents() if second in p.text]
    assert len(slack.thread(parent)) == 1  # the claim line, once
    looked = [c.method for c in slack.calls if c.method.startswith("conversations.")]
    assert looked == ["conversations.history", "conversations.replies"]


def test_first_post_to_a_channel_lost_finds_the_channel_by_name(desk):
    slack = desk.slack
    slack.lose_answer = ["chat.postMessage"]
    key = desk.flows.ingest(inbound("使い方を教えてください")).ticket_key
    desk.drain()
    assert [p.text.split()[1] for p in slack.parents()] == [key]
    assert [c.method for c in slack.calls if c.method.startswith("conversations.")] == [
        "conversations.list", "conversations.history"]
