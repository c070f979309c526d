"""From ticket events to Teams: the planner (an event listener that queues outbox rows) and the
deliverer (the outbox worker's Teams side, which renders a card and posts it).

Webhook posts cannot be edited afterwards, so every event (except internal notes) posts one
card showing what happened and the ticket as it is at delivery, with the buttons that make
sense now. Lanes: everything for one rules.yaml channel shares the lane `teams:<channel>`, so
cards arrive in event order, and the lane rests `post_interval` seconds between posts
(Workflows webhooks take about 4 requests per second). The webhook URL is a secret: errors and
logs name the channel, never the URL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pymsteams
import requests
from sqlalchemy.orm import Session, sessionmaker
from urllib3.exceptions import NewConnectionError

from chatops.db import session_scope, utcnow
from chatops.i18n import t
from chatops.outbox import DeliveryError, retry_after
from chatops.rules import Rules
from chatops.teams import cards
from chatops.teams.links import ActionLinks
from chatops.teams.text import escape, safe_url
from chatops.tickets.events import EventNotice, OutboxRow
from chatops.tickets.flood import (
    DIGEST_GRACE,
    collected_messages,
    digest_period,
    has_open_incident,
    incident_stats,
)
from chatops.tickets.models import Message, OutboxItem, TicketEvent
from chatops.views import TicketView, load_view

log = logging.getLogger("chatops.teams")

TARGET = "teams"
SKIPPED_KINDS = {"note_added"}  # internal notes stay in the ticket, not in a channel post
# Answers after which the same post can succeed later; any other 4xx is a lasting problem
# (a deleted flow, a wrong URL, a card Teams refuses) and the item goes dead with the reason.
RETRYABLE = {408, 409, 425, 429}


def teams_channels(rules: Rules) -> set[str]:
    """The rules.yaml channels that also post to Teams."""
    return {name for name, channel in rules.channels.items() if channel.teams_webhook}


class TeamsPlanner:
    """Event listener: one Teams card per ticket event in a channel with a Teams webhook."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.channels = teams_channels(rules)

    def __call__(self, notice: EventNotice) -> list[OutboxRow]:
        if notice.channel not in self.channels or notice.kind in SKIPPED_KINDS:
            return []
        if notice.kind == "reply_sent" and notice.actor.startswith("chatops"):  # only failures of our own messages
            return []
        kind = self.rules.channels[notice.channel].teams_format
        if notice.kind == "incident_message":  # a flood member: one digest card per period at most
            index, start, end = digest_period(self.rules.flood, notice.at)
            return [OutboxRow(TARGET, "incident_digest", f"teams:digest:{notice.ticket_id}:{index}",
                              f"teams-digest:{notice.ticket_id}",
                              {"ticket_id": notice.ticket_id, "channel": notice.channel, "from": start, "to": end},
                              coalesce=True, not_before=datetime.fromtimestamp(end + DIGEST_GRACE, UTC))]
        return [OutboxRow(TARGET, kind, f"teams:{notice.event_id}", f"teams:{notice.channel}",
                          {"ticket_id": notice.ticket_id, "event_id": notice.event_id,
                           "channel": notice.channel})]


