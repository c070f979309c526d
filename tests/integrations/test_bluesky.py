"""Bluesky end to end: polled reply/search → ticket → agent reply → post with root and parent."""

from __future__ import annotations

import pytest

from chatops.errors import ReplyTooLong
from integrations.bluesky import BlueskyConfig, make_tid
from integrations.polling import poll_once
from tests.fakes.http_recorder import Answer
from tests.integrations import lexicon
from tests.integrations.conftest import (
    agent_reply,
    deliver,
    enable,
    fixture,
    inbound_count,
    reply_items,
    tickets,
)

HANDLE = "acme.bsky.social"
XRPC = "/xrpc/"


@pytest.fixture
def bluesky(runtime, fake):
    records: dict[str, dict] = {}
    fake.records, fake.refused = records, []
    fake.route("POST", XRPC + "com.atproto.server.createSession", Answer(200, {
        "accessJwt": "access-1", "refreshJwt": "refresh-1", "did": "did:plc:acme", "handle": HANDLE}))
    fake.route("POST", XRPC + "com.atproto.server.refreshSession", Answer(200, {
        "accessJwt": "access-2", "refreshJwt": "refresh-2", "did": "did:plc:acme", "handle": HANDLE}))
    fake.route("GET", XRPC + "app.bsky.notification.listNotifications", Answer(200, fixture("bluesky_notifications.json")))
    fake.route("GET", XRPC + "app.bsky.feed.searchPosts", lambda call: Answer(200, (
        fixture("bluesky_search.json") if call.query["q"] == ["ACME Cloud"] else {"posts": []})))

    def create(call):
        body = call.json()
        invalid = lexicon.problems("com.atproto.repo.createRecord", body)
        if invalid:  # what the PDS answers a record its lexicon refuses
            fake.refused.append(invalid)
            return Answer(400, {"error": "InvalidRequest", "message": "; ".join(invalid)})
        records[body["rkey"]] = body
        uri = f"at://{body['repo']}/{body['collection']}/{body['rkey']}"
        return Answer(200, {"uri": uri, "cid": "bafyreinewcid"})

    def get(call):
        rkey = call.query["rkey"][0]
        if rkey not in records:
            return Answer(400, {"error": "RecordNotFound", "message": "Could not locate record"})
        return Answer(200, {"uri": f"at://did:plc:acme/app.bsky.feed.post/{rkey}", "value": records[rkey]["record"]})

    fake.route("POST", XRPC + "com.atproto.repo.createRecord", create)
    fake.route("GET", XRPC + "com.atproto.repo.getRecord", get)
    config = BlueskyConfig(api_url=fake.url, handle=HANDLE, app_password="app-pass", _env_file=None)
    return enable(runtime, "bluesky", config)


def poll(runtime, networks, holder="r1"):
    (poller,) = networks.pollers()
    networks.context.store.merge(f"lease:poll:bluesky:{HANDLE}", lease_until=None)
    return poll_once(poller, runtime.flows, networks.context.store, holder=holder)


def test_reply_notification_to_threaded_reply(runtime, fake, bluesky):
    assert poll(runtime, bluesky).created == 2
    reply_ticket, keyword_ticket = tickets(runtime)
    assert (reply_ticket.source, reply_ticket.account, reply_ticket.channel) == ("bluesky", HANDLE, "support-urgent")
    assert keyword_ticket.subject == "ACME Cloud 落ちてる？" and keyword_ticket.channel == "support-urgent"
    agent_reply(runtime, reply_ticket.key, "ご不便をおかけしています。復旧作業中です。")
    deliver(runtime)
    (create,) = fake.calls_to("POST", XRPC + "com.atproto.repo.createRecord")
    assert create.headers["Authorization"] == "Bearer access-1"
    body = create.json()
    assert body["repo"] == "did:plc:acme" and body["collection"] == "app.bsky.feed.post"
    record = body["record"]
    assert record["text"] == "ご不便をおかけしています。復旧作業中です。"
    assert record["reply"]["root"] == {"uri": "at://did:plc:acme/app.bsky.feed.post/3lbqyroot0002",
                                       "cid": "bafyreirootcid"}
    assert record["reply"]["parent"] == {"uri": "at://did:plc:hanako123/app.bsky.feed.post/3lbqz2xk4ts2a",
                                         "cid": "bafyreihanakoreplycid"}
    # One createSession for everything: the session is stored, not recreated per call.
    assert len(fake.calls_to("POST", XRPC + "com.atproto.server.createSession")) == 1


def test_keyword_post_starts_its_own_thread(runtime, fake, bluesky):
    poll(runtime, bluesky)
    keyword_ticket = tickets(runtime)[1]
    agent_reply(runtime, keyword_ticket.key, "ご報告ありがとうございます")
    deliver(runtime)
    record = fake.calls_to("POST", XRPC + "com.atproto.repo.createRecord")[0].json()["record"]
    own = {"uri": "at://did:plc:jiro789/app.bsky.feed.post/3lbqz9search1", "cid": "bafyreisearchcid"}
    assert record["reply"] == {"root": own, "parent": own}


