"""From ticket events to the Teams bot: the planner (an event listener queueing `teams_bot`
outbox rows) and the deliverer (renders at delivery, calls the Bot Connector).

The rhythm is Slack's: a ticket's first event posts its card as a new thread in the channel's
`teams_channel`; every later change updates that card in place and adds its one-line change log
(or the customer's words) as a reply in the thread. A page notifies a rules.yaml person with an
AAD id in their chat with the bot, and the page card there is updated when the page is
acknowledged or resolved. Lanes: `teams_bot:<channel id>` per Teams channel, so a thread's lines
never overtake its card, and `teams_bot-page:<page>` per page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import session_scope, utcnow
from chatops.i18n import t
from chatops.oncall.models import Page
from chatops.outbox import DeliveryError
from chatops.rules import Rules
from chatops.teams import cards as webhook_cards
from chatops.teams.bot import cards, store
from chatops.teams.bot.connector import Connector
from chatops.teams.text import escape
from chatops.tickets.events import EventNotice, OutboxRow
from chatops.tickets.flood import (
    DIGEST_GRACE,
    collected_messages,
    digest_period,
    has_open_incident,
    incident_stats,
)
from chatops.tickets.models import BotConversation, BotThread, Message, OutboxItem, TicketEvent
from chatops.views import TicketView, load_view

log = logging.getLogger("chatops.teams.bot")

TARGET = "teams_bot"
# No line and no redraw: internal notes stay in the ticket; a flood's members go to its digests.
SKIPPED_KINDS = {"note_added", "incident_message"}
PAGE_SETTLED = {"page_acknowledged", "page_resolved"}


class BotPlanner:
    """Event listener: the bot's card thread per ticket, and page notices to people."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.channels = {name: channel.teams_channel for name, channel in rules.channels.items()
                         if channel.teams_channel}

    def __call__(self, notice: EventNotice) -> list[OutboxRow]:
        rows: list[OutboxRow] = []
        ticket, event = {"ticket_id": notice.ticket_id}, notice.event_id
        channel = self.channels.get(notice.channel)
        if channel is not None and notice.kind == "incident_message":  # a flood member: one digest per period
            index, start, end = digest_period(self.rules.flood, notice.at)
            rows.append(OutboxRow(TARGET, "digest", f"{TARGET}:digest:{notice.ticket_id}:{index}",
                                  f"{TARGET}:{channel}", {**ticket, "from": start, "to": end}, coalesce=True,
                                  not_before=datetime.fromtimestamp(end + DIGEST_GRACE, UTC)))
        elif channel is not None and notice.kind not in SKIPPED_KINDS:
            lane = f"{TARGET}:{channel}"
            if notice.kind == "created":
                rows.append(OutboxRow(TARGET, "card", f"{TARGET}:post:{notice.ticket_id}", lane, ticket))
                if notice.payload.get("follows") is not None:
                    rows.append(OutboxRow(TARGET, "line", f"{TARGET}:line:{event}", lane,
                                          {**ticket, "event_id": event}))
            else:
                if not (notice.kind == "reply_sent" and notice.actor.startswith("chatops")):
                    rows.append(OutboxRow(TARGET, "line", f"{TARGET}:line:{event}", lane,
                                          {**ticket, "event_id": event}))
                rows.append(OutboxRow(TARGET, "card_update", f"{TARGET}:update:{event}", lane, ticket))
        if notice.kind == "paged":
            person = self._person(notice.payload.get("target"))
            if person is not None:
                page_id = notice.payload["page_id"]
                rows.append(OutboxRow(TARGET, "page", f"{TARGET}:page:{page_id}:{event}", f"{TARGET}-page:{page_id}",
                                      {**ticket, "event_id": event, "page_id": page_id, "user": person.user}))
        elif notice.kind in PAGE_SETTLED and notice.payload.get("page_id") is not None:
            page_id = notice.payload["page_id"]
            rows.append(OutboxRow(TARGET, "page_update", f"{TARGET}:page_update:{event}", f"{TARGET}-page:{page_id}",
                                  {**ticket, "page_id": page_id}))
        return rows

    def _person(self, user: str | None):
        """The rules.yaml Teams person a page target is, when the bot can reach them (an AAD id)."""
        return next((p for p in self.rules.teams.people if user and p.user == user and p.aad), None)


