"""Several brand accounts on Facebook, Instagram and X, end to end: two Pages (each with its
Instagram account) of one Meta app and two X accounts of one X app, each webhook request
routed to the account it names, tickets carrying that account, replies leaving with that
account's own token to its own Page / user, and entries for an account this deployment does
not have acknowledged, not stored, counted in /metrics and alerted once to the team channel."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from chatops.cli import main
from chatops.i18n import t
from chatops.runtime import Runtime
from chatops.slack import ids
from chatops.tickets.models import Message, OutboxItem
from integrations.facebook import FacebookConfig
from integrations.instagram import InstagramConfig
from integrations.meta import signature as meta_signature
from integrations.polling import poll_once
from integrations.registry import Networks, NetworkSettingsError, accounts_of, load_configs
from integrations.x import SIGNATURE_HEADER as X_SIGNATURE
from integrations.x import XConfig
from integrations.x import signature as x_signature
from tests.fakes.http_recorder import Answer
from tests.fakes.slack_api import FakeSlack
from tests.integrations.conftest import (
    agent_reply,
    count,
    deliver,
    fixture,
    fixture_bytes,
    reply_items,
    tickets,
)
from tests.slack.conftest import SIGNING_SECRET, Desk

# -- Meta: one app, two Pages, each with its Instagram account -----------------------------------

META_SECRET = "meta-app-secret"
PAGE_A, PAGE_B, PAGE_UNKNOWN = "106000000000001", "106000000000002", "106000000000099"
IG_A, IG_B, IG_UNKNOWN = "17841400000000001", "17841400000000002", "17841400000000099"
PAGE_B_ACCOUNT = {"page_id": PAGE_B, "page_access_token": "page-token-b", "page_name": "ACME Outdoor",
                  "ig_user_id": IG_B, "ig_username": "acme.outdoor"}


def meta_settings(url: str) -> dict:
    """META_* as a deployment with Page A in the flat settings and Page B in META_ACCOUNTS sets them."""
    return dict(graph_url=url + "/v21.0", app_secret=META_SECRET, verify_token="verify-me", page_id=PAGE_A,
                page_access_token="page-token-a", page_name="ACME Japan", ig_user_id=IG_A, ig_username="acme.jp",
                accounts=[PAGE_B_ACCOUNT], _env_file=None)


def enable_meta(runtime, fake, **more) -> Networks:
    """Facebook and Instagram both on, from the same META_* settings (as load_configs builds them),
    and `more` networks beside them."""
    settings = meta_settings(fake.url)
    runtime.networks = Networks.for_runtime(runtime, configs={
        "facebook": FacebookConfig(**settings), "instagram": InstagramConfig(**settings), **more})
    return runtime.networks


def post_meta(client, network: str, body: bytes, sig: str | None = "auto"):
    headers = {"X-Hub-Signature-256": meta_signature(META_SECRET, body) if sig == "auto" else sig} if sig else {}
    return client.post(f"/webhooks/{network}", data=body, headers=headers, content_type="application/json")


def outcomes(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [r["outcome"] for r in response.get_json().get("results", [])]


def unrouted(client, network: str) -> float:
    """`chatops_webhook_unrouted_entries_total{network=...}` as /metrics shows it."""
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(f'chatops_webhook_unrouted_entries_total{{network="{network}"}}'):
            return float(line.split()[-1])
    return 0.0


def unknown_alerts(runtime) -> list[OutboxItem]:
    """The team-channel alerts about a webhook naming an account this deployment does not have."""
    with runtime.session_factory() as session:
        rows = session.scalars(select(OutboxItem).where(OutboxItem.kind == "channel_alert").order_by(OutboxItem.id))
        return [row for row in rows if row.payload["key"] == "networks.alert.unknown_account"]


def inbound_ids(runtime) -> set[str]:
    with runtime.session_factory() as session:
        return set(session.scalars(select(Message.external_id).where(Message.direction == "inbound")))


@pytest.fixture
def meta(runtime, fake):
    fake.route("POST", "/v21.0/*", lambda call: Answer(200, {"id": call.path.split("/")[2] + "_reply",
                                                             "message_id": f"m_reply_{call.path.split('/')[2]}"}))
    fake.route("GET", f"/v21.0/{IG_B}", Answer(200, {"id": IG_B, "mentioned_comment": {
        "id": "17870000000000666", "text": "@acme.outdoor 焚き火台が届きません", "timestamp": "2026-11-20T00:50:00+0000",
        "username": "kumi.camp", "from": {"id": "17841400000000444", "username": "kumi.camp"}}}))
    return enable_meta(runtime, fake)


def test_meta_accounts_are_the_flat_page_and_each_entry(runtime, meta):
    assert [config.account for config in meta.accounts["facebook"]] == ["ACME Japan", "ACME Outdoor"]
    assert [config.account for config in meta.accounts["instagram"]] == ["acme.jp", "acme.outdoor"]
    # the entry brings its own credentials and takes only the app's shared settings
    outdoor = meta.accounts["facebook"][1]
    assert outdoor.page_access_token.get_secret_value() == "page-token-b"
    assert outdoor.app_secret.get_secret_value() == META_SECRET and outdoor.graph_url.endswith("/v21.0")


def test_every_page_in_meta_accounts_and_only_the_app_in_the_flat_settings(runtime, fake, client_for):
    fake.route("POST", "/v21.0/*", lambda call: Answer(200, {"id": call.path.split("/")[2] + "_reply"}))
    page_a = {"page_id": PAGE_A, "page_access_token": "page-token-a", "page_name": "ACME Japan"}
    config = FacebookConfig(graph_url=fake.url + "/v21.0", app_secret=META_SECRET, verify_token="verify-me",
                            accounts=[page_a, PAGE_B_ACCOUNT], _env_file=None)
    runtime.networks = Networks.for_runtime(runtime, configs={"facebook": config})
    assert [c.account for c in runtime.networks.accounts["facebook"]] == ["ACME Japan", "ACME Outdoor"]
    client = client_for(runtime)
    assert outcomes(post_meta(client, "facebook", fixture_bytes("accounts_meta_x_facebook_webhook.json"))) == [
        "created"] * 3
    assert [t_.account for t_ in tickets(runtime)] == ["ACME Japan", "ACME Outdoor", "ACME Outdoor"]
    agent_reply(runtime, tickets(runtime)[1].key, "交換用のポールをお送りします。")
    deliver(runtime)
    (call,) = fake.calls_to("POST", "/v21.0/900000000000002_1100000000000021/comments")
    assert call.headers["Authorization"] == "Bearer page-token-b"


def test_one_facebook_payload_for_two_pages_makes_tickets_on_each_and_replies_from_each(
        runtime, fake, meta, client_for):
    client = client_for(runtime)
    body = fixture_bytes("accounts_meta_x_facebook_webhook.json")
    # Page A's comment, Page B's comment (its own reply skipped) and Page B's Messenger DM; the
    # unknown Page's comment is acknowledged (Meta would redeliver otherwise) but not stored.
    assert outcomes(post_meta(client, "facebook", body)) == ["created", "created", "created"]
    hanako, jiro, dm = tickets(runtime)
    assert [(t_.source, t_.account) for t_ in (hanako, jiro, dm)] == [
        ("facebook", "ACME Japan"), ("facebook", "ACME Outdoor"), ("facebook", "ACME Outdoor")]
    assert "900000000000099_1100000000000091" not in inbound_ids(runtime)
    assert unrouted(client, "facebook") == 1

    agent_reply(runtime, hanako.key, "ご不便をおかけしております。", view_id="V1")
    agent_reply(runtime, jiro.key, "交換用のポールをお送りします。", view_id="V2")
    agent_reply(runtime, dm.key, "返品を承ります。", view_id="V3")
    deliver(runtime)
    (to_a,) = fake.calls_to("POST", "/v21.0/900000000000001_1100000000000001/comments")
    assert to_a.headers["Authorization"] == "Bearer page-token-a"
    (to_b,) = fake.calls_to("POST", "/v21.0/900000000000002_1100000000000021/comments")
    assert to_b.headers["Authorization"] == "Bearer page-token-b"
    assert to_b.json() == {"message": "交換用のポールをお送りします。"}
    # Page B's DM leaves through Page B's Send API with Page B's token, never Page A's
    assert fake.calls_to("POST", f"/v21.0/{PAGE_A}/messages") == []
    (send,) = fake.calls_to("POST", f"/v21.0/{PAGE_B}/messages")
    assert send.headers["Authorization"] == "Bearer page-token-b"
    assert send.json() == {"recipient": {"id": "6500000000000002"}, "messaging_type": "RESPONSE",
                           "message": {"text": "返品を承ります。"}}
    assert [item.state for item in reply_items(runtime)] == ["done"] * 3


def test_one_instagram_payload_for_two_accounts_makes_tickets_on_each_and_replies_from_each(
        runtime, fake, meta, client_for):
    client = client_for(runtime)
    body = fixture_bytes("accounts_meta_x_instagram_webhook.json")
    assert outcomes(post_meta(client, "instagram", body)) == ["created"] * 4
    hanako, jiro, kumi, dm = tickets(runtime)
    assert [t_.account for t_ in (hanako, jiro, kumi, dm)] == ["acme.jp", "acme.outdoor", "acme.outdoor",
                                                               "acme.outdoor"]
    # the mention on account B was read as account B, with Page B's token
    (read,) = fake.calls_to("GET", f"/v21.0/{IG_B}")
    assert read.headers["Authorization"] == "Bearer page-token-b"
    assert fake.calls_to("GET", f"/v21.0/{IG_A}") == []
    assert "17865799348089099" not in inbound_ids(runtime) and unrouted(client, "instagram") == 1

    agent_reply(runtime, hanako.key, "設定はプロフィール画面の右上です", view_id="V1")
    agent_reply(runtime, kumi.key, "お調べします", view_id="V2")
    agent_reply(runtime, dm.key, "キャンセルを承りました", view_id="V3")
    deliver(runtime, rounds=4)
    (comment,) = fake.calls_to("POST", "/v21.0/17865799348089039/replies")
    assert comment.headers["Authorization"] == "Bearer page-token-a"
    (mention,) = fake.calls_to("POST", f"/v21.0/{IG_B}/mentions")
    assert mention.headers["Authorization"] == "Bearer page-token-b"
    assert mention.json() == {"media_id": "18000000000000666", "comment_id": "17870000000000666",
                              "message": "お調べします"}
    # an Instagram DM is sent through the account's Page: Page B's, with Page B's token
    (send,) = fake.calls_to("POST", f"/v21.0/{PAGE_B}/messages")
    assert send.headers["Authorization"] == "Bearer page-token-b"
    assert send.json()["recipient"] == {"id": "1234000000000999"}
    assert fake.calls_to("POST", f"/v21.0/{PAGE_A}/messages") == []


def test_unknown_page_is_counted_each_time_and_alerted_once(runtime, fake, meta, client_for):
    client = client_for(runtime)
    for _ in range(2):  # Meta redelivers, and the unknown Page keeps writing
        post_meta(client, "facebook", fixture_bytes("accounts_meta_x_facebook_webhook.json"))
    post_meta(client, "instagram", fixture_bytes("accounts_meta_x_instagram_webhook.json"))
    assert unrouted(client, "facebook") == 2 and unrouted(client, "instagram") == 1
    alerts = unknown_alerts(runtime)
    assert [item.payload["params"] for item in alerts] == [{"network": "facebook", "id": PAGE_UNKNOWN},
                                                           {"network": "instagram", "id": IG_UNKNOWN}]
    assert {item.payload["channel"] for item in alerts} == {runtime.rules.defaults.channel}
    assert len(tickets(runtime)) == 3 + 4
    enable_meta(runtime, fake)  # a restart: this process has alerted nothing, the outbox knows better
    client = client_for(runtime)
    post_meta(client, "facebook", fixture_bytes("accounts_meta_x_facebook_webhook.json"))
    assert len(unknown_alerts(runtime)) == 2 and unrouted(client, "facebook") == 1


def test_a_sister_brand_commenting_or_writing_is_no_customer_on_facebook_and_instagram(runtime, fake, meta,
                                                                                       client_for):
    client = client_for(runtime)
    page = fixture("accounts_meta_x_facebook_webhook.json")
    page["entry"] = page["entry"][1:3]  # Page B's comment thread and Messenger
    page["entry"][0]["changes"][0]["value"]["from"] = {"id": PAGE_A, "name": "ACME Japan"}  # Page A on B's post
    page["entry"][1]["messaging"][0]["sender"] = {"id": PAGE_A}
    ig = fixture("accounts_meta_x_instagram_webhook.json")
    ig["entry"] = ig["entry"][1:2]  # account B: a comment on its media and a mention of it in a comment
    ig["entry"][0]["changes"][0]["value"]["from"] = {"id": IG_A, "username": "acme.jp"}  # account A on B's media
    fake.route("GET", f"/v21.0/{IG_B}", Answer(200, {"id": IG_B, "mentioned_comment": {
        "id": "17870000000000666", "text": "@acme.outdoor さんの新作もぜひ", "timestamp": "2026-11-20T00:50:00+0000",
        "username": "acme.jp", "from": {"id": IG_A, "username": "acme.jp"}}}))
    for network, payload in (("facebook", page), ("instagram", ig)):
        assert outcomes(post_meta(client, network, json.dumps(payload, ensure_ascii=False).encode())) == []
    assert tickets(runtime) == [] and count(runtime, Message) == 0


@pytest.mark.parametrize("network", ["facebook", "instagram"])
@pytest.mark.parametrize("sig", [None, "sha256=" + "0" * 64, "from-another-app"])
def test_forged_meta_webhook_for_several_accounts_is_401_and_stores_nothing(runtime, meta, client_for, network, sig):
    client = client_for(runtime)
    body = fixture_bytes(f"accounts_meta_x_{network}_webhook.json")
    if sig == "from-another-app":
        sig = meta_signature("another-app-secret", body)
    response = post_meta(client, network, body, sig)
    assert response.status_code == 401 and "X-Hub-Signature-256" in response.get_json()["error"]
    assert count(runtime, Message) == 0 and unknown_alerts(runtime) == [] and unrouted(client, network) == 0


@pytest.mark.parametrize("network", ["facebook", "instagram"])
def test_meta_handshake_with_several_accounts(runtime, meta, client_for, network):
    client = client_for(runtime)
    ok = client.get(f"/webhooks/{network}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "1158201444"
    assert client.get(f"/webhooks/{network}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1").status_code \
        == 403


def test_a_reply_for_an_account_no_longer_configured_fails_visibly(runtime, fake, meta, client_for):
    post_meta(client_for(runtime), "facebook", fixture_bytes("accounts_meta_x_facebook_webhook.json"))
    _, jiro, _ = tickets(runtime)
    # Page B leaves the settings while its ticket is still open
    runtime.networks = Networks.for_runtime(runtime, configs={"facebook": FacebookConfig(
        **{**meta_settings(fake.url), "accounts": []})})
    agent_reply(runtime, jiro.key, "交換用のポールをお送りします。", view_id="V1")
    deliver(runtime)
    (item,) = reply_items(runtime)
    assert item.state == "dead" and "'ACME Outdoor' is not configured" in item.last_error
    assert fake.calls_to("POST", "/v21.0/900000000000002_1100000000000021/comments") == []
    with runtime.session_factory() as session:
        reply = session.scalars(select(Message).where(Message.direction == "outbound")).one()
    assert reply.delivery_state == "failed"


def test_moderation_acts_as_the_page_the_comment_is_on(runtime, fake, meta, client_for):
    fake.route("POST", f"/v21.0/{PAGE_B}/blocked", Answer(200, {"7200000000000002": True}))
    post_meta(client_for(runtime), "facebook", fixture_bytes("accounts_meta_x_facebook_webhook.json"))
    hanako, jiro, _ = tickets(runtime)
    runtime.flows.moderate(jiro.key, actor="U0AGENT001", action="block")
    runtime.flows.moderate(hanako.key, actor="U0AGENT001", action="hide")
    deliver(runtime)
    (block,) = fake.calls_to("POST", f"/v21.0/{PAGE_B}/blocked")
    assert block.headers["Authorization"] == "Bearer page-token-b" and block.json() == {"user": ["7200000000000002"]}
    assert fake.calls_to("POST", f"/v21.0/{PAGE_A}/blocked") == []
    (hide,) = fake.calls_to("POST", "/v21.0/900000000000001_1100000000000001")
    assert hide.headers["Authorization"] == "Bearer page-token-a" and hide.json() == {"is_hidden": True}


def test_one_pages_refused_token_holds_back_only_that_pages_replies(runtime, fake, meta, client_for):
    post_meta(client_for(runtime), "facebook", fixture_bytes("accounts_meta_x_facebook_webhook.json"))
    hanako, jiro, _ = tickets(runtime)
    fake.queue("POST", "/v21.0/900000000000002_1100000000000021/comments", Answer(401, {"error": {
        "message": "Error validating access token: The session has been invalidated", "type": "OAuthException",
        "code": 190}}))
    agent_reply(runtime, jiro.key, "交換用のポールをお送りします。", view_id="V1")
    agent_reply(runtime, hanako.key, "ご不便をおかけしております。", view_id="V2")
    deliver(runtime)
    to_b, to_a = reply_items(runtime)
    assert to_b.state == "pending" and "refused our credentials (401)" in to_b.last_error  # retried later
    assert to_a.state == "done"
    store = meta.context.store
    assert store.get("health:facebook:ACME Outdoor")["failures"] == 1
    assert store.get("health:facebook:ACME Japan").get("failures", 0) == 0


def test_check_probes_every_page_and_instagram_account_with_its_own_token(runtime, fake, meta):
    fake.route("GET", f"/v21.0/{PAGE_A}", Answer(200, {"id": PAGE_A, "name": "ACME Japan"}))
    fake.route("GET", f"/v21.0/{PAGE_B}", Answer(200, {"id": PAGE_B, "name": "ACME Outdoor"}))
    fake.route("GET", f"/v21.0/{IG_A}", Answer(200, {"id": IG_A, "username": "acme.jp"}))
    fake.route("GET", f"/v21.0/{IG_B}", Answer(401, {"error": {"message": "Error validating access token",
                                                               "type": "OAuthException", "code": 190}}))
    report = {(entry["network"], entry["account"]): entry for entry in meta.check()
              if entry["network"] in ("facebook", "instagram")}
    assert set(report) == {("facebook", "ACME Japan"), ("facebook", "ACME Outdoor"),
                           ("instagram", "acme.jp"), ("instagram", "acme.outdoor")}
    assert [report[key]["reachable"] for key in sorted(report)] == [True, True, True, False]
    assert "401" in report[("instagram", "acme.outdoor")]["detail"]
    assert {call.path: call.headers["Authorization"] for call in fake.calls if call.method == "GET"} == {
        f"/v21.0/{PAGE_A}": "Bearer page-token-a", f"/v21.0/{PAGE_B}": "Bearer page-token-b",
        f"/v21.0/{IG_A}": "Bearer page-token-a", f"/v21.0/{IG_B}": "Bearer page-token-b"}


# -- X: one app, two brand accounts ---------------------------------------------------------------

X_SECRET = "x-consumer-secret"
X_A, X_B, X_UNKNOWN = "1500000000000000001", "1500000000000000002", "1500000000000000099"
X_B_ACCOUNT = {"account": "@acme_outdoor", "user_id": X_B, "user_token": "user-token-b"}


def x_config(url: str, **more) -> XConfig:
    return XConfig(**{"api_url": url, "bearer_token": "app-bearer", "user_token": "user-token-a", "user_id": X_A,
                      "account": "@acme_jp", "consumer_secret": X_SECRET, "accounts": [X_B_ACCOUNT],
                      "_env_file": None, **more})


@pytest.fixture
def x(runtime, fake):
    fake.route("POST", "/2/tweets", lambda call: Answer(201, {"data": {
        "id": f"18590999999999{len(fake.calls_to('POST', '/2/tweets')):05d}", "text": "ok"}}))
    fake.route("POST", "/2/dm_conversations/with/*", Answer(201, {"data": {"dm_conversation_id": "c",
                                                                           "dm_event_id": "1859099990000000001"}}))
    runtime.networks = Networks.for_runtime(runtime, configs={"x": x_config(fake.url)})
    return runtime.networks


def post_x(client, body, sig: str | None = "auto"):
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False).encode()
    headers = {X_SIGNATURE: x_signature(X_SECRET, body) if sig == "auto" else sig} if sig else {}
    return client.post("/webhooks/x", data=body, headers=headers, content_type="application/json")


def test_account_activity_for_each_account_to_replies_with_its_own_token(runtime, fake, x, client_for):
    client = client_for(runtime)
    payloads = fixture("accounts_meta_x_x_account_activity.json")
    assert outcomes(post_x(client, payloads["acme_jp"])) == ["created"]
    assert outcomes(post_x(client, payloads["acme_outdoor"])) == ["created", "created"]  # own post skipped
    saburo, goro, dm = tickets(runtime)
    assert [(t_.source, t_.account) for t_ in (saburo, goro, dm)] == [
        ("x", "@acme_jp"), ("x", "@acme_outdoor"), ("x", "@acme_outdoor")]
    with runtime.session_factory() as session:
        kinds = dict(session.execute(select(Message.external_id, Message.kind)).all())
    # "reply" means the post answers the account it arrived on: B's user id, not A's
    assert kinds["1859012345678907777"] == "reply" and kinds["dm:1859012345000000002"] == "dm"

    agent_reply(runtime, saburo.key, "在庫ございます！", view_id="V1")
    agent_reply(runtime, goro.key, "替えポールございます。", view_id="V2")
    agent_reply(runtime, dm.key, "お調べします。", view_id="V3")
    deliver(runtime)
    posts = {call.json()["reply"]["in_reply_to_tweet_id"]: call for call in fake.calls_to("POST", "/2/tweets")}
    assert posts["1859012345678905555"].headers["Authorization"] == "Bearer user-token-a"
    assert posts["1859012345678907777"].headers["Authorization"] == "Bearer user-token-b"
    (dm_call,) = fake.calls_to("POST", "/2/dm_conversations/with/6666/messages")
    assert dm_call.headers["Authorization"] == "Bearer user-token-b"
    assert dm_call.json() == {"text": "お調べします。"}
    assert [item.state for item in reply_items(runtime)] == ["done"] * 3


def test_x_activity_api_events_for_each_account(runtime, fake, x, client_for):
    client = client_for(runtime)
    events = fixture("accounts_meta_x_x_activity_api.json")
    assert outcomes(post_x(client, events["mention_acme_jp"])) == ["created"]
    assert outcomes(post_x(client, events["reply_acme_outdoor"])) == ["created"]
    assert outcomes(post_x(client, events["dm_acme_outdoor"])) == ["created"]
    mention, reply, dm = tickets(runtime)
    assert [t_.account for t_ in (mention, reply, dm)] == ["@acme_jp", "@acme_outdoor", "@acme_outdoor"]
    agent_reply(runtime, mention.key, "交換できます。", view_id="V1")
    agent_reply(runtime, reply.key, "電池の向きをご確認ください。", view_id="V2")
    agent_reply(runtime, dm.key, "返金は手続き中です。", view_id="V3")
    deliver(runtime)
    posts = {call.json()["reply"]["in_reply_to_tweet_id"]: call.headers["Authorization"]
             for call in fake.calls_to("POST", "/2/tweets")}
    assert posts == {"1859077777777770011": "Bearer user-token-a", "1859077777777770012": "Bearer user-token-b"}
    (dm_call,) = fake.calls_to("POST", "/2/dm_conversations/with/4444444444444444444/messages")
    assert dm_call.headers["Authorization"] == "Bearer user-token-b"


def test_one_customer_writing_to_both_brands_has_a_ticket_with_each(runtime, fake, x, client_for):
    client = client_for(runtime)
    dm = fixture("accounts_meta_x_x_activity_api.json")["dm_acme_outdoor"]
    to_a = json.loads(json.dumps(dm).replace(X_B, X_A).replace("1859077777777779901", "1859077777777779902"))
    assert outcomes(post_x(client, dm)) == ["created"]
    assert outcomes(post_x(client, to_a)) == ["created"]  # the same X user, the same "dm:" conversation id
    outdoor, japan = tickets(runtime)
    assert (outdoor.account, japan.account) == ("@acme_outdoor", "@acme_jp")
    agent_reply(runtime, japan.key, "担当部署に確認します。", view_id="V1")
    deliver(runtime)
    (call,) = fake.calls_to("POST", "/2/dm_conversations/with/4444444444444444444/messages")
    assert call.headers["Authorization"] == "Bearer user-token-a"


def test_a_sister_brand_posting_or_writing_is_no_customer_on_x(runtime, fake, x, client_for):
    client = client_for(runtime)
    event = fixture("accounts_meta_x_x_activity_api.json")["reply_acme_outdoor"]
    event["data"]["payload"]["author_id"] = X_A  # @acme_jp answers @acme_outdoor's post
    activity = fixture("accounts_meta_x_x_account_activity.json")["acme_outdoor"]
    activity["tweet_create_events"][0]["user"] = {"id_str": X_A, "name": "ACME", "screen_name": "acme_jp"}
    activity["direct_message_events"][0]["message_create"]["sender_id"] = X_A
    for body in (event, activity):
        assert outcomes(post_x(client, body)) == []
    assert tickets(runtime) == [] and count(runtime, Message) == 0


def test_x_events_for_an_unknown_user_are_acknowledged_counted_and_alerted_once(runtime, fake, x, client_for):
    client = client_for(runtime)
    activity = fixture("accounts_meta_x_x_account_activity.json")["unknown"]
    event = fixture("accounts_meta_x_x_activity_api.json")["mention_unknown"]
    for body in (activity, event, activity):
        response = post_x(client, body)
        assert response.status_code == 200 and outcomes(response) == []
    assert count(runtime, Message) == 0 and tickets(runtime) == []
    assert unrouted(client, "x") == 3
    (alert,) = unknown_alerts(runtime)
    assert alert.payload["params"] == {"network": "x", "id": X_UNKNOWN}


def test_x_activity_api_batch_routes_each_event_and_counts_the_unknown(runtime, fake, x, client_for):
    client = client_for(runtime)
    events = fixture("accounts_meta_x_x_activity_api.json")
    batch = {"data": [events[name]["data"] for name in ("mention_acme_jp", "mention_unknown", "dm_acme_outdoor")]}
    assert outcomes(post_x(client, batch)) == ["created", "created"]
    assert [t_.account for t_ in tickets(runtime)] == ["@acme_jp", "@acme_outdoor"]
    assert unrouted(client, "x") == 1 and len(unknown_alerts(runtime)) == 1


@pytest.mark.parametrize("sig", [None, "sha256=AAAA", "from-account-b"])
def test_forged_x_webhook_for_several_accounts_is_401_and_stores_nothing(runtime, x, client_for, sig):
    client = client_for(runtime)
    body = fixture_bytes("accounts_meta_x_x_account_activity.json")
    body = json.dumps(json.loads(body)["acme_outdoor"]).encode()
    if sig == "from-account-b":  # an account's user token is no signing key
        sig = x_signature("user-token-b", body)
    response = post_x(client, body, sig)
    assert response.status_code == 401 and X_SIGNATURE in response.get_json()["error"]
    assert count(runtime, Message) == 0 and unknown_alerts(runtime) == []


def test_x_crc_with_several_accounts_answers_with_the_app_secret(runtime, x, client_for):
    response = client_for(runtime).get("/webhooks/x?crc_token=challenge123")
    assert response.get_json() == {"response_token": x_signature(X_SECRET, b"challenge123")}


def test_x_polls_every_account_and_searches_keywords_once(runtime, fake, x):
    fake.route("GET", f"/2/users/{X_A}/mentions", Answer(200, fixture("x_mentions.json")))
    fake.route("GET", f"/2/users/{X_B}/mentions", Answer(200, {"data": [{
        "id": "1859012345678951111", "text": "@acme_outdoor 寝袋のサイズを教えてください", "author_id": "8888",
        "conversation_id": "1859012345678951111", "created_at": "2026-11-20T00:55:00.000Z", "lang": "ja"}],
        "includes": {"users": [{"id": "8888", "username": "hachi_x", "name": "Hachi"}]},
        "meta": {"newest_id": "1859012345678951111"}}))
    fake.route("GET", "/2/tweets/search/recent", Answer(200, fixture("x_search.json")))
    first, second = x.pollers()
    assert (first.account, second.account) == ("@acme_jp", "@acme_outdoor")
    assert second.query is None  # a keyword match is addressed to no account: one search is enough
    for poller in (first, second):
        poll_once(poller, runtime.flows, x.context.store, holder="r1")
    assert len(fake.calls_to("GET", "/2/tweets/search/recent")) == 1
    (b_mentions,) = fake.calls_to("GET", f"/2/users/{X_B}/mentions")
    assert b_mentions.headers["Authorization"] == "Bearer app-bearer"  # the app's read token is shared
    by_id = {}
    with runtime.session_factory() as session:
        for message in session.scalars(select(Message).where(Message.direction == "inbound")):
            by_id[message.external_id] = message.account
    assert by_id["1859012345678951111"] == "@acme_outdoor"
    assert {by_id[key] for key in by_id if key != "1859012345678951111"} == {"@acme_jp"}
    # each account keeps its own since_id: neither skips nor repeats the other's mentions
    store = x.context.store
    assert store.get("poll:x:@acme_outdoor")["cursors"] == {"mentions": "1859012345678951111"}
    assert store.get("poll:x:@acme_jp")["cursors"]["mentions"] == fixture("x_mentions.json")["meta"]["newest_id"]


def _token_answer(call) -> Answer:
    """X's token endpoint: a new access token and a rotated refresh token for the one spent."""
    spent = call.form()["refresh_token"]
    return Answer(200, {"token_type": "bearer", "expires_in": 7200, "access_token": f"at-for-{spent}",
                        "scope": "tweet.read tweet.write users.read dm.write offline.access",
                        "refresh_token": f"{spent}-next"})


