"""The Slack side of flood incidents (炎上): which outbox rows an incident event needs, and how
they are delivered.

A flood brings hundreds of `incident_message` events a second; each asks for the same few
coalescing rows (`OutboxRow.coalesce`: a second insert of a queued dedupe key is dropped), so
a burst collapses into:
- one parent `chat.update` per incident per second (`update_incident`, lane
  `slack-incident:<ticket>`), on the leading edge of each second so the first messages of a
  burst show at once, plus a trailing one at the end of the second that is skipped when a later
  second already has its own: the last messages of a burst are never left out. Each second's
  update is urgent (it goes before trailing ones still waiting for their moment), and once
  delivered it closes the trailing ones queued before it (`retire_earlier_renders`). chat.update is
  Tier 3 (50+ a minute) and does not count against the channel's one post a second, so it
  does not wait behind the channel's posts: a message shows in the live count within about a
  second and a half whatever the rate. The parent's first post is a post like any other and
  takes its turn in the channel; updates before it are skipped (the post renders the count);
- one thread digest line per incident per `flood.digest_every` (`incident_digest`, on the
  channel's lane like every other post there, so it keeps the channel's one post a second):
  the newest few handles and snippets and "+K more".
Every render of the parent carries the metadata `{"event_type": "chatops_incident",
"event_payload": {"ticket": "T-<id>", "count": N}}`, N = inbound messages on the ticket in
that render (the load benchmark reads it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from chatops.db import session_scope
from chatops.rules import Rules
from chatops.slack import blocks
from chatops.slack.blocks.incident import digest_line, incident_message, opened_line
from chatops.slack.cards import thread_of
from chatops.tickets.events import EventNotice, OutboxRow
from chatops.tickets.flood import collected_messages, has_open_incident, incident_stats
from chatops.tickets.models import OutboxItem
from chatops.views import TicketView

TARGET = "slack"
INCIDENT_MARK = "chatops_incident"
INCIDENT_KINDS = {"incident_opened", "incident_message"}
UPDATE_EVERY = 1.0  # seconds between two chat.update of one incident (Tier 3: 50+ a minute)
GRACE = 0.25  # a trailing render waits this long past its second for transactions in flight


def incident_rows(rules: Rules, notice: EventNotice, channel_lane: str) -> list[OutboxRow]:
    """Coalescing rows for an incident event: the leading and trailing parent update of its
    second, and its digest period's line (the opening's digest also covers earlier messages)."""
    ticket_id, at = notice.ticket_id, notice.at.timestamp()
    second = int(at // UPDATE_EVERY)
    lane = f"slack-incident:{ticket_id}"
    payload = {"ticket_id": ticket_id}
    rows = [
        # urgent: the second's update goes before a trailing one still waiting for its moment
        # (which would otherwise hold the lane a quarter second past every second).
        OutboxRow(TARGET, "update_incident", f"slack:incident:{ticket_id}:{second}", lane, payload, coalesce=True,
                  urgent=True),
        OutboxRow(TARGET, "update_incident", f"slack:incident:{ticket_id}:{second}:tail", lane,
                  {**payload, "tail": True}, coalesce=True,
                  not_before=_moment((second + 1) * UPDATE_EVERY + GRACE)),
    ]
    every = rules.flood.digest_every.total_seconds()
    period = int(at // every)
    start = None if notice.kind == "incident_opened" else period * every
    rows.append(OutboxRow(TARGET, "incident_digest", f"slack:digest:{ticket_id}:{period}", channel_lane,
                          {**payload, "from": start, "to": (period + 1) * every}, coalesce=True,
                          not_before=_moment((period + 1) * every + GRACE)))
    return rows


def retire_earlier_renders(session: Session, item: OutboxItem) -> None:
    """Outbox done hook of `update_incident`: the renders still queued before this one in its
    lane (trailing ones, waiting for their moment while each second's update went first) have
    nothing left to show, so they are closed here instead of one claim each after the flood."""
    session.execute(update(OutboxItem).where(
        OutboxItem.ordering_key == item.ordering_key, OutboxItem.kind == "update_incident",
        OutboxItem.state == "pending", OutboxItem.id < item.id,
    ).values(state="done", delivered_at=item.delivered_at, result={"skipped": "a later render showed it"}))


def _moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class IncidentDeliveries:
    """Mixed into SlackDeliverer (session_factory, rules, client, lang, clock, _thread, view)."""

    def parent_message(self, session: Session, card: TicketView) -> tuple[dict[str, Any], dict | None]:
        """The parent's arguments and, for an incident, its metadata mark (None for a ticket)."""
        stats = incident_stats(session, card.id, self.clock())
        if stats is None:
            return blocks.ticket_message(card, self.rules, self.lang, trackers=getattr(self, "trackers", ())), None
        mark = {"event_type": INCIDENT_MARK, "event_payload": {"ticket": card.key, "count": stats.count}}
        return incident_message(card, stats, self.rules, self.lang), mark

    def _update_incident(self, item: OutboxItem) -> dict[str, Any]:
        ticket_id = item.payload["ticket_id"]
        with session_scope(self.session_factory) as session:
            if item.payload.get("tail") and session.scalar(select(exists().where(
                    OutboxItem.ordering_key == item.ordering_key, OutboxItem.id > item.id))):
                return {"skipped": "a later second renders it"}
            thread = thread_of(session, ticket_id)
            if thread is None:  # the parent waits its turn in the channel; when it goes out it
                return {"skipped": "not posted yet; the post shows the live count"}  # renders the count
            message, mark = self.parent_message(session, self.view(session, ticket_id))
        self.client.chat_update(channel=thread.channel, ts=thread.ts, metadata=mark, **message)
        return {"channel": thread.channel, "ts": thread.ts, "count": mark["event_payload"]["count"] if mark else None}

    def _incident_digest(self, item: OutboxItem) -> dict[str, Any]:
        payload = item.payload
        since = _moment(payload["from"]) if payload.get("from") is not None else None
        with session_scope(self.session_factory) as session:
            thread = self._thread(session, payload["ticket_id"])
            count, newest = collected_messages(session, payload["ticket_id"], since=since, until=_moment(payload["to"]))
        if count == 0:
            return {"skipped": "nothing collected"}
        mark = {"event_type": "chatops_line", "event_payload": {"digest": item.dedupe_key}}
        return {**self._reply_once(item, thread, mark, digest_line(count, newest, self.lang)), "count": count}

    def opened_text(self, payload: dict) -> str:
        """The thread line of `incident_opened`."""
        return opened_line(payload, self.rules, self.lang)


open_incident = has_open_incident

__all__ = ["GRACE", "INCIDENT_KINDS", "INCIDENT_MARK", "IncidentDeliveries", "incident_rows", "retire_earlier_renders"]
