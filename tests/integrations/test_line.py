"""LINE end to end: signed webhook → ticket → reply token while valid, push with retry key after."""

from __future__ import annotations

import pytest

from chatops.tickets.models import Message
from integrations.line import SIGNATURE_HEADER, LineConfig, signature
from tests.fakes.http_recorder import Answer
from tests.integrations.conftest import (
    agent_reply,
    count,
    deliver,
    enable,
    fixture_bytes,
    inbound_count,
    reply_items,
    tickets,
)

SECRET = "line-channel-secret"
EVENT_SECONDS = 1763599500  # the fixture's message timestamp
USER = "U4af4980629bbbbbbbbbbbbbbbbbbbbbb"


@pytest.fixture
def line(runtime, fake):
    fake.route("POST", "/v2/bot/message/reply", Answer(200, {"sentMessages": [{"id": "461230966842064897",
                                                                               "quoteToken": "IStG5h1Tz7b..."}]}))
    fake.route("POST", "/v2/bot/message/push", Answer(200, {"sentMessages": [{"id": "461230966842069999",
                                                                              "quoteToken": "x"}]}))
    config = LineConfig(api_url=fake.url, channel_secret=SECRET, channel_access_token="line-token",
                        account="@acme", _env_file=None)
    networks = enable(runtime, "line", config)
    networks.parts["line"].sink.clock = lambda: EVENT_SECONDS + 20  # the agent answers within the minute
    return networks


def post(client, body: bytes, sig: str | None = "auto"):
    headers = {SIGNATURE_HEADER: signature(SECRET, body) if sig == "auto" else sig} if sig else {}
    return client.post("/webhooks/line", data=body, headers=headers, content_type="application/json")


def test_message_to_reply_with_the_reply_token(runtime, fake, line, client_for):
    response = post(client_for(runtime), fixture_bytes("line_webhook.json"))
    assert response.status_code == 200 and [r["outcome"] for r in response.get_json()["results"]] == ["created"]
    (ticket,) = tickets(runtime)
    assert (ticket.source, ticket.account, ticket.channel) == ("line", "@acme", "sales")
    agent_reply(runtime, ticket.key, "赤のMサイズ、在庫ございます。")
    deliver(runtime)
    (call,) = fake.calls_to("POST", "/v2/bot/message/reply")
    assert call.headers["Authorization"] == "Bearer line-token"
    assert call.json() == {"replyToken": "38ef843bde154d9b91c21320ffd17a0f",
                           "messages": [{"type": "text", "text": "赤のMサイズ、在庫ございます。"}]}
    assert not fake.calls_to("POST", "/v2/bot/message/push")
    assert reply_items(runtime)[0].result == {"external_id": "461230966842064897"}


def test_expired_token_pushes_with_a_retry_key_once(runtime, fake, line, client_for):
    post(client_for(runtime), fixture_bytes("line_webhook.json"))
    line.parts["line"].sink.clock = lambda: EVENT_SECONDS + 3600
    agent_reply(runtime, tickets(runtime)[0].key, "お待たせしました")
    fake.queue("POST", "/v2/bot/message/push", Answer(500, {"message": "internal error"}))
    deliver(runtime)
    with runtime.session_factory() as session:
        item = session.get(type(reply_items(runtime)[0]), reply_items(runtime)[0].id)
        item.next_attempt_at = item.created_at
        session.commit()
    fake.queue("POST", "/v2/bot/message/push", Answer(409, {"message": "The retry key is already accepted"},
                                                      {"x-line-accepted-request-id": "accepted-req-1"}))
    deliver(runtime)
    first, second = fake.calls_to("POST", "/v2/bot/message/push")
    assert first.json() == {"to": USER, "messages": [{"type": "text", "text": "お待たせしました"}]}
    assert first.headers["X-Line-Retry-Key"] == second.headers["X-Line-Retry-Key"]
    assert not fake.calls_to("POST", "/v2/bot/message/reply")
    (item,) = reply_items(runtime)
    assert item.state == "done" and item.result == {"external_id": "accepted-req-1"}


def test_redelivery_is_stored_once_and_its_token_unused(runtime, fake, line, client_for):
    client = client_for(runtime)
    post(client, fixture_bytes("line_webhook.json"))
    response = post(client, fixture_bytes("line_webhook_redelivery.json"))
    outcomes = [r["outcome"] for r in response.get_json()["results"]]
    assert outcomes[0] == "duplicate" and outcomes[1] != "duplicate"
    assert len(tickets(runtime)) == 1 and inbound_count(runtime) == 2
    with runtime.session_factory() as session:
        sticker = session.query(Message).filter_by(external_id="468789577898262531").one()
    assert sticker.text == "" and "reply_token" not in sticker.meta
    assert sticker.attachments == [{"type": "sticker", "alt": "please thanks", "ref": "11537/52002734"}]
    assert sticker.meta["to"] == "Ca56f94637cbbbbbbbbbbbbbbbbbbbbbb"


@pytest.mark.parametrize("sig", [None, "", "AAAA", signature("other-secret", b"{}")])
def test_forged_webhook_is_401_and_stores_nothing(runtime, line, client_for, sig):
    response = post(client_for(runtime), fixture_bytes("line_webhook.json"), sig)
    assert response.status_code == 401 and "x-line-signature" in response.get_json()["error"]
    assert count(runtime, Message) == 0


def test_malformed_webhook_is_400_and_verification_ping_is_200(runtime, line, client_for):
    client = client_for(runtime)
    assert post(client, b'{"events": [{"type": "message"}]}').status_code == 400
    assert post(client, b"[").status_code == 400
    assert post(client, b'{"destination": "U0", "events": []}').status_code == 200
    assert count(runtime, Message) == 0


def test_non_ascii_signature_is_401_not_500(runtime, line, client_for):
    assert post(client_for(runtime), fixture_bytes("line_webhook.json"), "é" * 44).status_code == 401