def test_each_x_account_refreshes_and_keeps_its_own_user_token(runtime, fake, client_for):
    fake.route("POST", "/2/oauth2/token", _token_answer)
    fake.route("POST", "/2/tweets", Answer(201, {"data": {"id": "1859099999999999999", "text": "ok"}}))
    networks = Networks.for_runtime(runtime, configs={"x": x_config(
        fake.url, user_token=None, client_id="client-abc", refresh_token="rt-a",
        accounts=[{"account": "@acme_outdoor", "user_id": X_B, "refresh_token": "rt-b"}])})
    runtime.networks = networks
    client = client_for(runtime)
    payloads = fixture("accounts_meta_x_x_account_activity.json")
    post_x(client, payloads["acme_jp"])
    post_x(client, payloads["acme_outdoor"])
    saburo, goro, _ = tickets(runtime)
    agent_reply(runtime, saburo.key, "在庫ございます！", view_id="V1")
    agent_reply(runtime, goro.key, "替えポールございます。", view_id="V2")
    deliver(runtime)
    spent = sorted(call.form()["refresh_token"] for call in fake.calls_to("POST", "/2/oauth2/token"))
    assert spent == ["rt-a", "rt-b"]  # the app's client id, each account's own refresh token
    posts = {call.json()["reply"]["in_reply_to_tweet_id"]: call.headers["Authorization"]
             for call in fake.calls_to("POST", "/2/tweets")}
    assert posts == {"1859012345678905555": "Bearer at-for-rt-a", "1859012345678907777": "Bearer at-for-rt-b"}
    store = networks.context.store
    assert store.get("oauth:x:@acme_jp")["refresh_token"] == "rt-a-next"
    assert store.get("oauth:x:@acme_outdoor")["refresh_token"] == "rt-b-next"


