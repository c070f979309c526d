"""Facebook Page and Instagram end to end: handshake, signed webhooks → tickets → replies to the
right comment, mention or DM, from the Page's token."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from chatops.i18n import t
from chatops.tickets.delivery import failure_cause
from chatops.tickets.models import Message, TicketEvent
from integrations.facebook import FacebookConfig
from integrations.instagram import InstagramConfig
from integrations.meta import signature
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

SECRET = "meta-app-secret"
PAGE = "106000000000001"
IG_USER = "17841400000000001"
COMMENT = "900000000000001_1100000000000001"
SETTINGS = dict(app_secret=SECRET, verify_token="verify-me", page_id=PAGE, page_access_token="page-token",
                page_name="ACME Japan", ig_user_id=IG_USER, ig_username="acme.jp", _env_file=None)


def post(client, network: str, body: bytes, sig: str | None = "auto"):
    headers = {"X-Hub-Signature-256": signature(SECRET, body) if sig == "auto" else sig} if sig else {}
    return client.post(f"/webhooks/{network}", data=body, headers=headers, content_type="application/json")


@pytest.fixture
def facebook(runtime, fake):
    fake.route("POST", f"/v21.0/{COMMENT}/comments", Answer(200, {"id": "900000000000001_1100000000000099"}))
    fake.route("POST", f"/v21.0/{PAGE}/messages", Answer(200, {"recipient_id": "6500000000000001",
                                                               "message_id": "m_reply0001"}))
    return enable(runtime, "facebook", FacebookConfig(graph_url=fake.url + "/v21.0", **SETTINGS))


@pytest.fixture
def instagram(runtime, fake):
    fake.route("GET", f"/v21.0/{IG_USER}", Answer(200, {"mentioned_comment": {
        "id": "17870000000000555", "text": "@acme.jp ログインできないんですが", "timestamp": "2026-11-20T00:50:00+0000",
        "username": "jiro.ig", "from": {"id": "17841400000000999", "username": "jiro.ig"}}, "id": IG_USER}))
    fake.route("POST", "/v21.0/17865799348089039/replies", Answer(200, {"id": "17900000000000001"}))
    fake.route("POST", f"/v21.0/{IG_USER}/mentions", Answer(200, {"id": "17900000000000002"}))
    fake.route("POST", f"/v21.0/{PAGE}/messages", Answer(200, {"recipient_id": "1234000000000888",
                                                               "message_id": "aWdfreply"}))
    return enable(runtime, "instagram", InstagramConfig(graph_url=fake.url + "/v21.0", **SETTINGS))


@pytest.mark.parametrize("network", ["facebook", "instagram"])
def test_verification_handshake(runtime, fake, network, client_for, request):
    request.getfixturevalue(network)
    client = client_for(runtime)
    ok = client.get(f"/webhooks/{network}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "1158201444"
    bad = client.get(f"/webhooks/{network}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")
    assert bad.status_code == 403


def test_facebook_comment_and_dm_to_replies(runtime, fake, facebook, client_for):
    client = client_for(runtime)
    body = fixture_bytes("facebook_webhook.json")
    response = post(client, "facebook", body)
    assert response.status_code == 200
    assert [r["outcome"] for r in response.get_json()["results"]] == ["created", "created"]  # page's own skipped
    comment, dm = tickets(runtime)
    assert (comment.source, comment.account, comment.channel) == ("facebook", "ACME Japan", "support")
    assert dm.channel == "returns"
    assert [r["outcome"] for r in post(client, "facebook", body).get_json()["results"]] == ["duplicate"] * 2
    assert len(tickets(runtime)) == 2 and inbound_count(runtime) == 2
    agent_reply(runtime, comment.key, "ご不便をおかけしております。DMで詳細をお伺いします。", view_id="V1")
    agent_reply(runtime, dm.key, "返品を承ります。", view_id="V2")
    deliver(runtime)
    (call,) = fake.calls_to("POST", f"/v21.0/{COMMENT}/comments")
    assert call.headers["Authorization"] == "Bearer page-token"
    assert call.json() == {"message": "ご不便をおかけしております。DMで詳細をお伺いします。"}
    (send,) = fake.calls_to("POST", f"/v21.0/{PAGE}/messages")
    assert send.json() == {"recipient": {"id": "6500000000000001"}, "messaging_type": "RESPONSE",
                           "message": {"text": "返品を承ります。"}}
    assert {item.result["external_id"] for item in reply_items(runtime)} == {
        "900000000000001_1100000000000099", "m_reply0001"}


def test_facebook_retry_finds_the_posted_comment(runtime, fake, facebook, client_for):
    post(client_for(runtime), "facebook", fixture_bytes("facebook_webhook.json"))
    fake.queue("POST", f"/v21.0/{COMMENT}/comments", Answer(500, {"error": {"message": "An unknown error occurred",
                                                                           "code": 1}}))
    fake.route("GET", f"/v21.0/{COMMENT}/comments", Answer(200, {"data": [
        {"id": "900000000000001_1100000000000077", "from": {"id": PAGE, "name": "ACME"}, "message": "確認します"}]}))
    agent_reply(runtime, tickets(runtime)[0].key, "確認します")
    deliver(runtime)
    with runtime.session_factory() as session:
        item = session.get(type(reply_items(runtime)[0]), reply_items(runtime)[0].id)
        item.next_attempt_at = item.created_at
        session.commit()
    deliver(runtime)
    (item,) = reply_items(runtime)
    assert item.state == "done" and item.result["external_id"] == "900000000000001_1100000000000077"
    assert len(fake.calls_to("POST", f"/v21.0/{COMMENT}/comments")) == 1


def test_instagram_comment_mention_and_dm_to_replies(runtime, fake, instagram, client_for):
    client = client_for(runtime)
    body = fixture_bytes("instagram_webhook.json")
    response = post(client, "instagram", body)
    assert [r["outcome"] for r in response.get_json()["results"]] == ["created"] * 3
    comment, mention, dm = tickets(runtime)
    assert (comment.account, comment.channel) == ("acme.jp", "support")
    assert mention.channel == "support-urgent" and dm.channel == "support-urgent"
    assert fake.calls_to("GET", f"/v21.0/{IG_USER}")[0].query["fields"] == [
        "mentioned_comment.comment_id(17870000000000555){id,text,timestamp,username,from}"]
    post(client, "instagram", body)
    assert len(tickets(runtime)) == 3 and inbound_count(runtime) == 3
    agent_reply(runtime, comment.key, "設定はプロフィール画面の右上です", view_id="V1")
    agent_reply(runtime, mention.key, "ご不便をおかけしております", view_id="V2")
    agent_reply(runtime, dm.key, "お調べします", view_id="V3")
    deliver(runtime, rounds=4)
    assert fake.calls_to("POST", "/v21.0/17865799348089039/replies")[0].json() == {
        "message": "設定はプロフィール画面の右上です"}
    assert fake.calls_to("POST", f"/v21.0/{IG_USER}/mentions")[0].json() == {
        "media_id": "18000000000000555", "comment_id": "17870000000000555", "message": "ご不便をおかけしております"}
    assert fake.calls_to("POST", f"/v21.0/{PAGE}/messages")[0].json() == {
            "recipient": {"id": "1234000000000888"}, "messaging_type": "RESPONSE", "message": {"text": "お調べします"}}


@pytest.mark.parametrize("network", ["facebook", "instagram"])
@pytest.mark.parametrize("sig", [None, "sha256=" + "0" * 64, "sha1=abc"])
def test_forged_webhook_is_401_and_stores_nothing(runtime, network, sig, client_for, request):
    request.getfixturevalue(network)
    response = post(client_for(runtime), network, fixture_bytes(f"{network}_webhook.json"), sig)
    assert response.status_code == 401 and "X-Hub-Signature-256" in response.get_json()["error"]
    assert count(runtime, Message) == 0


def test_malformed_or_wrong_object_is_400(runtime, facebook, client_for):
    client = client_for(runtime)
    for body in (b"{", b'{"object": "instagram", "entry": []}', b'{"object": "page"}',
                 b'{"object": "page", "entry": [{"changes": [{"field": "feed", "value": {"item": "comment", '
                 b'"verb": "add", "from": {"id": "1"}, "message": "x"}}]}]}'):
        assert post(client, "facebook", body).status_code == 400, body
    assert count(runtime, Message) == 0


def test_business_usage_header_slows_sending(runtime, fake, facebook, client_for):
    post(client_for(runtime), "facebook", fixture_bytes("facebook_webhook.json"))
    usage = json.dumps({PAGE: [{"type": "pages", "call_count": 97, "total_cputime": 10, "total_time": 12,
                                "estimated_time_to_regain_access": 5}]})
    fake.queue("POST", f"/v21.0/{COMMENT}/comments", Answer(200, {"id": "c1"}, {"X-Business-Use-Case-Usage": usage}))
    agent_reply(runtime, tickets(runtime)[0].key, "確認します", view_id="V1")
    agent_reply(runtime, tickets(runtime)[0].key, "もう少々お待ちください", view_id="V2")
    deliver(runtime)
    assert len(fake.calls_to("POST", f"/v21.0/{COMMENT}/comments")) == 1  # the lane rests 5 minutes
    first, second = reply_items(runtime)
    assert first.state == "done" and second.state == "pending" and second.attempts == 0


@pytest.mark.parametrize("network", ["facebook", "instagram"])
def test_non_ascii_signature_is_401_not_500(runtime, network, client_for, request):
    request.getfixturevalue(network)
    response = post(client_for(runtime), network, fixture_bytes(f"{network}_webhook.json"), "sha256=é" + "0" * 63)
    assert response.status_code == 401


def stored_inbound(runtime) -> dict[str, Message]:
    with runtime.session_factory() as session:
        rows = session.scalars(select(Message).where(Message.direction == "inbound")).all()
        return {row.external_id: row for row in rows}


def test_instagram_gif_comment_is_a_message_and_the_batch_is_stored(runtime, fake, instagram, client_for):
    client = client_for(runtime)
    response = post(client, "instagram", fixture_bytes("instagram_webhook_gif_comment.json"))
    assert response.status_code == 200
    stored = stored_inbound(runtime)
    assert set(stored) == {"17865799348089040", "17865799348089039", "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAw"}
    gif = stored["17865799348089040"]
    assert (gif.text, gif.kind, gif.author_handle) == ("", "comment", "@saburo.ig")
    assert gif.attachments == [{"type": "gif"}] and gif.ticket_id is not None
    assert stored["aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAw"].text == "二重請求されています"


def test_facebook_photo_only_comment_is_a_message(runtime, fake, facebook, client_for):
    client = client_for(runtime)
    response = post(client, "facebook", fixture_bytes("facebook_webhook_photo_comment.json"))
    assert response.status_code == 200
    stored = stored_inbound(runtime)
    photo = stored["900000000000001_1100000000000003"]
    assert photo.text == ""
    assert photo.attachments == [{"type": "image", "url": "https://scontent.xx.fbcdn.net/v/t39.1997-6/1100000000000003_n.jpg"}]
    assert photo.ticket_id is not None
    assert stored["900000000000001_1100000000000001"].text.startswith("注文した商品が届かない")


def _dm_reply_after(runtime, fake, client_for, clock, hours: float, text: str) -> str:
    """The Messenger DM of the fixture answered `hours` after the customer wrote; its ticket key."""
    post(client_for(runtime), "facebook", fixture_bytes("facebook_webhook.json"))
    _, dm = tickets(runtime)
    with runtime.session_factory() as session:
        wrote = session.scalars(select(Message).where(Message.ticket_id == dm.id)).first().created_at
    clock.now = wrote.replace(tzinfo=clock.now.tzinfo) + timedelta(hours=hours)
    agent_reply(runtime, dm.key, text, view_id=f"V-{hours}")
    deliver(runtime)
    return dm.key


def test_messenger_replies_within_24_hours_and_never_after(runtime, fake, facebook, client_for, clock):
    key = _dm_reply_after(runtime, fake, client_for, clock, 30, "遅くなり申し訳ありません。")
    assert fake.calls_to("POST", f"/v21.0/{PAGE}/messages") == []  # Meta would refuse it: not sent
    with runtime.session_factory() as session:
        reply = session.scalars(select(Message).where(Message.direction == "outbound")).one()
        event = session.scalars(select(TicketEvent).where(TicketEvent.kind == "reply_failed")).one()
    assert reply.delivery_state == "failed" and f"T-{event.ticket_id}" == key
    reason = event.payload["reason"]
    assert failure_cause(reason) == "window_closed" and "30 h" in reason
    assert "24 時間" in t(f"slack.cause.{failure_cause(reason)}", "ja")


def test_human_agent_tag_answers_up_to_seven_days(runtime, fake, client_for, clock):
    enable(runtime, "facebook", FacebookConfig(graph_url=fake.url + "/v21.0", human_agent=True, **SETTINGS))
    fake.route("POST", f"/v21.0/{PAGE}/messages", Answer(200, {"recipient_id": "6500000000000001",
                                                               "message_id": "m_reply0002"}))
    _dm_reply_after(runtime, fake, client_for, clock, 72, "お待たせしました。")
    (send,) = fake.calls_to("POST", f"/v21.0/{PAGE}/messages")
    assert send.json() == {"recipient": {"id": "6500000000000001"}, "messaging_type": "MESSAGE_TAG",
                           "tag": "HUMAN_AGENT", "message": {"text": "お待たせしました。"}}


def test_human_agent_window_ends_after_seven_days(runtime, fake, client_for, clock):
    enable(runtime, "facebook", FacebookConfig(graph_url=fake.url + "/v21.0", human_agent=True, **SETTINGS))
    _dm_reply_after(runtime, fake, client_for, clock, 24 * 8, "大変お待たせしました。")
    assert fake.calls_to("POST", f"/v21.0/{PAGE}/messages") == []
    with runtime.session_factory() as session:
        event = session.scalars(select(TicketEvent).where(TicketEvent.kind == "reply_failed")).one()
    assert "7 days (HUMAN_AGENT)" in event.payload["reason"]


def graph_refusal(status: int, code: int, message: str, **extra) -> Answer:
    return Answer(status, {"error": {"message": message, "type": "OAuthException", "code": code,
                                     "fbtrace_id": "AbCdEf123", **extra}})


def health_failures(runtime, account: str) -> int:
    from chatops.tickets.models import IntegrationState

    with runtime.session_factory() as session:
        row = session.scalars(select(IntegrationState).where(
            IntegrationState.name == f"health:facebook:{account}")).one_or_none()
    return (row.value or {}).get("failures", 0) if row is not None else 0


@pytest.mark.parametrize(("answer", "state", "failures", "wait"), [
    (graph_refusal(400, 190, "Error validating access token: Session has expired", error_subcode=463),
     "pending", 1, 300),  # a credentials outage: retried, counted towards the alert
    (graph_refusal(403, 200, "(#200) The page does not have permission to reply"), "dead", 0, 0),  # final
    (graph_refusal(400, 4, "(#4) Application request limit reached", is_transient=True), "pending", 0, 300),
    (graph_refusal(400, 2, "Service temporarily unavailable", is_transient=True), "pending", 0, 60),
], ids=["expired-token", "permission", "throttled", "transient"])
def test_graph_errors_are_read_by_their_code(runtime, fake, facebook, client_for, answer, state, failures, wait):
    """Meta answers an expired token with 400 and a missing permission with 403: the error code,
    not the status, says which is an outage, which is final for this reply and which is a wait."""
    post(client_for(runtime), "facebook", fixture_bytes("facebook_webhook.json"))
    fake.queue("POST", f"/v21.0/{COMMENT}/comments", answer)
    agent_reply(runtime, tickets(runtime)[0].key, "確認します")
    deliver(runtime, rounds=1)
    (item,) = reply_items(runtime)
    assert (item.state, health_failures(runtime, "ACME Japan")) == (state, failures)
    assert not item.in_doubt  # Meta answered: no lookup for a post that may have gone through
    if wait:
        waited = item.next_attempt_at.replace(tzinfo=None) - item.created_at.replace(tzinfo=None)
        assert waited >= timedelta(seconds=wait)
    with runtime.session_factory() as session:
        reply = session.scalars(select(Message).where(Message.text == "確認します")).one()
    if state == "dead":
        assert reply.delivery_state == "failed" and "(#200) The page does not have permission" in reply.delivery_error
    else:
        assert reply.delivery_state != "failed"


def test_a_page_this_deployment_does_not_have_is_not_taken_for_ours(runtime, fake, facebook, client_for):
    """The app is also subscribed for another Page: its comments are not this Page's tickets, and
    nobody answers them with this Page's token; they are counted and the team is told once."""
    from chatops.tickets.models import OutboxItem

    body = json.loads(fixture_bytes("facebook_webhook.json"))
    for entry in body["entry"]:
        entry["id"] = "106000000000999"
    raw = json.dumps(body).encode()
    client = client_for(runtime)
    for _ in range(2):
        response = post(client, "facebook", raw)
        assert response.status_code == 200 and "results" not in response.get_json()
    assert tickets(runtime) == [] and inbound_count(runtime) == 0
    with runtime.session_factory() as session:
        alerts = list(session.scalars(select(OutboxItem).where(OutboxItem.kind == "channel_alert")))
    assert [a.payload["params"] for a in alerts] == [{"network": "facebook", "id": "106000000000999"}]
    scrape = client.get("/metrics").get_data(as_text=True)
    assert f'chatops_webhook_unrouted_entries_total{{network="facebook"}} {2.0 * len(body["entry"])}' in scrape
