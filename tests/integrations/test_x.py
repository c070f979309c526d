"""X end to end: polled mentions/search and Account Activity webhooks → ticket → threaded reply."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from chatops.tickets.models import Message, OutboxItem
from integrations.polling import poll_once
from integrations.x import SIGNATURE_HEADER, XConfig, signature
from tests.fakes.http_recorder import Answer
from tests.integrations.conftest import (
    agent_reply,
    count,
    deliver,
    enable,
    fixture,
    fixture_bytes,
    inbound_count,
    reply_items,
    tickets,
)

USER_ID = "1500000000000000001"
SECRET = "x-consumer-secret"


@pytest.fixture
def x(runtime, fake):
    fake.route("GET", f"/2/users/{USER_ID}/mentions", Answer(200, fixture("x_mentions.json")))
    fake.route("GET", "/2/tweets/search/recent", Answer(200, fixture("x_search.json")))
    fake.route("POST", "/2/tweets", Answer(201, {"data": {"id": "1859099999999999999", "text": "ok"}}))
    fake.route("POST", "/2/dm_conversations/with/*", Answer(201, {"data": {"dm_conversation_id": "c",
                                                                           "dm_event_id": "1859099990000000001"}}))
    config = XConfig(api_url=fake.url, bearer_token="app-bearer", user_token="user-token", user_id=USER_ID,
                     account="@acme_jp", consumer_secret=SECRET, _env_file=None)
    return enable(runtime, "x", config)


def poll(runtime, networks, holder="r1"):
    (poller,) = networks.pollers()
    networks.context.store.merge("lease:poll:x:@acme_jp", lease_until=None)
    return poll_once(poller, runtime.flows, networks.context.store, holder=holder)


def post_webhook(client, body: bytes, sig: str | None = "auto"):
    headers = {SIGNATURE_HEADER: signature(SECRET, body) if sig == "auto" else sig} if sig else {}
    return client.post("/webhooks/x", data=body, headers=headers, content_type="application/json")


def test_polled_mention_to_threaded_reply(runtime, fake, x):
    assert poll(runtime, x).created == 2
    mention, keyword = tickets(runtime)
    assert (mention.source, mention.account, mention.channel) == ("x", "@acme_jp", "returns")
    assert keyword.channel == "support-urgent"
    search = fake.calls_to("GET", "/2/tweets/search/recent")[0]
    assert search.query["query"] == ['(ACMEストア OR アクメストア OR "ACME Cloud" OR #ACMEストア OR acmestore) '
                                     '-from:acme_jp -is:retweet']
    assert search.headers["Authorization"] == "Bearer app-bearer"
    agent_reply(runtime, mention.key, "ご連絡ありがとうございます。返品手続きをご案内します。")
    deliver(runtime)
    (post,) = fake.calls_to("POST", "/2/tweets")
    assert post.headers["Authorization"] == "Bearer user-token"
    assert post.json() == {"text": "ご連絡ありがとうございます。返品手続きをご案内します。",
                           "reply": {"in_reply_to_tweet_id": "1859012345678901234"}}
    assert reply_items(runtime)[0].result == {"external_id": "1859099999999999999"}


def test_overlapping_polls_never_duplicate(runtime, fake, x):
    poll(runtime, x)
    x.context.store.merge("poll:x:@acme_jp", cursors={})
    again = poll(runtime, x, holder="r2")
    assert again.duplicates == 2 and len(tickets(runtime)) == 2 and inbound_count(runtime) == 2
    poll(runtime, x, holder="r3")
    assert fake.calls_to("GET", f"/2/users/{USER_ID}/mentions")[-1].query["since_id"] == ["1859012345678901234"]


def test_webhook_crc_answers_the_response_token(runtime, x, client_for):
    response = client_for(runtime).get("/webhooks/x?crc_token=challenge123")
    assert response.status_code == 200
    assert response.get_json() == {"response_token": signature(SECRET, b"challenge123")}


def test_webhook_tweet_and_dm_to_replies(runtime, fake, x, client_for):
    client = client_for(runtime)
    body = fixture_bytes("x_account_activity.json")
    response = post_webhook(client, body)
    assert response.status_code == 200
    assert [r["outcome"] for r in response.get_json()["results"]] == ["created", "created"]  # own post skipped
    tweet, dm = tickets(runtime)
    assert tweet.channel == "sales" and dm.channel == "support"
    assert post_webhook(client, body).get_json()["results"][0]["outcome"] == "duplicate"  # X retries
    assert len(tickets(runtime)) == 2 and inbound_count(runtime) == 2
    agent_reply(runtime, tweet.key, "在庫ございます！", view_id="V1")
    agent_reply(runtime, dm.key, "お調べします。注文番号を教えてください。", view_id="V2")
    deliver(runtime)
    assert fake.calls_to("POST", "/2/tweets")[0].json()["reply"] == {"in_reply_to_tweet_id": "1859012345678905555"}
    (dm_call,) = fake.calls_to("POST", "/2/dm_conversations/with/4444/messages")
    assert dm_call.json() == {"text": "お調べします。注文番号を教えてください。"}


@pytest.mark.parametrize("sig", [None, "sha256=AAAA", "sha256=" + "x" * 44])
def test_forged_webhook_is_401_and_stores_nothing(runtime, x, client_for, sig):
    response = post_webhook(client_for(runtime), fixture_bytes("x_account_activity.json"), sig)
    assert response.status_code == 401 and "x-twitter-webhooks-signature" in response.get_json()["error"]
    assert count(runtime, Message) == 0


def test_malformed_webhook_is_400(runtime, x, client_for):
    client = client_for(runtime)
    for body in (b"{not json", b'{"tweet_create_events": [{"id_str": "1"}]}'):
        response = post_webhook(client, body)
        assert response.status_code == 400, body
    assert count(runtime, Message) == 0


def test_retry_finds_the_reply_an_earlier_attempt_posted(runtime, fake, x):
    poll(runtime, x)
    fake.route("GET", f"/2/users/{USER_ID}/tweets", Answer(200, {"data": [
        {"id": "1859099999999990000", "text": "@hanako_x 確認します",
         "referenced_tweets": [{"type": "replied_to", "id": "1859012345678901234"}]}]}))
    fake.queue("POST", "/2/tweets", Answer(503, {"title": "Service Unavailable"}))
    agent_reply(runtime, tickets(runtime)[0].key, "確認します")
    deliver(runtime)
    with runtime.session_factory() as session:
        item = session.get(type(reply_items(runtime)[0]), reply_items(runtime)[0].id)
        item.next_attempt_at = item.created_at
        session.commit()
    deliver(runtime)
    (item,) = reply_items(runtime)
    assert item.state == "done" and item.result == {"external_id": "1859099999999990000", "found_on_retry": True}
    assert len(fake.calls_to("POST", "/2/tweets")) == 1


def test_reply_refused_by_tier_is_permanent_and_no_alert(runtime, fake, x):
    poll(runtime, x)
    fake.queue("POST", "/2/tweets", Answer(403, {"detail": "Reply to this conversation is not allowed because you "
                                                           "have not been mentioned or otherwise engaged by the "
                                                           "author of the post you are replying to."}))
    agent_reply(runtime, tickets(runtime)[1].key, "ご不便をおかけしております")
    deliver(runtime)
    (item,) = reply_items(runtime)
    assert item.state == "dead" and "not been mentioned" in item.last_error
    assert x.context.store.get("health:x:@acme_jp").get("failures", 0) == 0


def test_rate_limit_headers_pause_polling(runtime, fake, x):
    import time

    reset = str(int(time.time()) + 600)
    fake.queue("GET", f"/2/users/{USER_ID}/mentions", Answer(429, {"title": "Too Many Requests"}, {
        "x-rate-limit-limit": "450", "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}))
    outcome = poll(runtime, x)
    assert outcome.polled and 590 <= outcome.paused_for <= 600
    assert not poll(runtime, x, holder="r2").polled
    assert len(fake.calls_to("GET", f"/2/users/{USER_ID}/mentions")) == 1


def test_non_ascii_signature_is_401_not_500(runtime, x, client_for):
    assert post_webhook(client_for(runtime), fixture_bytes("x_account_activity.json"), "sha256=é").status_code == 401


# -- the OAuth 2.0 user token is refreshed, and the rotated refresh token kept ---------------------

STATE = "oauth:x:@acme_jp"


def _token_answer(fake, n: int) -> Answer:
    return Answer(200, {"token_type": "bearer", "expires_in": 7200, "access_token": f"at-{n}",
                        "scope": "tweet.read tweet.write users.read dm.write offline.access",
                        "refresh_token": f"rt-{n + 1}"})


def test_user_token_is_refreshed_before_expiry_and_after_a_401(runtime, fake):
    fake.route("GET", f"/2/users/{USER_ID}/mentions", Answer(200, fixture("x_mentions.json")))
    fake.route("GET", "/2/tweets/search/recent", Answer(200, fixture("x_search.json")))
    fake.route("POST", "/2/tweets", Answer(201, {"data": {"id": "1859099999999999999", "text": "ok"}}))
    fake.queue("POST", "/2/oauth2/token", _token_answer(fake, 1), _token_answer(fake, 2), _token_answer(fake, 3))
    networks = enable(runtime, "x", XConfig(api_url=fake.url, user_id=USER_ID, account="@acme_jp",
                                            client_id="client-abc", refresh_token="rt-1", _env_file=None))
    store = networks.context.store
    assert poll(runtime, networks).created == 2  # reads use the user token when there is no app token
    (first,) = fake.calls_to("POST", "/2/oauth2/token")
    assert first.form() == {"grant_type": "refresh_token", "refresh_token": "rt-1", "client_id": "client-abc"}
    assert fake.calls_to("GET", f"/2/users/{USER_ID}/mentions")[0].headers["Authorization"] == "Bearer at-1"
    assert store.get(STATE)["refresh_token"] == "rt-2"  # X rotated it: the new one is what survives a restart

    mention, _ = tickets(runtime)
    agent_reply(runtime, mention.key, "ご連絡ありがとうございます。", view_id="V1")
    deliver(runtime)
    assert fake.calls_to("POST", "/2/tweets")[0].headers["Authorization"] == "Bearer at-1"
    assert len(fake.calls_to("POST", "/2/oauth2/token")) == 1  # still fresh: not refreshed again

    store.merge(STATE, expires_at="2000-01-01T00:00:00+00:00")  # past any clock: the token has expired
    agent_reply(runtime, mention.key, "返品手続きをご案内します。", view_id="V2")
    fake.queue("POST", "/2/tweets", Answer(401, {"title": "Unauthorized", "status": 401, "detail": "Unauthorized"}),
               Answer(201, {"data": {"id": "1859099999999999998", "text": "ok"}}))
    deliver(runtime)
    tokens = fake.calls_to("POST", "/2/oauth2/token")
    assert [call.form()["refresh_token"] for call in tokens] == ["rt-1", "rt-2", "rt-3"]
    # the expired token was refreshed before the post (at-2); X refused at-2 anyway, so once more (at-3)
    assert [call.headers["Authorization"] for call in fake.calls_to("POST", "/2/tweets")[1:]] == [
        "Bearer at-2", "Bearer at-3"]
    assert store.get(STATE)["refresh_token"] == "rt-4"
    with runtime.session_factory() as session:
        sent = session.query(Message).filter(Message.direction == "outbound").all()
    assert sorted(message.delivery_state for message in sent) == ["sent", "sent"]


def test_a_spent_refresh_token_is_an_auth_failure_not_a_lost_reply(runtime, fake):
    fake.route("POST", "/2/oauth2/token", Answer(400, {"error": "invalid_request",
                                                       "error_description": "Value passed for the token was invalid."}))
    fake.route("POST", "/2/tweets", Answer(201, {"data": {"id": "1859099999999999999", "text": "ok"}}))
    fake.route("GET", f"/2/users/{USER_ID}/mentions", Answer(200, fixture("x_mentions.json")))
    fake.route("GET", "/2/tweets/search/recent", Answer(200, fixture("x_search.json")))
    networks = enable(runtime, "x", XConfig(api_url=fake.url, bearer_token="app-bearer", user_id=USER_ID,
                                            account="@acme_jp", client_id="client-abc", refresh_token="rt-1",
                                            _env_file=None))
    poll(runtime, networks)  # reads use the app token: no refresh needed
    mention, _ = tickets(runtime)
    agent_reply(runtime, mention.key, "ご連絡ありがとうございます。", view_id="V1")
    deliver(runtime, rounds=1)
    assert fake.calls_to("POST", "/2/tweets") == []
    with runtime.session_factory() as session:
        item = session.scalars(select(OutboxItem).where(OutboxItem.target == "network:x")).one()
    assert item.state == "pending" and "refused our credentials (400)" in item.last_error  # retried later