def test_integrations_check_answers_for_every_x_account(monkeypatch, settings, fake, capsys):
    fake.route("GET", "/2/users/me", lambda call: Answer(200, {"data": {"username": {
        "Bearer user-token-a": "acme_jp", "Bearer user-token-b": "acme_outdoor"}[call.headers["Authorization"]]}}))
    monkeypatch.setenv("CHATOPS_DATABASE_URL", settings.database_url)
    for name, value in (("X_API_URL", fake.url), ("X_ACCOUNT", "@acme_jp"), ("X_USER_ID", X_A),
                        ("X_USER_TOKEN", "user-token-a"), ("X_CONSUMER_SECRET", X_SECRET),
                        ("X_ACCOUNTS", json.dumps([X_B_ACCOUNT]))):
        monkeypatch.setenv(name, value)
    assert main(["--lang", "en", "integrations", "check"]) == 0
    out = capsys.readouterr().out
    assert "x: configured as @acme_jp, API reachable (@acme_jp)" in out
    assert "x: configured as @acme_outdoor, API reachable (@acme_outdoor)" in out


def test_x_polling_skips_the_sister_brands_posts(runtime, fake, x):
    sister = {"id": "1859012345678952222", "text": "@acme_outdoor 週末のセールもよろしく！ ACMEストア",
              "author_id": X_A, "conversation_id": "1859012345678952222", "created_at": "2026-11-20T00:56:00.000Z",
              "lang": "ja"}
    fake.route("GET", f"/2/users/{X_A}/mentions", Answer(200, {"data": [], "meta": {"result_count": 0}}))
    fake.route("GET", f"/2/users/{X_B}/mentions", Answer(200, {"data": [sister], "includes": {"users": [
        {"id": X_A, "username": "acme_jp", "name": "ACME"}]}, "meta": {"newest_id": sister["id"]}}))
    fake.route("GET", "/2/tweets/search/recent", Answer(200, {"data": [{**sister, "author_id": X_B}], "includes": {
        "users": [{"id": X_B, "username": "acme_outdoor", "name": "ACME Outdoor"}]},
        "meta": {"newest_id": sister["id"]}}))
    for poller in x.pollers():
        poll_once(poller, runtime.flows, x.context.store, holder="r1")
    (search,) = fake.calls_to("GET", "/2/tweets/search/recent")
    assert search.query["query"][0].endswith(" -from:acme_jp -from:acme_outdoor -is:retweet")
    assert tickets(runtime) == [] and count(runtime, Message) == 0
    assert x.context.store.get("poll:x:@acme_outdoor")["cursors"] == {"mentions": sister["id"]}  # read, not again


