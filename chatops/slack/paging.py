"""The Slack side of SLA notices and pages: which outbox rows an SLA or page event needs
(beyond the thread line and redraw the planner queues for every event), and how they are
delivered (DMs to people, a notice in the team channel).

Never twice: each notice carries message metadata naming its event (`chatops_page`,
`chatops_sla`), and an attempt that may have gone through (a kill -9 or a timeout while Slack
was posting: the outbox marks the item `in_doubt`) first looks in the DM or channel for that
mark. A page DM repeated after a restart would wake the on-call person twice for one step.
"""

from __future__ import annotations

from typing import Any

from chatops.db import session_scope
from chatops.slack.blocks.pages import page_message, sla_notice
from chatops.slack.cards import marked, thread_of
from chatops.tickets.events import EventNotice, OutboxRow
from chatops.tickets.models import OutboxItem, TicketEvent

TARGET = "slack"
PAGE_MARK = "chatops_page"
SLA_MARK = "chatops_sla"


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
    """Mixed into SlackDeliverer (session_factory, rules, client, lang, view)."""

    def _load(self, item: OutboxItem):
        with session_scope(self.session_factory) as session:
            card = self.view(session, item.payload["ticket_id"])
            event = session.get(TicketEvent, item.payload["event_id"])
            return card, dict(event.payload or {}), event.kind, thread_of(session, item.payload["ticket_id"])

    def _sla_dm(self, item: OutboxItem) -> dict[str, Any]:
        card, payload, kind, _ = self._load(item)
        return self._dm_once(item, _mark(SLA_MARK, item), text=sla_notice(kind, card, payload, self.rules, self.lang),
                             unfurl_links=False, unfurl_media=False)

    def _sla_channel(self, item: OutboxItem) -> dict[str, Any]:
        card, payload, kind, _ = self._load(item)
        channel = self.rules.channels[card.channel].slack
        mark = _mark(SLA_MARK, item)
        found = self._posted_before(item, card.channel, channel, mark) if item.in_doubt else None
        if found is not None:
            return {"channel": found[0], "ts": found[1], "found": "posted by an earlier attempt"}
        response = self.client.chat_postMessage(channel=channel, text=sla_notice(kind, card, payload, self.rules,
                                                                                 self.lang),
                                                unfurl_links=False, unfurl_media=False, metadata=mark)
        return {"channel": response["channel"], "ts": response["ts"]}

    def _page_dm(self, item: OutboxItem) -> dict[str, Any]:
        card, payload, _, _ = self._load(item)
        return self._dm_once(item, _mark(PAGE_MARK, item), unfurl_links=False,
                             **page_message(card, payload, self.rules, self.lang))

    def _dm_once(self, item: OutboxItem, mark: dict, **message) -> dict[str, Any]:
        """DM the item's person with metadata `mark`, unless an attempt in doubt already did."""
        found = self._dm_posted_before(item, mark) if item.in_doubt else None
        if found is not None:
            return found
        response = self.client.chat_postMessage(channel=item.payload["user"], metadata=mark, **message)
        return {"channel": response["channel"], "ts": response["ts"]}

    def _dm_posted_before(self, item: OutboxItem, mark: dict) -> dict[str, Any] | None:
        """After an attempt that may have gone through, our marked DM if Slack shows it."""
        channel = self.client.conversations_open(users=item.payload["user"])["channel"]["id"]
        oldest = f"{item.created_at.timestamp() - 60:.6f}"
        history = self.client.conversations_history(channel=channel, oldest=oldest, limit=1000,
                                                    include_all_metadata=True).get("messages", [])
        found = marked(history, mark)
        return {"channel": channel, "ts": found, "found": "posted by an earlier attempt"} if found else None


def _mark(event_type: str, item: OutboxItem) -> dict:
    """The metadata naming this notice: its event, and for a DM the person it went to."""
    payload = {"event": item.payload["event_id"]}
    if "user" in item.payload:
        payload["user"] = item.payload["user"]
    return {"event_type": event_type, "event_payload": payload}
