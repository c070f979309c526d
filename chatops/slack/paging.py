"""The Slack side of SLA notices and pages: which outbox rows an SLA or page event needs
(beyond the thread line and redraw the planner queues for every event), and how they are
delivered (DMs to people, a notice in the team channel)."""

from __future__ import annotations

from typing import Any

from chatops.db import session_scope
from chatops.slack.blocks.pages import page_message, sla_notice
from chatops.slack.cards import load_card, thread_of
from chatops.tickets.events import EventNotice, OutboxRow
from chatops.tickets.models import OutboxItem, TicketEvent

TARGET = "slack"


def _is_person(user_id: str | None) -> bool:
    return bool(user_id) and user_id[:1] in ("U", "W") and user_id.isalnum()


def sla_rows(lane: str, notice: EventNotice) -> list[OutboxRow]:
    """DMs and channel notices of SLA and paging events: a warning goes to the assignee (the
    channel when unassigned), a breach to the level's lead(s), a page to the person paged."""
    event, ticket = notice.event_id, {"ticket_id": notice.ticket_id, "event_id": notice.event_id}
    payload = notice.payload
    if notice.kind == "sla_warning":
        if _is_person(notice.assignee):
            return [_dm(notice.assignee, "sla_dm", event, ticket)]
        return [OutboxRow(TARGET, "sla_channel", f"slack:sla:{event}", lane, ticket)]
    if notice.kind == "sla_breached":
        return [_dm(lead, "sla_dm", event, ticket) for lead in payload.get("notify", []) if _is_person(lead)]
    if notice.kind == "paged" and _is_person(payload.get("target")):
        return [_dm(payload["target"], "page_dm", event, ticket)]
    return []


def _dm(user_id: str, kind: str, event: int, payload: dict) -> OutboxRow:
    return OutboxRow(TARGET, kind, f"slack:{kind}:{user_id}:{event}", f"slack-dm:{user_id}", {**payload, "user": user_id})


class PagingDeliveries:
    """Mixed into SlackDeliverer (session_factory, rules, client, lang)."""

    def _load(self, item: OutboxItem):
        with session_scope(self.session_factory) as session:
            card = load_card(session, item.payload["ticket_id"])
            event = session.get(TicketEvent, item.payload["event_id"])
            return card, dict(event.payload or {}), event.kind, thread_of(session, item.payload["ticket_id"])

    def _sla_dm(self, item: OutboxItem) -> dict[str, Any]:
        card, payload, kind, _ = self._load(item)
        text = sla_notice(kind, card, payload, self.rules, self.lang)
        response = self.client.chat_postMessage(channel=item.payload["user"], text=text,
                                                unfurl_links=False, unfurl_media=False)
        return {"channel": response["channel"], "ts": response["ts"]}

    def _sla_channel(self, item: OutboxItem) -> dict[str, Any]:
        card, payload, kind, _ = self._load(item)
        channel = self.rules.channels[card.channel].slack
        response = self.client.chat_postMessage(channel=channel, text=sla_notice(kind, card, payload, self.rules,
                                                                                 self.lang),
                                                unfurl_links=False, unfurl_media=False)
        return {"channel": response["channel"], "ts": response["ts"]}

    def _page_dm(self, item: OutboxItem) -> dict[str, Any]:
        card, payload, _, _ = self._load(item)
        message = page_message(card, payload, self.rules, self.lang)
        response = self.client.chat_postMessage(channel=item.payload["user"], unfurl_links=False, **message)
        return {"channel": response["channel"], "ts": response["ts"]}
