"""Done when (issue 21): the Slack scenario — arrive, claim, reply with a canned answer, escalate
with a note, resolve, the customer writes again and it reopens — with the Teams bot as the only
surface: every step a signed activity to /api/messages (real JWT validation), the ticket's card
updated in place in its channel thread at each step, and the stored events those of Slack's run."""

from __future__ import annotations

from sqlalchemy import select

from chatops.app import build_outbox
from chatops.teams.bot import dialogs
from chatops.tickets.models import BotThread, Message, OutboxItem, Ticket, TicketEvent
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.helpers import inbound
from tests.teams.bot_support import *  # noqa: F403 - fixtures and helpers
from tests.teams.bot_support import channel_of, drain_bot, install, invoke, post, validate_bot_card
from tests.teams.conftest import AGENT, LEAD, card_text

FIRST = "ポイントの使い方が分かりません。注文画面のどこで使えますか？"
CUSTOMER = {"id": "c-77", "handle": "@sato", "name": "佐藤"}


def verbs(card: dict) -> list[str]:
    out = []
    for action in card.get("actions", []):
        out.append(action.get("verb") or (action.get("data") or {}).get("dialog") or action["type"])
    return out


def events(runtime, key: str) -> list[str]:
    with runtime.session_factory() as session:
        return list(session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == int(key[2:]))
                                    .order_by(TicketEvent.id)))