# -- settings errors name the entry and its field ------------------------------------------------

def test_x_accounts_with_different_consumer_secrets_are_refused_naming_x_accounts(runtime, fake):
    config = x_config(fake.url, accounts=[{**X_B_ACCOUNT, "consumer_secret": "another-app-secret"}])
    with pytest.raises(NetworkSettingsError) as refused:
        Networks.for_runtime(runtime, configs={"x": config})
    (problem,) = refused.value.problems
    assert problem.startswith("X_ACCOUNTS: ") and "consumer_secret" in problem


def test_serve_and_check_refuse_x_accounts_of_two_apps(monkeypatch, settings, capsys):
    monkeypatch.setenv("CHATOPS_DATABASE_URL", settings.database_url)
    for name, value in (("X_ACCOUNT", "@acme_jp"), ("X_USER_ID", X_A), ("X_USER_TOKEN", "user-token-a"),
                        ("X_CONSUMER_SECRET", X_SECRET)):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("X_ACCOUNTS", json.dumps([{**X_B_ACCOUNT, "consumer_secret": "another-app-secret"}]))
    assert main(["--lang", "en", "integrations", "check"]) == 2
    assert "X_ACCOUNTS" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        main(["--lang", "en", "serve", "--port", "0"])
    assert stopped.value.code == 2 and "X_ACCOUNTS" in capsys.readouterr().err