def test_repeated_polls_store_each_post_once(runtime, fake, bluesky):
    poll(runtime, bluesky)
    bluesky.context.store.merge(f"poll:bluesky:{HANDLE}", cursors={})  # a replica with no cursor yet
    again = poll(runtime, bluesky, holder="r2")
    assert again.duplicates == 2 and again.created == 0
    assert len(tickets(runtime)) == 2 and inbound_count(runtime) == 2
    third = poll(runtime, bluesky, holder="r3")
    assert third.fetched == 0  # cursors stored: nothing re-fetched


def test_retry_after_lost_answer_finds_the_post(runtime, fake, bluesky):
    poll(runtime, bluesky)
    created = {"n": 0}
    original = fake.routes[("POST", XRPC + "com.atproto.repo.createRecord")]

    def lose_first_answer(call):
        created["n"] += 1
        answer = original(call)
        return Answer(502, {"error": "UpstreamFailure"}) if created["n"] == 1 else answer

    fake.route("POST", XRPC + "com.atproto.repo.createRecord", lose_first_answer)
    agent_reply(runtime, tickets(runtime)[0].key, "確認します")
    deliver(runtime)
    (item,) = reply_items(runtime)
    assert item.state == "pending"
    with runtime.session_factory() as session:
        row = session.get(type(item), item.id)
        row.next_attempt_at = row.created_at
        session.commit()
    deliver(runtime)
    (item,) = reply_items(runtime)
    assert item.state == "done" and item.result["found_on_retry"] is True
    assert created["n"] == 1 and len(fake.records) == 1


def test_expired_access_token_is_refreshed(runtime, fake, bluesky):
    fake.queue("GET", XRPC + "app.bsky.notification.listNotifications",
               Answer(400, {"error": "ExpiredToken", "message": "Token has expired"}))
    bluesky.context.store.merge(f"session:bluesky:{HANDLE}", accessJwt="old", refreshJwt="refresh-0",
                                did="did:plc:acme", handle=HANDLE)
    assert poll(runtime, bluesky).created == 2
    (refresh,) = fake.calls_to("POST", XRPC + "com.atproto.server.refreshSession")
    assert refresh.headers["Authorization"] == "Bearer refresh-0"
    assert bluesky.context.store.get(f"session:bluesky:{HANDLE}")["accessJwt"] == "access-2"


def test_tid_is_13_sortable_characters():
    assert make_tid(0) == "2222222222222"
    assert make_tid(1_732_060_000_000_000) < make_tid(1_732_060_000_000_001)
    assert len(make_tid(1_732_060_000_000_000, 1023)) == 13


@pytest.mark.parametrize("text", ["🇯🇵" * 300, "ภาษาไทย" * 40, "한" * 300, "👨‍👩‍👧" * 120,
                                  "ご不便をおかけしています。" * 23])
def test_replies_at_the_limits_are_records_the_lexicon_accepts(runtime, fake, bluesky, text):
    """300 graphemes and 3,000 UTF-8 bytes, as app.bsky.feed.post counts them (the PDS checks both)."""
    poll(runtime, bluesky)
    agent_reply(runtime, tickets(runtime)[0].key, text)
    deliver(runtime)
    (create,) = fake.calls_to("POST", XRPC + "com.atproto.repo.createRecord")
    assert lexicon.problems("com.atproto.repo.createRecord", create.json()) == [] and fake.refused == []


@pytest.mark.parametrize("text", ["👨‍👩‍👧" * 300, "あ" * 301])
def test_replies_the_lexicon_would_refuse_are_never_sent(runtime, fake, bluesky, text):
    assert lexicon.problems("app.bsky.feed.post", {"$type": "app.bsky.feed.post", "text": text,
                                                   "createdAt": "2026-12-04T01:00:00.000Z"})
    poll(runtime, bluesky)
    with pytest.raises(ReplyTooLong):  # the Reply modal refuses it as the platform would
        agent_reply(runtime, tickets(runtime)[0].key, text)
    assert fake.calls_to("POST", XRPC + "com.atproto.repo.createRecord") == []


def test_the_checker_knows_what_the_pds_refuses():
    good = {"repo": "did:plc:acme", "collection": "app.bsky.feed.post", "rkey": "3lbqz2xk4ts2a", "record": {
        "$type": "app.bsky.feed.post", "text": "ok", "createdAt": "2026-12-04T01:00:00.000+09:00",
        "reply": {"root": {"uri": "at://did:plc:a/app.bsky.feed.post/1", "cid": "bafyreiabc"},
                  "parent": {"uri": "at://did:plc:a/app.bsky.feed.post/1", "cid": "bafyreiabc"}}}}
    assert lexicon.problems("com.atproto.repo.createRecord", good) == []
    bad = {**good, "record": {**good["record"], "createdAt": "2026-12-04 01:00", "reply": {"root": {"uri": "x"}}}}
    assert sorted(lexicon.problems("com.atproto.repo.createRecord", bad)) == [
        "$.record.createdAt: '2026-12-04 01:00' is not a datetime", "$.record.reply.parent: required",
        "$.record.reply.root.cid: required", "$.record.reply.root.uri: 'x' is not a at-uri"]

