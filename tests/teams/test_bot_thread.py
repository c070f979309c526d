"""The bot's ticket threads: a ticket in a channel with a `teams_channel` posts its card as a new
thread in the (fake) Bot Connector; every later change updates that card in place and adds its
change-log line as a reply; a viewer's refresh shows their own buttons; answers to messages and
failures of the connector go through the outbox."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from chatops.outbox import Outbox
from chatops.teams.bot import handlers
from chatops.tickets.models import BotThread, OutboxItem, Ticket
from tests.helpers import inbound
from tests.teams.bot_support import *  # noqa: F403 - fixtures and helpers
from tests.teams.bot_support import (
    channel_of,
    drain_bot,
    install,
    invoke,
    message,
    post,
    validate_bot_card,
)
from tests.teams.conftest import AGENT, GUEST, LEAD, card_text

TEXT = "注文した商品が届かないのですが、配送状況を教えてください"


def arrive(runtime, client, identity, connector, outbox, text: str = TEXT) -> tuple[str, str]:
    """The app is in the team; a customer writes; the card is delivered. (ticket key, thread id)."""
    result = runtime.flows.ingest(inbound(text))
    with runtime.session_factory() as session:
        view_channel = session.get(Ticket, int(result.ticket_key[2:])).channel
    assert post(client, identity, install(connector, channel_of(view_channel))).status_code == 200
    drain_bot(outbox)
    with runtime.session_factory() as session:
        thread = session.get(BotThread, int(result.ticket_key[2:]))
    return result.ticket_key, thread.conversation_id


def verbs(card: dict) -> dict[str, dict]:
    """Button verb (or dialog name) → the action."""
    out = {}
    for action in card.get("actions", []):
        if action["type"] == "Action.Execute":
            out[action["verb"]] = action
        elif action["type"] == "Action.Submit":
            out[action["data"]["dialog"]] = action
        elif action["type"] == "Action.ShowCard":
            out["priority"] = action
    return out


def test_a_ticket_posts_a_card_thread_and_a_claim_updates_it_in_place(
        bot_runtime, bot_client, bot_outbox, identity, bot_connector):
    key, conversation = arrive(bot_runtime, bot_client, identity, bot_connector, bot_outbox)
    root, replies = bot_connector.thread_of(conversation)
    assert replies == [] and root.reply_to is None
    assert conversation == f"{bot_connector.conversations[conversation]['channel']};messageid={root.id}"
    card = validate_bot_card(root.card)
    assert key in card_text(card) and TEXT in card_text(card)
    buttons = verbs(card)
    assert buttons["claim"]["data"] == {"ticket": key}
    assert buttons["resolve"]["data"] == {"ticket": key}
    assert buttons["reply"]["data"] == {"msteams": {"type": "task/fetch"}, "dialog": "reply", "ticket": key}
    assert {"escalate", "customer", "priority"} <= set(buttons)
    # Installed by the lead: their Teams id is known, so their client refreshes the card for them.
    assert card["refresh"]["action"] == {"type": "Action.Execute", "verb": "refresh", "data": {"ticket": key}}
    assert card["refresh"]["userIds"] == [f"29:1{LEAD['aad'].replace('-', '')}"]

    bot_runtime.flows.claim(key, actor=AGENT["user"])
    drain_bot(bot_outbox)
    root, replies = bot_connector.thread_of(conversation)
    assert [u.id for u in bot_connector.updates] == [root.id]  # the same activity, edited
    card = validate_bot_card(root.card)
    assert "Sato" in card_text(card) and "claim" not in verbs(card) and "release" in verbs(card)
    [line] = replies
    assert line.reply_to == root.id and "Sato" in line.activity["text"]
    assert line.activity["textFormat"] == "markdown"


def test_a_customer_follow_up_is_a_thread_reply_and_resolve_and_reopen_redraw(
        bot_runtime, bot_client, bot_outbox, identity, bot_connector):
    key, conversation = arrive(bot_runtime, bot_client, identity, bot_connector, bot_outbox)
    bot_runtime.flows.ingest(inbound("まだ届きません [link](https://evil.example)"))
    drain_bot(bot_outbox)
    _, replies = bot_connector.thread_of(conversation)
    assert "まだ届きません \\[link\\](https://evil.example)" in replies[-1].activity["text"]  # inert markdown
    bot_runtime.flows.resolve(key, actor=AGENT["user"], note="再配達を手配")
    drain_bot(bot_outbox)
    root, _ = bot_connector.thread_of(conversation)
    assert set(verbs(validate_bot_card(root.card))) == {"reopen", "customer"}
    bot_runtime.flows.reopen(key, actor=LEAD["user"], reason="まだ届かない")
    drain_bot(bot_outbox)
    root, replies = bot_connector.thread_of(conversation)
    assert "claim" in verbs(validate_bot_card(root.card)) or "release" in verbs(root.card)
    assert len(bot_connector.in_conversation(conversation)) == 1 + len(replies)  # one card, never a second


def test_refresh_renders_the_card_for_each_viewer(bot_runtime, bot_client, bot_outbox, identity, bot_connector):
    key, conversation = arrive(bot_runtime, bot_client, identity, bot_connector, bot_outbox)

    def refresh(person):
        answer = post(bot_client, identity, invoke(bot_connector, "adaptiveCard/action", {
            "action": {"type": "Action.Execute", "verb": "refresh", "data": {"ticket": key}}, "trigger": "automatic"},
            person=person, conversation=conversation))
        assert answer.status_code == 200
        body = answer.get_json()
        assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
        return validate_bot_card(body["value"])

    assert {"claim", "reply", "resolve", "escalate"} <= set(verbs(refresh(AGENT)))
    guest = refresh(GUEST)  # mapped, but no role: nothing they may press
    assert verbs(guest) == {}
    stranger = refresh({"aad": "aad-unknown-9", "name": "Who"})
    assert verbs(stranger) == {} and "teams.people" in card_text(stranger)


def test_a_handler_that_is_not_ready_answers_visibly(bot_runtime, bot_client, bot_outbox, identity, bot_connector,
                                                     monkeypatch):
    def unfinished(ctx, verb, data):
        raise NotImplementedError(verb)

    monkeypatch.setattr(handlers, "on_action", unfinished)
    answer = post(bot_client, identity, invoke(bot_connector, "adaptiveCard/action", {
        "action": {"type": "Action.Execute", "verb": "claim", "data": {"ticket": "T-1"}}}))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["type"] == "application/vnd.microsoft.activity.message" and "not work yet" in body["value"]


def test_a_message_is_answered_in_the_same_conversation_through_the_outbox(
        bot_runtime, bot_client, bot_outbox, identity, bot_connector):
    post(bot_client, identity, install(bot_connector, person=AGENT))
    personal = message(bot_connector, "help", locale="ja-JP")
    bot_connector.conversations[personal["conversation"]["id"]] = {"isGroup": False, "member": "x"}
    assert post(bot_client, identity, personal).status_code == 200
    assert post(bot_client, identity, personal).status_code == 200  # Teams retrying: answered once
    drain_bot(bot_outbox)
    [answer] = bot_connector.in_conversation(personal["conversation"]["id"])
    assert answer.reply_to is None and "claim T-12" in answer.activity["text"] and "この一覧" in answer.activity["text"]

    channel = channel_of("support")
    in_channel = message(bot_connector, "help", channel=channel)
    bot_connector.conversations[in_channel["conversation"]["id"]] = {"isGroup": True, "channel": channel}
    post(bot_client, identity, in_channel)
    drain_bot(bot_outbox)
    [reply] = bot_connector.in_conversation(in_channel["conversation"]["id"])
    assert reply.reply_to == in_channel["id"]  # a reply in the thread it was asked in


def test_429_is_retried_after_retry_after(bot_runtime, bot_client, bot_outbox, identity, bot_connector, clock):
    result = bot_runtime.flows.ingest(inbound(TEXT))
    with bot_runtime.session_factory() as session:
        channel = session.get(Ticket, int(result.ticket_key[2:])).channel
    post(bot_client, identity, install(bot_connector, channel_of(channel)))
    bot_connector.fail_next(429, "7")
    outbox = Outbox(bot_outbox.session_factory, bot_outbox.deliverers, clock=clock)  # the test's clock
    outbox.run_once()
    with bot_runtime.session_factory() as session:
        item = session.scalars(select(OutboxItem).where(OutboxItem.kind == "card")).one()
        assert item.state == "pending" and item.next_attempt_at == clock() + timedelta(seconds=7)
        assert not item.in_doubt and "429" in item.last_error
    assert bot_connector.activities == {}
    clock.advance(seconds=6)
    assert outbox.run_once() == 0
    clock.advance(seconds=1)
    drain_bot(outbox)
    assert len(bot_connector.activities) == 1


def test_no_conversation_reference_waits_and_says_why(bot_runtime, bot_outbox, bot_connector, clock):
    bot_runtime.flows.ingest(inbound(TEXT))
    bot_outbox.run_once()
    with bot_runtime.session_factory() as session:
        item = session.scalars(select(OutboxItem).where(OutboxItem.kind == "card")).one()
    assert item.state == "pending" and "add the app to the team" in item.last_error
    assert bot_connector.activities == {}