@pytest.mark.parametrize(("env", "problem"), [
    ({"META_ACCOUNTS": json.dumps([{"page_id": PAGE_B, "page_name": "ACME Outdoor"}])},
     "META_ACCOUNTS[1]: incomplete (page_access_token)"),
    ({"META_ACCOUNTS": json.dumps([PAGE_B_ACCOUNT, {"page_id": "3", "page_token": "t"}])},
     "META_ACCOUNTS[2].page_token: not a setting of META_*"),
    ({"META_ACCOUNTS": json.dumps([{**PAGE_B_ACCOUNT, "page_name": "ACME Japan"}])},
     "META_ACCOUNTS: account 'ACME Japan' is configured twice"),
    ({"META_ACCOUNTS": "[{not json"}, "META_ACCOUNTS: "),
    ({"META_ACCOUNTS": json.dumps({"page_id": PAGE_B})}, "META_ACCOUNTS: "),
    # a Page without Instagram first: the Instagram account's entry is still named by its place
    ({"META_ACCOUNTS": json.dumps([{"page_id": "3", "page_access_token": "t", "page_name": "ACME Kids"},
                                   {**PAGE_B_ACCOUNT, "ig_user_id": int(IG_B)}])},
     "META_ACCOUNTS[2].ig_user_id: "),
    # the same Page or X user under another name: the webhook could route to only one of them
    ({"META_ACCOUNTS": json.dumps([{"page_id": PAGE_A, "page_access_token": "page-token-a2",
                                    "page_name": "ACME Japan Shop"}])},
     f"META_ACCOUNTS: page_id {PAGE_A!r} is configured twice"),
    ({"META_ACCOUNTS": json.dumps([{**PAGE_B_ACCOUNT, "ig_user_id": IG_A}])},
     f"META_ACCOUNTS: ig_user_id {IG_A!r} is configured twice"),
    ({"X_ACCOUNTS": json.dumps([{**X_B_ACCOUNT, "user_id": X_A}])}, f"X_ACCOUNTS: user_id {X_A!r} is configured twice"),
    ({"X_ACCOUNTS": json.dumps([{**X_B_ACCOUNT, "poll_seconds": 1}])}, "X_ACCOUNTS[1].poll_seconds: "),
    ({"X_ACCOUNTS": json.dumps([{"account": "@acme_outdoor", "user_id": X_B}])},
     "X_ACCOUNTS[1]: incomplete (user_token (or client_id and refresh_token))"),
    ({"X_ACCOUNTS": json.dumps([{**X_B_ACCOUNT, "account": "@acme_jp"}])},
     "X_ACCOUNTS: account '@acme_jp' is configured twice"),
])
def test_a_bad_accounts_entry_is_named(monkeypatch, env, problem):
    flat = {"META_APP_SECRET": META_SECRET, "META_VERIFY_TOKEN": "verify-me", "META_PAGE_ID": PAGE_A,
            "META_PAGE_ACCESS_TOKEN": "page-token-a", "META_PAGE_NAME": "ACME Japan", "META_IG_USER_ID": IG_A,
            "META_IG_USERNAME": "acme.jp", "X_ACCOUNT": "@acme_jp", "X_USER_ID": X_A, "X_USER_TOKEN": "user-token-a",
            "X_CONSUMER_SECRET": X_SECRET}
    for name, value in {**flat, **env}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(NetworkSettingsError) as refused:
        load_configs(env_file=None)
    problems = refused.value.problems
    assert any(p.startswith(problem) for p in problems), problems
    assert len(problems) == len(set(problems))  # Facebook and Instagram read META_*: each problem once