class BotDeliverer:
    """Outbox deliverer for target `teams_bot`."""

    target = TARGET

    def __init__(self, session_factory: sessionmaker[Session], rules: Rules, connector: Connector, *,
                 lang: str, may: Callable[[str, str], bool], tenant_id: str | None = None,
                 clock: Callable[[], datetime] = utcnow, post_interval: float = 0.0) -> None:
        self.session_factory = session_factory
        self.rules = rules
        self.connector = connector
        self.lang = lang
        self.may = may
        self.tenant_id = tenant_id
        self.clock = clock
        self.post_interval = post_interval

    def pace(self, item: OutboxItem) -> float:
        """Seconds the item's lane rests after it (the connector throttles bursts per conversation)."""
        return 0.0 if (item.result or {}).get("skipped") else self.post_interval

    def __call__(self, item: OutboxItem) -> dict[str, Any]:
        handler = getattr(self, f"_{item.kind}", None)
        if handler is None:
            raise DeliveryError(f"unknown teams_bot item kind {item.kind!r}", permanent=True)
        return handler(item)

    # -- ticket threads ----------------------------------------------------------------------

    def _card(self, item: OutboxItem) -> dict[str, Any]:
        ticket_id = item.payload["ticket_id"]
        with session_scope(self.session_factory) as session:
            thread = store.thread_of(session, ticket_id)
            if thread is not None:  # posted already (a lease expired mid-delivery): never twice
                return {"conversation": thread.conversation_id, "activity": thread.activity_id}
            view = self.view(session, ticket_id)
            channel = self.rules.channels[view.channel].teams_channel
            if channel is None:
                raise DeliveryError(f"channel {view.channel!r} has no teams_channel in rules.yaml", permanent=True)
            reference = store.channel_reference(session, channel)
            if reference is None:
                raise DeliveryError(f"teams channel {view.channel}: the bot has no conversation reference yet "
                                    f"(add the app to the team of {channel})", retry_after=60)
            service_url, tenant = reference.service_url, reference.tenant_id or self.tenant_id
            card = self.ticket_card(session, view)
        conversation, activity_id = self.connector.create_channel_thread(
            service_url, channel, cards.card_activity(card, summary=f"{view.key} {view.subject}"[:200]),
            tenant_id=tenant)
        with session_scope(self.session_factory) as session:
            session.add(BotThread(ticket_id=ticket_id, conversation_id=conversation, activity_id=activity_id,
                                  service_url=service_url, posted_at=self.clock()))
        return {"conversation": conversation, "activity": activity_id}

    def _card_update(self, item: OutboxItem) -> dict[str, Any]:
        ticket_id = item.payload["ticket_id"]
        with session_scope(self.session_factory) as session:
            if self._superseded(session, item):
                return {"skipped": "a later update is queued"}
            thread = self._thread(session, ticket_id)
            card = self.ticket_card(session, self.view(session, ticket_id))
            where = thread.service_url, thread.conversation_id, thread.activity_id
        self.connector.update(*where, cards.card_activity(card))
        return {"conversation": where[1], "activity": where[2]}

    def _line(self, item: OutboxItem) -> dict[str, Any]:
        with session_scope(self.session_factory) as session:
            thread = self._thread(session, item.payload["ticket_id"])
            event = session.get(TicketEvent, item.payload["event_id"])
            if event is None:
                raise DeliveryError(f"event {item.payload['event_id']} is gone", permanent=True)
            if event.kind == "customer_message" and has_open_incident(session, item.payload["ticket_id"]):
                return {"skipped": "collected in the incident digest"}  # sent before the flood was seen
            text = self.line_text(session, event)
            where = thread.service_url, thread.conversation_id, thread.activity_id
        activity_id = self.connector.reply(*where, cards.text_activity(text))
        return {"conversation": where[1], "activity": activity_id}

    def _digest(self, item: OutboxItem) -> dict[str, Any]:
        """A flood incident's digest as a thread reply: the period's messages and the live figures."""
        payload, ticket_id = item.payload, item.payload["ticket_id"]
        with session_scope(self.session_factory) as session:
            thread = self._thread(session, ticket_id)
            view = self.view(session, ticket_id)
            count, newest = collected_messages(session, ticket_id, since=datetime.fromtimestamp(payload["from"], UTC),
                                               until=datetime.fromtimestamp(payload["to"], UTC))
            stats = incident_stats(session, ticket_id, self.clock())
            where = thread.service_url, thread.conversation_id, thread.activity_id
        if count == 0 or stats is None:
            return {"skipped": "nothing collected"}
        line, quote = webhook_cards.incident_digest(view, stats, count, newest, self.lang)
        activity_id = self.connector.reply(*where, cards.text_activity(f"{line}\n\n{quote}"))
        return {"conversation": where[1], "activity": activity_id, "messages": count}

    def line_text(self, session: Session, event: TicketEvent) -> str:
        """The thread reply for an event: the customer's words, else the one-line change log."""
        payload = event.payload or {}
        line = webhook_cards.event_line(event.kind, event.actor, payload, self.rules, self.lang)
        if event.kind in ("customer_message", "reopened") and event.actor.startswith("customer:"):
            message = session.get(Message, payload.get("message_id"))
            if message is not None:
                said = cards_text(message.text)
                who = escape(message.author_handle or message.author_name or webhook_cards.who(event.actor, self.rules,
                                                                                                self.lang))
                return f"{line}\n\n{self._t('teamsbot.line.customer', who=who, text=said)}"
        if event.kind == "incident_opened":
            return webhook_cards.incident_opened_line(payload, self.rules, self.lang)
        return line

    # -- answers to people ------------------------------------------------------------------

    def _answer(self, item: OutboxItem) -> dict[str, Any]:
        """The bot's answer to a message: in the same conversation, in its thread in a channel."""
        payload = item.payload
        activity = cards.text_activity(payload["text"])
        if payload.get("reply_to"):
            activity_id = self.connector.reply(payload["service_url"], payload["conversation"], payload["reply_to"],
                                               activity)
        else:
            activity_id = self.connector.send(payload["service_url"], payload["conversation"], activity)
        return {"conversation": payload["conversation"], "activity": activity_id}

    # -- pages -------------------------------------------------------------------------------

    def _page(self, item: OutboxItem) -> dict[str, Any]:
        person = next((p for p in self.rules.teams.people if p.user == item.payload["user"] and p.aad), None)
        if person is None:
            raise DeliveryError(f"{item.payload['user']} has no Teams aad in rules.yaml teams.people", permanent=True)
        with session_scope(self.session_factory) as session:
            card = self.page_card(session, item.payload["page_id"])
            chat = store.personal_reference(session, person.aad)
            if chat is not None:
                service_url, conversation = chat.service_url, chat.id
            else:
                reference = store.any_reference(session)
                if reference is None:
                    raise DeliveryError("the Teams bot has no conversation reference yet (install the app in a team "
                                        "or a personal chat first)", retry_after=60)
                service_url, tenant = reference.service_url, reference.tenant_id or self.tenant_id
                conversation = None
        if conversation is None:
            conversation = self.connector.create_personal(service_url, person.aad, tenant_id=tenant)
            with session_scope(self.session_factory) as session:
                session.merge(BotConversation(id=conversation, kind="personal", service_url=service_url,
                                              tenant_id=tenant, user_aad=person.aad.lower(), updated_at=self.clock()))
        activity_id = self.connector.send(service_url, conversation, cards.card_activity(card))
        return {"service_url": service_url, "conversation": conversation, "activity": activity_id}

    def _page_update(self, item: OutboxItem) -> dict[str, Any]:
        page_id = item.payload["page_id"]
        with session_scope(self.session_factory) as session:
            posted = [row.result for row in session.scalars(select(OutboxItem).where(
                OutboxItem.dedupe_key.like(f"{TARGET}:page:{page_id}:%"), OutboxItem.state == "done")
                .order_by(OutboxItem.id)) if (row.result or {}).get("activity")]
            card = self.page_card(session, page_id)
        for result in posted:
            self.connector.update(result["service_url"], result["conversation"], result["activity"],
                                  cards.card_activity(card))
        return {"updated": len(posted)}

    # -- rendering ---------------------------------------------------------------------------

    def view(self, session: Session, ticket_id: int) -> TicketView:
        """The ticket as this render shows it, its SLA state at the deliverer's clock."""
        return load_view(session, ticket_id, rules=self.rules, now=self.clock())

    def ticket_card(self, session: Session, view: TicketView, viewer: Any = cards.EVERYONE) -> dict[str, Any]:
        """The ticket's card, for everyone in the channel or for one viewer."""
        return cards.ticket_card(view, rules=self.rules, lang=self.lang, viewer=viewer, may=self.may,
                                 refresh_ids=store.refresh_ids(session, self.rules))

    def page_card(self, session: Session, page_id: int) -> dict[str, Any]:
        """A page's card as it stands now."""
        page = session.get(Page, page_id)
        if page is None:
            raise DeliveryError(f"page P-{page_id} is gone", permanent=True)
        view = self.view(session, page.ticket_id)
        return cards.page_card(view, page=page.key, status=page.status, summary=view.subject,
                               acknowledged_by=page.acknowledged_by, rules=self.rules, lang=self.lang)

    def _t(self, key: str, **params: Any) -> str:
        return t(key, self.lang, **params)

    @staticmethod
    def _superseded(session: Session, item: OutboxItem) -> bool:
        later = select(OutboxItem.id).where(OutboxItem.kind == item.kind, OutboxItem.ticket_id == item.ticket_id,
                                            OutboxItem.target == TARGET, OutboxItem.state == "pending",
                                            OutboxItem.id > item.id)
        return bool(session.scalar(select(exists(later))))

    @staticmethod
    def _thread(session: Session, ticket_id: int) -> BotThread:
        thread = store.thread_of(session, ticket_id)
        if thread is None:  # its card has not gone out (or went dead): wait, then give up
            raise DeliveryError(f"T-{ticket_id} has no Teams bot thread yet", retry_after=5)
        return thread


def cards_text(text: str | None, budget: int = 1000) -> str:
    """A customer's words for a thread reply: inert markdown, clipped."""
    text = escape(text or "")
    return text if len(text) <= budget else text[: budget - 1] + "…"