def test_arrive_claim_reply_escalate_resolve_reopen_with_the_bot_only(
        bot_runtime, bot_client, identity, bot_connector, rules):
    assert not bot_runtime.settings.slack_enabled
    with RecordingServer() as network:
        network.default = Answer(201, {"id": "sent-1"})
        bot_runtime.settings = bot_runtime.settings.model_copy(update={"webhook_reply_url": network.url + "/replies"})
        outbox = build_outbox(bot_runtime)
        # As the Slack scenario: the ticket stays open after the reply.
        bot_runtime.flows.rules = bot_runtime.rules.model_copy(
            update={"sla": bot_runtime.rules.sla.model_copy(update={"pending_after_reply": False})})

        # 1. A customer writes; the app is in the team: one card thread in the routed channel.
        key = bot_runtime.flows.ingest(inbound(FIRST, source="webhook", account="shop-form", author=CUSTOMER,
                                               conversation_id="conv-1")).ticket_key
        with bot_runtime.session_factory() as session:
            channel = channel_of(session.get(Ticket, int(key[2:])).channel)
        assert post(bot_client, identity, install(bot_connector, channel)).status_code == 200
        drain_bot(outbox)
        with bot_runtime.session_factory() as session:
            thread = session.get(BotThread, int(key[2:])).conversation_id
        root, replies = bot_connector.thread_of(thread)
        card = validate_bot_card(root.card)
        assert key in card_text(card) and "@sato" in card_text(card) and "ポイントの使い方" in card_text(card)
        assert verbs(card)[:2] == ["claim", "reply"] and replies == []
        edits = 0

        def step(activity: dict, person: dict = AGENT):
            """A signed activity from `person` in the ticket's thread; its JSON answer."""
            answer = post(bot_client, identity, invoke(bot_connector, activity["name"], activity["value"],
                                                       person=person, conversation=thread))
            assert answer.status_code == 200, answer.text
            return answer.get_json() if answer.data else None

        def delivered() -> dict:
            """Drain; the card was updated in place (same activity, one more edit) and is valid."""
            nonlocal edits
            drain_bot(outbox)
            assert [p.id for p in bot_connector.in_conversation(thread)][:1] == [root.id]
            assert len([u for u in bot_connector.updates if u.id == root.id]) > edits
            edits = len([u for u in bot_connector.updates if u.id == root.id])
            return validate_bot_card(root.card)

        # 2. Claim (Action.Execute): the agent's own render comes back, the channel's card is edited.
        answer = step({"name": "adaptiveCard/action", "value": {
            "action": {"type": "Action.Execute", "verb": "claim", "data": {"ticket": key}}, "trigger": "manual"}})
        assert answer["type"] == "application/vnd.microsoft.card.adaptive" and "release" in verbs(answer["value"])
        card = delivered()
        assert "Sato" in card_text(card) and "claim" not in verbs(card)
        assert "Sato" in bot_connector.thread_of(thread)[1][-1].activity["text"]
        assert events(bot_runtime, key) == ["created", "claimed"]

        # 3. Reply with a canned answer: the dialog opens, the canned reply fills the box, Send.
        opened = step({"name": "task/fetch", "value": {"data": {"msteams": {"type": "task/fetch"}, "dialog": "reply",
                                                               "ticket": key}}})
        assert opened["task"]["type"] == "continue"
        dialog = validate_bot_card(opened["task"]["value"]["card"]["content"], dialog=True)
        canned = rules.canned_replies[0]
        fill = next(a for a in dialog["actions"] if a["data"].get("op") == dialogs.FILL)
        filled = step({"name": "task/submit", "value": {"data": {**fill["data"], dialogs.CANNED: canned.id,
                                                                 dialogs.TEXT: ""}}})
        dialog = filled["task"]["value"]["card"]["content"]
        send = next(a for a in dialog["actions"] if a["data"].get("op") != dialogs.FILL)
        sent = {"name": "task/submit", "value": {"data": {**send["data"], dialogs.CANNED: canned.id,
                                                          dialogs.TEXT: canned.text.ja}}}
        assert step(sent) is None  # an empty 200 closes the dialog
        assert step(sent) is None  # Teams resending the same submit: still one reply
        delivered()
        assert [r.json()["text"] for r in network.requests] == [canned.text.ja]
        assert events(bot_runtime, key) == ["created", "claimed", "replied", "reply_sent"]

        # 4. Escalate to L2 with a hand-off note.
        opened = step({"name": "task/fetch", "value": {"data": {"msteams": {"type": "task/fetch"},
                                                               "dialog": "escalate", "ticket": key}}})
        submit = opened["task"]["value"]["card"]["content"]["actions"][0]
        note = "ポイント残高の不整合。L2 で確認お願いします"
        assert step({"name": "task/submit", "value": {"data": {**submit["data"], dialogs.LEVEL: "L2",
                                                               dialogs.NOTE: note}}}) is None
        card = delivered()
        assert "L2" in card_text(card) and note in bot_connector.thread_of(thread)[1][-1].activity["text"]
        assert events(bot_runtime, key)[-1] == "escalated"

        # 5. The lead resolves: only Reopen (and Customer) are left on the card.
        answer = step({"name": "adaptiveCard/action", "value": {
            "action": {"type": "Action.Execute", "verb": "resolve", "data": {"ticket": key}}}}, person=LEAD)
        assert verbs(answer["value"])[0] == "reopen"
        card = delivered()
        assert verbs(card)[0] == "reopen" and "claim" not in verbs(card)
        assert events(bot_runtime, key)[-2:] == ["resolved", "reply_sent"]  # then the rating request went out

        # 6. The customer writes again: the same ticket reopens, their words in the thread.
        again = inbound("まだポイントが使えません…", source="webhook", account="shop-form", author=CUSTOMER,
                        conversation_id="conv-1")
        assert bot_runtime.flows.ingest(again).ticket_key == key
        card = delivered()
        assert "reopen" not in verbs(card)
        assert "まだポイントが使えません" in bot_connector.thread_of(thread)[1][-1].activity["text"]
        assert events(bot_runtime, key) == ["created", "claimed", "replied", "reply_sent", "escalated", "resolved",
                                            "reply_sent", "reopened"]  # as the Slack scenario's

    # One card, edited at every step; nothing posted twice, nothing left in the outbox.
    root_posts, lines = bot_connector.thread_of(thread)
    assert root_posts.id == root.id and len(bot_connector.activities) == 1 + len(lines)
    with bot_runtime.session_factory() as session:
        assert set(session.scalars(select(OutboxItem.state))) == {"done"}
        directions = list(session.scalars(select(Message.direction).order_by(Message.id)))
    assert directions == ["inbound", "outbound", "outbound", "inbound"]  # reply, CSAT request, the customer
