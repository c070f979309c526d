"""Done when: the Slack scenario (arrive, claim, reply with a canned answer, escalate with a note,
resolve, the customer writes again and it reopens) passes with the Teams bot as the only surface,
every step a signed activity at `POST /api/messages`, the card updated in place at each step, and
the stored events the same as with Slack."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select

from chatops.app import build_outbox, create_app
from chatops.runtime import Runtime
from chatops.tickets.models import BotThread, Message, Ticket, TicketEvent
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.helpers import inbound
from tests.teams.bot_support import *  # noqa: F403 - fixtures and helpers
from tests.teams.bot_support import channel_of, drain_bot, install, invoke, post, validate_bot_card, with_bot
from tests.teams.conftest import AGENT, LEAD, card_text

BOT_CARD_SCHEMA = json.loads((Path(__file__).parent / "adaptive-card-1.4-bot.schema.json").read_text("utf-8"))
CARD = "application/vnd.microsoft.card.adaptive"
CUSTOMER = {"id": "c-77", "handle": "@sato", "name": "佐藤"}
# The events the scenario stores through Slack (tests/slack/test_scenario.py), in kind and order;
# the second reply_sent is the rating request the resolve sends the customer.
SLACK_EVENTS = ["created", "claimed", "replied", "reply_sent", "escalated", "resolved", "reply_sent", "reopened"]


@pytest.fixture
def network():
    """The generic reply webhook the customer's network is reached through."""
    with RecordingServer() as server:
        server.answers = [Answer(201, {"id": f"sent-{n}"}) for n in range(1, 10)]  # each post its own id
        yield server


@pytest.fixture
def scenario_runtime(bot_settings, rules, clock, network):
    """The bot as the only surface, replies to customers going to the fake network, and (as in
    the Slack scenario) a ticket staying open after a reply."""
    settings = bot_settings.model_copy(update={"webhook_reply_url": network.url + "/replies"})
    rules = with_bot(rules)
    rules = rules.model_copy(update={"sla": rules.sla.model_copy(update={"pending_after_reply": False})})
    runtime = Runtime.build(settings, upgrade_db=False, rules=rules, clock=clock)
    yield runtime
    runtime.close()


@pytest.fixture
def app(scenario_runtime):
    return create_app(scenario_runtime).test_client()


@pytest.fixture
def deliver(scenario_runtime):
    outbox = build_outbox(scenario_runtime)
    return lambda: drain_bot(outbox)


def stored(runtime, key: str) -> list[str]:
    return [kind for kind, _, _ in stored_events(runtime, key)]


def stored_events(runtime, key: str) -> list[tuple[str, str, dict]]:
    with runtime.session_factory() as session:
        return [(row.kind, row.actor, row.payload or {}) for row in session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == int(key[2:])).order_by(TicketEvent.id))]


def buttons(card: dict) -> dict[str, dict]:
    """Verb (or dialog name) → the card's action."""
    out = {}
    for action in card.get("actions", []):
        if action["type"] == "Action.Execute":
            out[action["verb"]] = action
        elif action["type"] == "Action.Submit":
            out[action["data"]["dialog"]] = action
    return out


class Teams:
    """A person's Teams client: presses card buttons and dialog buttons as signed invokes."""

    def __init__(self, app, identity, connector, conversation: str) -> None:
        self.app, self.identity, self.connector, self.conversation = app, identity, connector, conversation

    def _send(self, name: str, value: dict, person: dict) -> dict | None:
        answer = post(self.app, self.identity, invoke(self.connector, name, value, person=person,
                                                      conversation=self.conversation, locale="ja-JP"))
        assert answer.status_code == 200, answer.data
        return answer.get_json(silent=True)

    def execute(self, action: dict, person: dict = AGENT) -> dict:
        """An `Action.Execute` button: the invoke response is the card refreshed for the person."""
        body = self._send("adaptiveCard/action", {"action": {"type": "Action.Execute", "verb": action["verb"],
                                                             "data": action["data"]}, "trigger": "manual"}, person)
        assert body["statusCode"] == 200 and body["type"] == CARD, body
        jsonschema.Draft202012Validator(BOT_CARD_SCHEMA).validate(body["value"])  # the one bot-card schema too
        return validate_bot_card(body["value"])

    def open(self, action: dict, person: dict = AGENT) -> dict:
        """A dialog button (`task/fetch`): the dialog's card."""
        return self._dialog(self._send("task/fetch", {"type": "task/fetch", "data": action["data"],
                                                      "context": {"theme": "default"}}, person))

    def press(self, card: dict, title: str, inputs: dict, person: dict = AGENT) -> dict | None:
        """A dialog's button (`task/submit`): the dialog again, or None when it closed."""
        action = next(a for a in card["actions"] if a["title"] == title)
        body = self._send("task/submit", {"data": {**action["data"], **inputs}, "context": {"theme": "default"}},
                          person)
        return None if body is None else self._dialog(body)

    @staticmethod
    def _dialog(body: dict) -> dict:
        task = body["task"]
        assert task["type"] == "continue", task
        assert task["value"]["card"]["contentType"] == CARD
        card = task["value"]["card"]["content"]
        jsonschema.Draft202012Validator(BOT_CARD_SCHEMA).validate(card)
        return card


