"""Several LINE channels on one deployment, end to end to Slack: each channel's signed webhook
makes tickets on its own account, the card says which, and the reply leaves with that channel's
token; and the `<PREFIX>ACCOUNTS` settings are refused clearly when they are wrong."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from chatops.tickets.models import OutboxItem, Ticket
from integrations.line import SIGNATURE_HEADER, LineConfig, signature
from integrations.registry import NetworkSettingsError, accounts_of, load_configs
from tests.fakes.http_recorder import Answer
from tests.slack.conftest import Desk

CHANNELS = {"@acme": ("secret-one", "token-one"), "@acme_shop": ("secret-two", "token-two")}


@pytest.fixture
def desk(wired, fake, clock):
    """A desk on the fake Slack with two LINE channels: the flat settings and one more."""
    fake.route("POST", "/v2/bot/message/push", lambda call: Answer(200, {"sentMessages": [
        {"id": "sent-" + call.headers["Authorization"].removeprefix("Bearer "), "quoteToken": "q"}]}))
    secret, token = CHANNELS["@acme"]
    extra_secret, extra_token = CHANNELS["@acme_shop"]
    desk = wired("line", LineConfig(
        api_url=fake.url, channel_secret=secret, channel_access_token=token, account="@acme",
        accounts=[{"account": "@acme_shop", "channel_secret": extra_secret, "channel_access_token": extra_token}],
        _env_file=None))
    # The reply token has expired when the agent answers: every reply is a push with its channel's token.
    for sink in desk.runtime.networks.parts["line"].sink.by_account.values():
        sink.clock = lambda: clock.now.timestamp() + 3600
    return desk


def event_body(clock, message_id: str, user: str, text: str) -> bytes:
    """A LINE webhook with one text message, as the platform sends it."""
    return json.dumps({"destination": "U0123456789abcdef0123456789abcdef", "events": [{
        "type": "message", "message": {"type": "text", "id": message_id, "quoteToken": "q", "text": text},
        "webhookEventId": f"01H{message_id}", "deliveryContext": {"isRedelivery": False},
        "timestamp": int(clock.now.timestamp() * 1000), "source": {"type": "user", "userId": user},
        "replyToken": f"token-for-{message_id}", "mode": "active"}]}, ensure_ascii=False).encode()


def post(desk: Desk, body: bytes, secret: str):
    return desk.client.post("/webhooks/line", data=body, content_type="application/json",
                            headers={SIGNATURE_HEADER: signature(secret, body)})


def tickets(desk: Desk) -> list[Ticket]:
    with desk.runtime.session_factory() as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)).unique())


def card_text(desk: Desk, ticket: Ticket) -> str:
    """Everything the ticket's Slack card says."""
    (post_,) = [m for m in desk.slack.messages if m.thread_ts is None and m.metadata
                and m.metadata.get("event_payload", {}).get("ticket") == ticket.key]
    return json.dumps(post_.attachments[0]["blocks"], ensure_ascii=False)


def test_each_channel_has_its_tickets_and_replies_from_itself(desk, fake, clock):
    one = post(desk, event_body(clock, "500000000000000001", "U" + "1" * 32, "注文した商品が届きません"), "secret-one")
    two = post(desk, event_body(clock, "500000000000000002", "U" + "2" * 32, "返品したいです"), "secret-two")
    assert one.status_code == two.status_code == 200
    first, second = tickets(desk)
    assert (first.account, second.account) == ("@acme", "@acme_shop")
    desk.drain()
    assert "LINE · @acme" in card_text(desk, first) and "@acme_shop" not in card_text(desk, first)
    assert "LINE · @acme_shop" in card_text(desk, second)

    desk.flows.reply(second.key, actor="U0AGENT001", text="返品を承ります", idempotency_key="slack-view:V1")
    desk.flows.reply(first.key, actor="U0AGENT001", text="確認いたします", idempotency_key="slack-view:V2")
    desk.drain()
    pushes = {call.json()["to"]: (call.headers["Authorization"], call.json()["messages"][0]["text"])
              for call in fake.calls_to("POST", "/v2/bot/message/push")}
    assert pushes == {"U" + "1" * 32: ("Bearer token-one", "確認いたします"),
                      "U" + "2" * 32: ("Bearer token-two", "返品を承ります")}
    with desk.runtime.session_factory() as session:
        results = {row.ticket_id: (row.state, row.result) for row in
                   session.scalars(select(OutboxItem).where(OutboxItem.kind == "reply"))}
    assert results == {first.id: ("done", {"external_id": "sent-token-one"}),
                       second.id: ("done", {"external_id": "sent-token-two"})}