class TeamsDeliverer:
    """Outbox deliverer for target `teams` (kinds `workflows` and `messagecard`)."""

    target = TARGET

    def __init__(self, session_factory: sessionmaker[Session], rules: Rules, *, lang: str,
                 links: ActionLinks | None, post_interval: float = 0.25, timeout: float = 10.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.session_factory = session_factory
        self.rules = rules
        self.lang = lang
        self.links = links
        self.post_interval = post_interval
        self.timeout = timeout
        self.clock = clock
        self.http = requests.Session()

    def pace(self, item: OutboxItem) -> float:
        """Seconds the channel's lane rests after a post."""
        return self.post_interval

    def __call__(self, item: OutboxItem) -> dict[str, Any]:
        channel = item.payload["channel"]
        definition = self.rules.channels.get(channel)
        if definition is None or not definition.teams_webhook:
            raise DeliveryError(f"channel {channel!r} has no teams_webhook in rules.yaml", permanent=True)
        kind = item.kind
        if kind == "incident_digest":
            content = self._digest(item.payload)
            if content is None:
                return {"skipped": "nothing collected"}
            view, line, quote = content
            kind, people, media = definition.teams_format, [], ()
        else:
            content = self._content(item.payload["ticket_id"], item.payload["event_id"])
            if content is None:
                return {"skipped": "collected in the incident digest"}
            view, line, quote, people, media = content
        if item.in_doubt and line:
            # An earlier attempt may have arrived (its answer was lost), and a webhook post cannot
            # be looked up: post again rather than risk a missed ticket, and say it may repeat.
            line = f"{line}\n\n{t('teams.repeat', self.lang)}"
        links = self._links(view)
        if kind == "workflows":
            return self._post_adaptive(channel, definition.teams_webhook, view, line, quote, links,
                                       cards.mentions(people, self.rules), media)
        if kind == "messagecard":  # connector cards cannot mention: the line names the people
            names = [cards.who(person, self.rules, self.lang) for person in people]
            if names:
                line = "\n\n".join(filter(None, [line, t("teams.line.for", self.lang, who=", ".join(names))]))
            return self._post_messagecard(channel, definition.teams_webhook, view, line, quote, links, media)
        raise DeliveryError(f"unknown teams item kind {item.kind!r}", permanent=True)

    # -- content -----------------------------------------------------------------------------

    def _content(self, ticket_id: int, event_id: int
                 ) -> tuple[TicketView, str | None, str | None, list[str], tuple] | None:
        with session_scope(self.session_factory) as session:
            view = load_view(session, ticket_id, rules=self.rules, now=self.clock())
            event = session.get(TicketEvent, event_id)
            if event is None:
                raise DeliveryError(f"event {event_id} of T-{ticket_id} is gone", permanent=True)
            if event.kind == "customer_message" and has_open_incident(session, ticket_id):
                return None  # sent before the flood was recognised: the incident's digests show it
            payload = event.payload or {}
            line = cards.event_line(event.kind, event.actor, payload, self.rules, self.lang)
            if event.kind == "incident_opened":
                line = cards.incident_opened_line(payload, self.rules, self.lang)
            quote = view.text if event.kind == "created" else None
            media = view.attachments if event.kind == "created" else ()  # the customer's photos, GIFs, files
            if payload.get("message_id") and event.kind in ("customer_message", "reopened", "replied", "reply_failed"):
                message = session.get(Message, payload["message_id"])
                quote = message.text if message else None
                media = tuple((message.attachments or ()) if message else ())
            people = cards.notified(event.kind, event.actor, payload)
        # Customer words are shown as typed: Teams markdown in them stays inert.
        return view, line, escape(quote) if quote is not None else None, people, media

    def _digest(self, payload: dict) -> tuple[TicketView, str, str] | None:
        """A flood incident's digest card: the period's messages and the live figures."""
        ticket_id = payload["ticket_id"]
        with session_scope(self.session_factory) as session:
            view = load_view(session, ticket_id, rules=self.rules, now=self.clock())
            count, newest = collected_messages(session, ticket_id, since=datetime.fromtimestamp(payload["from"], UTC),
                                               until=datetime.fromtimestamp(payload["to"], UTC))
            stats = incident_stats(session, ticket_id, self.clock())
        if count == 0 or stats is None:
            return None
        return view, *cards.incident_digest(view, stats, count, newest, self.lang)

    def _links(self, view: TicketView) -> dict[str, str]:
        """The buttons that make sense for the ticket now: signed actions, then the post itself."""
        links: dict[str, str] = {}
        if self.links is not None:
            if view.status == "resolved":
                links["reopen"] = self.links.url(view.id, "reopen")
            else:
                if view.assignee is None:
                    links["claim"] = self.links.url(view.id, "claim")
                links["resolve"] = self.links.url(view.id, "resolve")
        if safe_url(view.url):  # OpenUrl takes web links only
            links["open"] = safe_url(view.url)
        return links

    # -- posting -----------------------------------------------------------------------------

    def _post_adaptive(self, channel: str, url: str, view: TicketView, line: str | None, quote: str | None,
                       links: dict[str, str], mentioned: list[dict[str, Any]], media=()) -> dict[str, Any]:
        try:
            message = cards.fit(lambda budget: cards.workflows_message(cards.ticket_card(
                view, line=line, quote=quote, links=links, rules=self.rules, lang=self.lang, text_budget=budget,
                mentioned=mentioned, attachments=media)))
        except ValueError as exc:  # no retry makes it smaller
            raise DeliveryError(f"teams channel {channel}: {exc}", permanent=True) from None
        # The bytes measured against the limit are the bytes sent.
        body = cards.message_body(message)
        try:
            response = self.http.post(url, data=body, timeout=self.timeout,
                                      headers={"Content-Type": "application/json; charset=utf-8"})
        except requests.RequestException as exc:
            raise _connection_error(channel, exc) from None
        _check(channel, response)
        return {"channel": channel, "status": response.status_code, "bytes": len(body)}

    def _post_messagecard(self, channel: str, url: str, view: TicketView, line: str | None, quote: str | None,
                          links: dict[str, str], media=()) -> dict[str, Any]:
        card = None
        for budget in cards.TEXT_BUDGETS:
            card = cards.connector_card(url, view, line=line, quote=quote, links=links, rules=self.rules,
                                        lang=self.lang, timeout=self.timeout, text_budget=budget, attachments=media)
            # pymsteams posts with requests' json=, so measure that serialization.
            if cards.requests_json_size(card.payload) <= cards.MAX_MESSAGE_BYTES:
                break
        try:
            # pymsteams' sync send() accepts any 2xx (its async send() would reject a 202).
            card.send()
        except pymsteams.TeamsWebhookException:
            _check(channel, card.last_http_response)
        except requests.RequestException as exc:
            raise _connection_error(channel, exc) from None
        return {"channel": channel, "status": card.last_http_response.status_code,
                "bytes": cards.requests_json_size(card.payload)}


def _check(channel: str, response: requests.Response) -> None:
    """Raise the DeliveryError a non-2xx answer means (Workflows answers 202 when accepted)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    reason = f"teams channel {channel}: HTTP {status} {response.text[:200]}".strip()
    if status == 429 or status == 503:  # refused for now: it did not post
        raise DeliveryError(reason, retry_after=retry_after(response.headers.get("Retry-After"), utcnow()), answered=True)
    if status >= 500:  # a gateway error may come after the flow already posted: in doubt
        raise DeliveryError(reason)
    if status in RETRYABLE:
        raise DeliveryError(reason, answered=True)
    raise DeliveryError(reason, permanent=True, answered=True)


def _connection_error(channel: str, exc: requests.RequestException) -> DeliveryError:
    """A failure without an answer: certainly not posted when the connection never opened,
    in doubt when it broke or timed out after the request went out."""
    reason = exc.args[0].reason if exc.args and hasattr(exc.args[0], "reason") else None
    never_sent = isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)
    return DeliveryError(f"teams channel {channel}: {type(exc).__name__}", answered=never_sent)
