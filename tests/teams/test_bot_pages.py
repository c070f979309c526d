"""Pages through the Teams bot: the on-call person (a rules.yaml Teams person with an AAD id)
gets the page card in their personal chat with the bot; Acknowledge there stops the escalation,
and the card is updated in place after acknowledge and resolve."""

from __future__ import annotations

from sqlalchemy import select

from chatops.oncall.models import Page
from chatops.teams import cards as webhook_cards
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


def test_an_sla_warning_reaches_the_assignee_and_a_breach_the_leads_in_their_chat(
        bot_runtime, bot_client, bot_outbox, identity, bot_connector, clock, rules):
    """As Slack DMs them: the assignee before the deadline, the level's leads when it passes."""
    post(bot_client, identity, install(bot_connector, channel_of("support")))
    key = bot_runtime.flows.ingest(inbound("二重請求されています")).ticket_key  # L3, whose lead is a Teams person
    bot_runtime.flows.claim(key, actor="U0AGENT001")
    clock.advance(minutes=50)  # 80 % of the hour to the first response: the warning
    bot_runtime.flows.sla_pass()
    clock.advance(minutes=15)  # past it: the breach
    bot_runtime.flows.sla_pass()
    drain_bot(bot_outbox)
    with bot_runtime.session_factory() as session:
        warning, breach = session.scalars(select(TicketEvent).where(
            TicketEvent.kind.in_(("sla_warning", "sla_breached"))).order_by(TicketEvent.id)).all()
    chats = {opened["member"]: chat for chat, opened in bot_connector.personal_chats().items()}
    [told] = bot_connector.in_conversation(chats["aad-agent-1"])  # the assignee: the warning only
    assert f"**{key}**" in told.activity["text"]
    assert told.activity["text"].startswith(webhook_cards.event_line(
        "sla_warning", warning.actor, warning.payload, bot_runtime.rules, bot_runtime.rules.defaults.language))
    leads = [person for person in breach.payload["notify"]
             if any(p.user == person and p.aad for p in bot_runtime.rules.teams.people)]
    assert leads  # the level's lead is a Teams person here
    for lead in leads:
        aad = next(p.aad for p in bot_runtime.rules.teams.people if p.user == lead)
        [breached] = bot_connector.in_conversation(chats[aad])
        assert f"**{key}**" in breached.activity["text"]
    assert warning.payload["assignee"] == "U0AGENT001"