def test_slack_scenario_with_the_teams_bot_as_the_only_surface(scenario_runtime, app, deliver, identity,
                                                               bot_connector, network):
    runtime, connector = scenario_runtime, bot_connector
    assert not runtime.settings.slack_enabled

    # 1. A customer writes: the card is a new thread in the routed channel, with Claim.
    key = runtime.flows.ingest(inbound("ポイントの使い方が分かりません。注文画面のどこで使えますか？", source="webhook",
                                       account="shop-form", author=CUSTOMER, conversation_id="conv-1")).ticket_key
    with runtime.session_factory() as session:
        channel = channel_of(session.get(Ticket, int(key[2:])).channel)
    assert post(app, identity, install(connector, channel)).status_code == 200
    deliver()
    with runtime.session_factory() as session:
        conversation = session.get(BotThread, int(key[2:])).conversation_id
    root, replies = connector.thread_of(conversation)
    assert replies == [] and "ポイントの使い方" in card_text(root.card)
    teams = Teams(app, identity, connector, conversation)
    assert stored(runtime, key) == ["created"]

    # 2. Sato claims: the card comes back refreshed for them, and everyone's copy is edited in place.
    mine = teams.execute(buttons(root.card)["claim"])
    assert "Sato" in card_text(mine) and "release" in buttons(mine) and "claim" not in buttons(mine)
    deliver()
    root, replies = connector.thread_of(conversation)
    assert {update.id for update in connector.updates} == {root.id}
    assert "Sato" in card_text(root.card) and len(replies) == 1

    # 3. Reply with a canned answer: the dialog fills the box, Send queues it to the network once.
    dialog = teams.open(buttons(mine)["reply"])
    canned = runtime.rules.canned_replies[0]
    filled = teams.press(dialog, "定型文を使う", {"canned": canned.id, "text": ""})
    assert next(e for e in filled["body"] if e.get("id") == "text")["value"] == canned.text.ja
    assert teams.press(filled, "送信", {"canned": canned.id, "text": canned.text.ja}) is None
    assert teams.press(filled, "送信", {"canned": canned.id, "text": canned.text.ja}) is None  # Teams resending
    deliver()
    assert [request.json()["text"] for request in network.requests] == [canned.text.ja]
    assert network.requests[0].json()["account"] == "shop-form"
    with runtime.session_factory() as session:
        [reply] = session.scalars(select(Message).where(Message.direction == "outbound"))
        assert (reply.author_id, reply.delivery_state) == ("U0AGENT001", "sent")

    # 4. Escalate to L2 with a hand-off note.
    dialog = teams.open(buttons(mine)["escalate"])
    assert teams.press(dialog, "エスカレーション", {"level": "L2", "note": "ポイント残高の不整合。L2 で確認お願いします"}) is None
    deliver()
    root, replies = connector.thread_of(conversation)
    assert "L2" in card_text(root.card)
    assert "ポイント残高の不整合" in replies[-1].activity["text"]

    # 5. The lead resolves from the card: only Reopen (and Customer) remain.
    resolved = teams.execute(buttons(root.card)["resolve"], LEAD)
    assert set(buttons(resolved)) == {"reopen", "customer"}
    deliver()

    # 6. The customer writes again: the same ticket reopens, the message is in the thread.
    again = runtime.flows.ingest(inbound("まだポイントが使えません…", source="webhook", account="shop-form",
                                         author=CUSTOMER, conversation_id="conv-1"))
    assert again.ticket_key == key
    deliver()
    root, replies = connector.thread_of(conversation)
    assert "まだポイントが使えません" in replies[-1].activity["text"]
    assert {"claim", "release"} & set(buttons(root.card))

    assert stored(runtime, key) == SLACK_EVENTS
    by = {kind: (actor, payload) for kind, actor, payload in stored_events(runtime, key)}
    assert [by[kind][0] for kind in ("claimed", "replied", "escalated", "resolved")] == [
        "U0AGENT001", "U0AGENT001", "U0AGENT001", "U0LEAD0001"]
    assert by["escalated"][1]["note"] == "ポイント残高の不整合。L2 で確認お願いします"
    assert by["escalated"][1]["level_to"] == "L2" and by["reopened"][0].startswith("customer:")
    with runtime.session_factory() as session:  # the reply and, on resolve, the rating request: both sent
        assert [(m.kind, m.delivery_state) for m in session.scalars(
            select(Message).where(Message.direction == "outbound").order_by(Message.id))] == [
            (None, "sent"), ("csat", "sent")]
    assert len(connector.in_conversation(conversation)) == 1 + len(replies)  # one card, edited, never reposted
    assert {update.id for update in connector.updates} == {root.id}
