"""Two `chatops serve` replicas on one PostgreSQL database share ingest and the outbox: webhooks
sent to either, the same deliveries sent to both (as a network's retry might), and the fake Slack
sees every ticket exactly once, in per-channel pace."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest
import requests
from sqlalchemy import func, select

from chatops.db import make_engine, make_session_factory
from chatops.tickets.models import OutboxItem, Ticket
from integrations.webhook import sign
from tests.e2e.processes import Serve, outbox_settled
from tests.fakes.slack_api import FakeSlack
from tests.helpers import inbound, until

SECRET = "replica-secret"
COUNT = 60
INTERVAL = 0.2


def post(base: str, n: int, text: str) -> int:
    body = inbound(text, external_id=f"rep-{n}", source="webhook", account="form",
                   author={"id": f"c{n}", "handle": f"@c{n}", "name": f"C{n}"}).model_dump_json().encode()
    response = requests.post(base + "/webhooks/generic", data=body, timeout=10,
                             headers={"X-Chatops-Signature": sign(SECRET, body), "Content-Type": "application/json"})
    return response.status_code


def is_dm(channel: str) -> bool:
    """A DM to a person (a keyword rule's notify), posted by user id or DM id, not a team channel."""
    return channel[:1] in ("U", "W", "D")


def channel_parents(slack: FakeSlack) -> list:
    """Ticket parents in the team channels (DMs are their own lane)."""
    return [p for p in slack.parents() if not is_dm(p.channel)]


def test_two_replicas_deliver_each_post_once_and_keep_the_pace(tmp_path, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database (set CHATOPS_TEST_DATABASE_URL)")
    engine = make_engine(database_url)
    session_factory = make_session_factory(engine)
    with FakeSlack(token="xoxb-rep") as slack:
        env = {"CHATOPS_WEBHOOK_SECRET": SECRET, "SLACK_BOT_TOKEN": "xoxb-rep", "SLACK_SIGNING_SECRET": "s",
               "SLACK_API_URL": slack.api_url, "SLACK_POST_INTERVAL": str(INTERVAL),
               # red tickets page people (DMs, thread lines): paging has its own tests; here only
               # the ticket posts are counted
               "CHATOPS_SCHEDULER": "false"}
        replicas = [Serve(tmp_path, database_url, **env), Serve(tmp_path, database_url, **env)]
        try:
            texts = ["二重請求されています", "使い方を教えてください", "返品したいです"]  # three channels
            statuses: list[int] = []

            def send(offset: int) -> None:
                for n in range(offset, COUNT, 2):
                    # Each message goes to one replica, and again to the other (a redelivery).
                    for replica in (replicas[n % 2], replicas[(n + 1) % 2]):
                        statuses.append(post(replica.url, n, f"{texts[n % 3]} #{n}"))

            senders = [threading.Thread(target=send, args=(i,)) for i in (0, 1)]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join(120)
            until(lambda: len(channel_parents(slack)) >= COUNT, timeout=120, every=0.2)
            # Both replicas deliver until nothing is pending; a second post of a ticket would come before.
            until(outbox_settled(session_factory), timeout=60, every=0.2)
        finally:
            for replica in replicas:
                replica.stop()

    assert all(status < 300 for status in statuses) and len(statuses) == 2 * COUNT
    keys = [p.text.split()[1] for p in channel_parents(slack)]
    assert len(keys) == COUNT and len(set(keys)) == COUNT
    posts = defaultdict(list)
    for call in slack.calls:
        # Ticket parents (a rule's notify adds thread lines and DMs, each paced on its own lane).
        if call.method == "chat.postMessage" and not is_dm(call.args["channel"]) and not call.args.get("thread_ts"):
            posts[call.args["channel"]].append(call.at)
    assert len(posts) == 3, sorted(posts)
    for times in posts.values():
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert min(gaps) >= INTERVAL * 0.9, "a channel was posted to faster than its pace"
    try:
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(Ticket)) == COUNT
            states = dict(session.execute(select(OutboxItem.state, func.count()).group_by(OutboxItem.state)).all())
            # Every item delivered: the parents, and the notify lines and DMs some rules add.
            assert set(states) == {"done"} and states["done"] >= COUNT
    finally:
        engine.dispose()
