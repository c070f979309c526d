"""Pages through the Teams bot: the on-call person (a rules.yaml Teams person with an AAD id)
gets the page card in their personal chat with the bot; Acknowledge there stops the escalation,
and the card is updated in place after acknowledge and resolve."""

from __future__ import annotations

from sqlalchemy import select

from chatops.oncall.models import Page
from chatops.teams.bot.notifier import BotPlanner
from chatops.tickets.events import EventNotice
from chatops.tickets.models import BotConversation, TicketEvent
from tests.helpers import inbound
from tests.teams.bot_support import *  # noqa: F403 - fixtures and helpers
from tests.teams.bot_support import ONCALL, channel_of, drain_bot, install, invoke, post, validate_bot_card
from tests.teams.conftest import card_text


def paged(runtime) -> list[str]:
    with runtime.session_factory() as session:
        return [row.payload["target"] for row in session.scalars(
            select(TicketEvent).where(TicketEvent.kind == "paged").order_by(TicketEvent.id))]


def page_verbs(card: dict) -> list[str]:
    return [action["verb"] for action in card.get("actions", [])]


def test_a_page_reaches_the_on_call_person_and_acknowledge_stops_the_escalation(
        bot_runtime, bot_client, bot_outbox, identity, bot_connector, clock):
    post(bot_client, identity, install(bot_connector, channel_of("support")))  # the app is in the team
    bot_runtime.flows.ingest(inbound("二重請求されています"))  # red: pages on call
    bot_runtime.flows.page_pass()
    assert paged(bot_runtime) == [ONCALL["user"]]
    drain_bot(bot_outbox)

    [(chat, opened)] = bot_connector.personal_chats().items()
    assert opened["member"] == ONCALL["aad"] and opened["tenant"]
    [notice] = bot_connector.in_conversation(chat)
    card = validate_bot_card(notice.card)
    assert "P-1" in card_text(card) and page_verbs(card) == ["page_ack", "page_resolve"]
    assert card["actions"][0]["data"] == {"page": "P-1"}
    with bot_runtime.session_factory() as session:  # the chat is remembered for the next page
        assert session.get(BotConversation, chat).user_aad == ONCALL["aad"]

    answer = post(bot_client, identity, invoke(bot_connector, "adaptiveCard/action", {
        "action": {"type": "Action.Execute", "verb": "page_ack", "data": {"page": "P-1"}}},
        person=ONCALL, conversation=chat))
    body = answer.get_json()  # botact's handler acknowledged it; the card comes back as it is now
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert page_verbs(validate_bot_card(body["value"])) == ["page_resolve"]

    clock.advance(minutes=20)  # past the step's escalate_after: nobody else is paged
    bot_runtime.flows.page_pass()
    assert paged(bot_runtime) == [ONCALL["user"]]
    with bot_runtime.session_factory() as session:
        assert session.get(Page, 1).status == "acknowledged"

    drain_bot(bot_outbox)
    assert [u.id for u in bot_connector.updates if u.conversation == chat] == [notice.id]  # edited in place
    card = validate_bot_card(notice.card)
    assert "Suzuki" in card_text(card) and page_verbs(card) == ["page_resolve"]

    bot_runtime.flows.resolve_page("P-1", actor=ONCALL["user"])
    drain_bot(bot_outbox)
    assert page_verbs(validate_bot_card(notice.card)) == [] and len(bot_connector.in_conversation(chat)) == 1


def test_only_people_the_bot_can_reach_get_a_teams_page(bot_runtime, clock):
    planner = BotPlanner(bot_runtime.rules)

    def rows(target: str):
        return planner(EventNotice(event_id=9, ticket_id=1, kind="paged", actor="chatops:oncall", at=clock(),
                                   channel="support", assignee=None,
                                   payload={"page_id": 4, "page": "P-4", "target": target}))

    [row] = [r for r in rows(ONCALL["user"]) if r.kind == "page"]
    assert (row.target, row.dedupe_key, row.ordering_key) == ("teams_bot", "teams_bot:page:4:9", "teams_bot-page:4")
    assert not [r for r in rows("U0MANAGER1") if r.kind == "page"]  # not in teams.people