def test_a_request_no_channel_signed_is_refused_and_nothing_is_stored(desk, clock):
    body = event_body(clock, "500000000000000003", "U" + "3" * 32, "hello")
    response = post(desk, body, "not-our-secret")
    assert response.status_code == 401 and "x-line-signature" in response.get_json()["error"]
    assert tickets(desk) == []


def test_a_reply_for_a_channel_no_longer_configured_fails_visibly(desk, fake, clock):
    post(desk, event_body(clock, "500000000000000004", "U" + "4" * 32, "届きません"), "secret-two")
    (ticket,) = tickets(desk)
    desk.flows.reply(ticket.key, actor="U0AGENT001", text="確認します", idempotency_key="slack-view:V3")
    with desk.runtime.session_factory() as session:  # the channel was removed from the settings meanwhile
        item = session.scalars(select(OutboxItem).where(OutboxItem.kind == "reply")).one()
        item.payload = {**item.payload, "account": "@acme_old"}
        session.commit()
    desk.drain()
    with desk.runtime.session_factory() as session:
        item = session.scalars(select(OutboxItem).where(OutboxItem.kind == "reply")).one()
    assert item.state == "dead" and "'@acme_old' is not configured" in item.last_error
    assert "'@acme', '@acme_shop'" in item.last_error
    assert not fake.calls_to("POST", "/v2/bot/message/push")


# -- settings ----------------------------------------------------------------------------------


@pytest.fixture
def line_env(monkeypatch):
    monkeypatch.setenv("LINE_CHANNEL_SECRET", "secret-one")
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", "token-one")
    monkeypatch.setenv("LINE_ACCOUNT", "@acme")
    return lambda accounts: monkeypatch.setenv("LINE_ACCOUNTS", accounts)


def problems(env_file=None) -> list[str]:
    with pytest.raises(NetworkSettingsError) as refused:
        load_configs(env_file)
    return refused.value.problems


def test_accounts_come_from_a_json_list_and_share_only_the_api_base(line_env, monkeypatch):
    monkeypatch.setenv("LINE_API_URL", "http://127.0.0.1:9/line")
    line_env('[{"account": "@acme_shop", "channel_secret": "secret-two", "channel_access_token": "token-two"}]')
    accounts = accounts_of(load_configs(None)["line"])
    assert [(a.account, a.channel_secret.get_secret_value(), a.channel_access_token.get_secret_value(), a.api_url)
            for a in accounts] == [("@acme", "secret-one", "token-one", "http://127.0.0.1:9/line"),
                                   ("@acme_shop", "secret-two", "token-two", "http://127.0.0.1:9/line")]


@pytest.mark.parametrize(("accounts", "expected"), [
    ('[{"account": "@acme_shop"}]', "LINE_ACCOUNTS[1]: incomplete (channel_secret, channel_access_token)"),
    ('[{"account": "@acme", "channel_secret": "s", "channel_access_token": "t"}]',
     "LINE_ACCOUNTS: account '@acme' is configured twice"),
    ('[{"account": "@b", "channel_secret": "s", "channel_access_token": "t", "chanel_token": "x"}]',
     "LINE_ACCOUNTS[1].chanel_token: not a setting of LINE_*"),
    ('[{"account": "@b", "channel_secret": "s", "channel_access_token": "t"}, "@c"]',
     "LINE_ACCOUNTS[2]: an object of settings, not str"),
    ('[{"account": "@b",', "LINE_ACCOUNTS: Expecting property name enclosed in double quotes"),
])
def test_a_wrong_account_list_is_refused_naming_the_entry(line_env, accounts, expected):
    line_env(accounts)
    assert any(problem.startswith(expected) for problem in problems()), problems()


def test_an_entry_never_takes_another_accounts_credentials(line_env):
    line_env('[{"account": "@acme_shop", "channel_access_token": "token-two"}]')
    assert problems() == ["LINE_ACCOUNTS[1]: incomplete (channel_secret)"]
