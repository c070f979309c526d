"""A flood (炎上) through the Teams bot: the ticket's one card thread gets the incident's opening
line and at most one digest reply per `flood.digest_every`; no reply per member."""

from __future__ import annotations

from sqlalchemy import select

from chatops.outbox import Outbox
from chatops.tickets.models import BotThread, Ticket
from tests.helpers import inbound
from tests.teams.bot_support import *  # noqa: F403 - fixtures and helpers
from tests.teams.bot_support import channel_of, drain_bot, install, post


def angry_reply(n: int):
    return inbound(f"アプリでエラーが出ます #{n}", source="mastodon", kind="reply", conversation_id="brand-post-9",
                   in_reply_to="brand-post-9", author={"id": f"f{n}", "handle": f"@fan{n}", "name": f"Fan {n}"})


def test_a_flood_is_one_thread_with_an_opening_line_and_bounded_digests(
        bot_runtime, bot_client, bot_outbox, identity, bot_connector, clock):
    outbox = Outbox(bot_outbox.session_factory, bot_outbox.deliverers, clock=clock)  # digests wait on the clock
    clock.advance(seconds=-(clock.now.timestamp() % 30))  # start on a digest period
    key = bot_runtime.flows.ingest(angry_reply(0)).ticket_key
    with bot_runtime.session_factory() as session:
        channel = session.get(Ticket, int(key[2:])).channel
    post(bot_client, identity, install(bot_connector, channel_of(channel)))
    for n in range(1, 300):
        bot_runtime.flows.ingest(angry_reply(n))
        clock.advance(milliseconds=150)  # 45 s: the flood spans two digest periods
    clock.advance(seconds=60)
    drain_bot(outbox, rounds=500)

    with bot_runtime.session_factory() as session:
        [thread] = session.scalars(select(BotThread)).all()
    root, replies = bot_connector.thread_of(thread.conversation_id)
    texts = [reply.activity["text"] for reply in replies]
    opened = [text for text in texts if "炎上インシデント" in text]
    digests = [text for text in texts if "新着" in text]
    assert len(opened) == 1 and len(digests) == 2
    counts = [int(text.split("新着 ")[1].split(" 件")[0]) for text in digests]
    assert sum(counts) == 300  # every message in exactly one digest (those before the flood was seen too)
    assert "@fan" in digests[0] and "300 件" in digests[-1]
    assert len(replies) == 3 and len(bot_connector.activities) == 4  # the card, the opening, two digests