def test_meta_accounts_from_the_environment(monkeypatch):
    for name, value in {"META_APP_SECRET": META_SECRET, "META_VERIFY_TOKEN": "verify-me", "META_PAGE_ID": PAGE_A,
                        "META_PAGE_ACCESS_TOKEN": "page-token-a", "META_PAGE_NAME": "ACME Japan",
                        "META_IG_USER_ID": IG_A, "META_IG_USERNAME": "acme.jp",
                        "META_ACCOUNTS": json.dumps([PAGE_B_ACCOUNT, {"page_id": "106000000000003",
                                                                      "page_access_token": "page-token-c",
                                                                      "page_name": "ACME Kids"}])}.items():
        monkeypatch.setenv(name, value)
    configs = load_configs(env_file=None)
    assert [c.account for c in accounts_of(configs["facebook"])] == ["ACME Japan", "ACME Outdoor", "ACME Kids"]
    # a Page without an Instagram account is no Instagram account
    assert [c.account for c in accounts_of(configs["instagram"])] == ["acme.jp", "acme.outdoor"]


# -- what the team sees in Slack -----------------------------------------------------------------

@pytest.fixture
def desk(settings, rules, clock, fake):
    with FakeSlack() as slack:
        runtime = Runtime.build(settings.model_copy(update={
            "slack_bot_token": SecretStr("xoxb-test"), "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_api_url": slack.api_url, "slack_post_interval": 1.0}), upgrade_db=False, rules=rules,
            clock=clock)
        fake.route("POST", "/v21.0/*", lambda call: Answer(200, {"id": call.path.split("/")[2] + "_reply"}))
        fake.route("POST", "/2/tweets", Answer(201, {"data": {"id": "1859099999999999999", "text": "ok"}}))
        enable_meta(runtime, fake, x=x_config(fake.url))
        yield Desk(runtime, slack, clock)
        runtime.close()


