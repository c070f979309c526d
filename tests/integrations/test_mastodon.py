"""Mastodon end to end: polled mention → ticket → agent reply → threaded status on the fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from chatops.tickets.models import OutboxItem
from integrations.mastodon import MastodonConfig
from integrations.polling import poll_once
from tests.fakes.http_recorder import Answer
from tests.integrations.conftest import (
    agent_reply,
    deliver,
    enable,
    fixture,
    inbound_count,
    reply_items,
    tickets,
)

ACCOUNT = "acme@mastodon.example"


@pytest.fixture
def mastodon(runtime, fake):
    fake.route("GET", "/api/v1/notifications", Answer(200, fixture("mastodon_notifications.json")))  # type: ignore[arg-type]
    fake.route("GET", "/api/v1/timelines/tag/*", Answer(200, []))  # type: ignore[arg-type]
    fake.route("GET", "/api/v1/timelines/tag/acmestore", Answer(200, fixture("mastodon_tag_timeline.json")))  # type: ignore[arg-type]
    fake.route("POST", "/api/v1/statuses", Answer(200, {"id": "113186200000000001"}))
    config = MastodonConfig(api_url=fake.url, access_token="mastodon-token", account=ACCOUNT, _env_file=None)
    networks = enable(runtime, "mastodon", config)
    return networks


def poll(runtime, networks, holder="replica-1"):
    (poller,) = networks.pollers()
    return poll_once(poller, runtime.flows, networks.context.store, holder=holder)


def test_mention_becomes_ticket_and_reply_is_threaded(runtime, fake, mastodon):
    outcome = poll(runtime, mastodon)
    assert outcome.created == 2  # the mention and the #acmestore post; the favourite is ignored
    mention, keyword = tickets(runtime)
    assert (mention.source, mention.account, mention.channel, mention.priority) == \
        ("mastodon", ACCOUNT, "support-urgent", "red")
    assert mention.customer.handle == "@hanako@fedi.example"
    assert keyword.channel == "support-urgent" and "ログインできない" in keyword.subject

    agent_reply(runtime, mention.key, "ご迷惑をおかけしています。DMで詳細をお送りください。")
    assert deliver(runtime) == 1
    (sent,) = fake.calls_to("POST", "/api/v1/statuses")
    assert sent.headers["Authorization"] == "Bearer mastodon-token"
    assert sent.headers["Idempotency-Key"] == "reply:slack-view:V0001"
    body = sent.json()
    assert body["in_reply_to_id"] == "113186126728896492"
    assert body["status"].startswith("@hanako@fedi.example ご迷惑")
    assert body["visibility"] == "public"
    (item,) = reply_items(runtime)
    assert item.state == "done" and item.result["external_id"] == "113186200000000001"


def test_overlapping_polls_store_each_status_once(runtime, fake, mastodon):
    poll(runtime, mastodon, holder="replica-1")
    # The fake ignores since_id, as two replicas racing would both see the same page.
    with runtime.session_factory() as session:
        session.execute(OutboxItem.__table__.delete())
        session.commit()
    mastodon.context.store.merge("lease:poll:mastodon:" + ACCOUNT, lease_until=None)
    again = poll(runtime, mastodon, holder="replica-2")
    assert again.polled and again.duplicates == 2 and again.created == 0
    assert len(tickets(runtime)) == 2 and inbound_count(runtime) == 2
    second = fake.calls_to("GET", "/api/v1/notifications")[-1]
    assert second.query["since_id"] == ["34975861"]
    assert fake.calls_to("GET", "/api/v1/timelines/tag/acmestore")[-1].query["since_id"] == ["113186126728899999"]


def test_lease_keeps_a_second_replica_from_polling(runtime, fake, mastodon):
    poll(runtime, mastodon, holder="replica-1")
    assert not poll(runtime, mastodon, holder="replica-2").polled
    assert len(fake.calls_to("GET", "/api/v1/notifications")) == 1


def test_spent_rate_limit_pauses_polling(runtime, fake, mastodon):
    reset = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
    fake.queue("GET", "/api/v1/notifications", Answer(200, [], {"X-RateLimit-Remaining": "0",  # type: ignore[arg-type]
                                                                 "X-RateLimit-Reset": reset}))
    poll(runtime, mastodon)
    state = mastodon.context.store.get("poll:mastodon:" + ACCOUNT)
    paused = datetime.fromisoformat(state["paused_until"])
    assert timedelta(minutes=3) < paused - datetime.now(UTC) <= timedelta(minutes=4)
    mastodon.context.store.merge("lease:poll:mastodon:" + ACCOUNT, lease_until=None)
    assert not poll(runtime, mastodon, holder="replica-1").polled


def test_reply_429_waits_for_the_reset_and_sends_once(runtime, fake, mastodon):
    poll(runtime, mastodon)
    key = tickets(runtime)[0].key
    agent_reply(runtime, key, "確認します")
    agent_reply(runtime, key, "確認します")  # the same modal submitted twice: one reply
    reset = (datetime.now(UTC) + timedelta(seconds=120)).isoformat()
    fake.queue("POST", "/api/v1/statuses", Answer(429, {"error": "Too many requests"},
                                                  {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}))
    deliver(runtime)
    (item,) = reply_items(runtime)
    assert item.state == "pending" and "429" in item.last_error
    assert timedelta(seconds=100) < item.next_attempt_at - datetime.now(UTC) <= timedelta(seconds=120)


def test_repeated_401_raises_one_alert(runtime, fake, mastodon):
    fake.route("GET", "/api/v1/notifications", Answer(401, {"error": "The access token is invalid"}))
    for attempt in range(6):
        mastodon.context.store.merge("lease:poll:mastodon:" + ACCOUNT, lease_until=None)
        mastodon.context.store.merge("poll:mastodon:" + ACCOUNT, paused_until=None)
        poll(runtime, mastodon, holder=f"r{attempt}")
    with runtime.session_factory() as session:
        alerts = list(session.scalars(select(OutboxItem).where(OutboxItem.kind == "channel_alert")))
    assert len(alerts) == 1
    assert alerts[0].payload["params"]["network"] == "mastodon" and alerts[0].payload["channel"] == "support"
    assert alerts[0].ordering_key == "slack:#cs-support"


def test_recovery_ends_the_outage_and_a_new_outage_alerts_again(runtime, fake, mastodon):
    health = mastodon.context.health
    for _ in range(4):
        health.auth_failed("mastodon", ACCOUNT, 401)
    health.ok("mastodon", ACCOUNT)
    health.ok("mastodon", ACCOUNT)
    raised = [health.auth_failed("mastodon", ACCOUNT, 403) for _ in range(5)]
    assert raised == [False, False, True, False, False]
    with runtime.session_factory() as session:
        keys = sorted(session.scalars(select(OutboxItem.dedupe_key).where(OutboxItem.kind == "channel_alert")))
    assert keys == [f"alert:auth:mastodon:{ACCOUNT}:0", f"alert:auth:mastodon:{ACCOUNT}:1"]