def card_text(desk: Desk, key: str) -> str:
    (post,) = [m for m in desk.slack.messages if m.thread_ts is None and m.metadata
               and m.metadata.get("event_payload", {}).get("ticket") == key]
    return json.dumps(post.attachments[0]["blocks"], ensure_ascii=False)


def test_slack_cards_name_the_account_and_the_team_channel_hears_of_the_unknown_one(desk, fake):
    lang = desk.runtime.rules.defaults.language
    assert outcomes(post_meta(desk.client, "facebook", fixture_bytes("accounts_meta_x_facebook_webhook.json"))) \
        == ["created"] * 3
    assert outcomes(post_x(desk.client, fixture("accounts_meta_x_x_account_activity.json")["acme_outdoor"])) \
        == ["created"] * 2
    assert outcomes(post_x(desk.client, fixture("accounts_meta_x_x_account_activity.json")["unknown"])) == []
    desk.drain()
    hanako, jiro, _, goro, _ = tickets(desk.runtime)
    assert "Facebook · ACME Japan" in card_text(desk, hanako.key)
    assert "Facebook · ACME Outdoor" in card_text(desk, jiro.key)
    assert "@acme_outdoor" in card_text(desk, goro.key)
    alerts = [m for m in desk.slack.messages if m.text.startswith(":warning:")]
    assert sorted(m.text for m in alerts) == sorted(
        ":warning: " + t("networks.alert.unknown_account", lang, network=network, id=ident)
        for network, ident in (("facebook", PAGE_UNKNOWN), ("x", X_UNKNOWN)))
    team = desk.runtime.rules.channels[desk.runtime.rules.defaults.channel].slack
    assert {m.channel for m in alerts} == {desk.slack.channel_ids[team]}

    # The agent answers Page B's customer from Slack: the modal says from which Page, and it leaves from it.
    assert desk.click(ids.REPLY, jiro.key).status_code == 200
    modal = desk.last_view(ids.REPLY_VIEW)
    assert t("slack.modal.reply_from", lang, key=jiro.key, network="Facebook", account="ACME Outdoor") \
        in json.dumps(modal["blocks"], ensure_ascii=False)
    box = next(b for b in modal["blocks"] if b.get("block_id", "").startswith(f"{ids.TEXT_BLOCK}."))
    response = desk.submit(modal, {(box["block_id"], ids.TEXT_INPUT): {"type": "plain_text_input",
                                                                      "value": "交換用のポールをお送りします。"}})
    assert response.status_code == 200
    desk.drain()
    (call,) = fake.calls_to("POST", "/v21.0/900000000000002_1100000000000021/comments")
    assert call.headers["Authorization"] == "Bearer page-token-b"
    assert call.json() == {"message": "交換用のポールをお送りします。"}
