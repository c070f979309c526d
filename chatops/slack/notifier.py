"""From ticket events to Slack: the planner (an event listener that queues outbox rows) and the
deliverer (the outbox worker's Slack side, which renders current state and calls the Web API).

Why render at delivery, not when queueing: an update that waited behind a 429 shows the ticket
as it is now, and a burst of changes to one ticket collapses into its last `chat.update`.
Lanes: everything posted into one channel shares the lane `slack:<channel>`, so a thread's lines
never overtake their parent or each other, and the lane rests `post_interval` seconds between
calls (Slack allows about one message per second per channel).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import session_scope, utcnow
from chatops.i18n import t
from chatops.outbox import DeliveryError
from chatops.rules import Rules
from chatops.slack import blocks, customer_lines
from chatops.slack.blocks.common import user
from chatops.slack.cards import (
    marked,
    thread_of,
)
from chatops.slack.home_delivery import HomeDeliveries
from chatops.slack.incident import (
    INCIDENT_KINDS,
    UPDATE_EVERY,
    IncidentDeliveries,
    incident_rows,
    open_incident,
)
from chatops.slack.mentions import UserGroups, resolving, unresolved_alerts
from chatops.slack.paging import PagingDeliveries, sla_rows
from chatops.tickets.delivery import reply_kind
from chatops.tickets.events import EventNotice, OutboxRow
from chatops.tickets.models import Message, OutboxItem, SurfaceThread, Ticket, TicketEvent
from chatops.tickets.record import enqueue
from chatops.views import TicketView, load_view

log = logging.getLogger("chatops.slack")
# Message metadata on our posts, so a retry can find what an earlier attempt already posted.
TICKET_MARK = "chatops_ticket"
LINE_MARK = "chatops_line"
NOTIFY_MARK = "chatops_notify"

TARGET = "slack"
# Events that change what the parent message shows.
_REDRAW = {"claimed", "released", "assigned", "tagged", "priority_changed", "escalated", "replied", "pending",
           "resolved", "reopened", "customer_flagged", "sla_warning", "sla_breached",
           "issue_created", "issue_closed", "issue_reopened",
           "customers_linked", "customers_unlinked", "customer_erased",
           "message_edited", "message_deleted", "comment_moderated"}
# Events that never get a thread line: internal notes, and an issue asked for (its line comes
# once the tracker has answered).
_NO_LINE = {"note_added", "issue_requested", "moderation_requested"}
# Events about an agent's reply: each edits the reply's one thread line to how its delivery stands.
REPLY_LINE_KINDS = {"replied", "reply_sent", "reply_failed", "reply_retried"}
# Slack errors that no retry can fix; the item goes dead with the error recorded.
PERMANENT_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive",
                    "token_revoked", "no_permission", "missing_scope", "msg_too_long", "invalid_blocks",
                    "invalid_attachments", "message_not_found", "cant_update_message", "user_not_found",
                    "not_authed", "invalid_arguments", "channel_is_archived", "restricted_action"}


def is_slack_user(user_id: str | None) -> bool:
    """True for Slack member ids (U…/W…), the only ids that get a Home tab."""
    return bool(user_id) and user_id[:1] in ("U", "W") and user_id.isalnum()


class SlackPlanner:
    """Event listener: which Slack calls a ticket event needs (post, thread line, redraw, Home)."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    def lane(self, channel: str) -> str:
        """The outbox ordering key of a rules.yaml channel."""
        return f"slack:{self.rules.channels[channel].slack}"

    def __call__(self, notice: EventNotice) -> list[OutboxRow]:
        lane, ticket, event = self.lane(notice.channel), {"ticket_id": notice.ticket_id}, notice.event_id
        if notice.kind == "incident_message":  # a flood member: coalesced, never a line of its own
            return incident_rows(self.rules, notice, lane)
        rows: list[OutboxRow] = []
        if notice.kind == "incident_opened":
            # The incident's parent goes before the flood's first tickets queued in its channel
            # (the same post: queued by `created`, marked urgent here while it has not left).
            rows.append(OutboxRow(TARGET, "post_ticket", f"slack:post:{notice.ticket_id}", lane, ticket, urgent=True))
        if notice.kind == "created":  # an incident's parent too: a post keeps the channel's pace
            rows.append(OutboxRow(TARGET, "post_ticket", f"slack:post:{notice.ticket_id}", lane, ticket))
            if notice.payload.get("follows") is not None:  # the link to the customer's earlier ticket
                rows.append(OutboxRow(TARGET, "thread_line", f"slack:line:{event}", lane,
                                      {**ticket, "event_id": event}))
            rows.extend(self._notify_rows(notice, lane))
        elif notice.kind not in _NO_LINE:
            rows.append(OutboxRow(TARGET, "thread_line", f"slack:line:{event}", lane, {**ticket, "event_id": event}))
        if notice.kind in _REDRAW or (notice.kind == "customer_message" and len(notice.payload) > 1) \
                or (notice.kind == "reply_sent" and notice.payload.get("first_response")):  # answered now
            rows.append(OutboxRow(TARGET, "update_ticket", f"slack:update:{event}", lane, ticket))
        if notice.kind in INCIDENT_KINDS:
            rows.extend(incident_rows(self.rules, notice, lane))
        rows.extend(sla_rows(lane, notice))  # SLA warnings/breaches and pages: DMs, channel notice
        if notice.kind == "reply_failed" and is_slack_user(notice.actor):
            # The thread line is edited in place, and Slack notifies no one of a mention added by
            # an edit: the agent hears of their refused reply by DM.
            rows.append(OutboxRow(TARGET, "notify_dm", f"slack:failed_dm:{event}", f"slack-dm:{notice.actor}",
                                  {"ticket_id": notice.ticket_id, "user": notice.actor, "event_id": event}))
        for user_id in self._home_owners(notice):
            rows.append(OutboxRow(TARGET, "publish_home", f"slack:home:{user_id}:{event}", f"slack-home:{user_id}",
                                  {"user": user_id}))
        return rows

    @staticmethod
    def _notify_rows(notice: EventNotice, lane: str) -> list[OutboxRow]:
        """A keyword rule's `notify`: a thread line mentioning them all, a DM to each person."""
        notify = list(dict.fromkeys(((notice.payload.get("triage") or {}).get("notify")) or []))
        if not notify:
            return []
        ticket = {"ticket_id": notice.ticket_id, "notify": notify}
        rows = [OutboxRow(TARGET, "notify_line", f"slack:notify:{notice.ticket_id}", lane, ticket)]
        rows.extend(OutboxRow(TARGET, "notify_dm", f"slack:notify_dm:{notice.ticket_id}:{person}",
                              f"slack-dm:{person}", {"ticket_id": notice.ticket_id, "user": person})
                    for person in notify if is_slack_user(person))
        return rows

    @staticmethod
    def _home_owners(notice: EventNotice) -> set[str]:
        people = {notice.assignee, notice.payload.get("assignee_from"), notice.payload.get("assignee_to")}
        if notice.kind in ("claimed", "released", "reply_failed", "reply_retried") \
                or (notice.kind == "reply_sent" and notice.payload.get("after_failure")):  # Home's failed replies
            people.add(notice.actor)
        return {person for person in people if is_slack_user(person)}


class SlackDeliverer(PagingDeliveries, IncidentDeliveries, HomeDeliveries):
    """Outbox deliverer for target `slack`."""

    target = TARGET

    def __init__(self, session_factory: sessionmaker[Session], rules: Rules, client: WebClient, *,
                 lang: str, post_interval: float = 1.0, clock: Callable[[], datetime] = utcnow,
                 groups: UserGroups | None = None) -> None:
        self.session_factory = session_factory
        self.rules = rules
        self.client = client
        self.groups = groups or UserGroups(client)
        self.lang = lang
        self.post_interval = post_interval
        self.clock = clock
        self.trackers: tuple[str, ...] = ()  # issue trackers the card's menu offers (set by build_outbox)

    def pace(self, item: OutboxItem) -> float:
        """Seconds the item's lane rests after it: channel posts are paced, Home tabs and items
        that made no call are not, an incident's parent updates at most once a second."""
        if item.kind == "publish_home" or (item.result or {}).get("skipped"):
            return 0.0
        return UPDATE_EVERY if item.kind == "update_incident" else self.post_interval

    def __call__(self, item: OutboxItem) -> dict[str, Any]:
        handler = getattr(self, f"_{item.kind}", None)
        if handler is None:
            raise DeliveryError(f"unknown slack item kind {item.kind!r}", permanent=True)
        missing: list[str] = []

        def resolve(handle: str) -> str | None:
            found = self.groups.group_id(handle)
            if found is None:
                missing.append(handle)
            return found

        try:
            with resolving(resolve):
                result = handler(item)
            if missing or result.get("unresolved"):
                self.report_unresolved(item, [*missing, *result.pop("unresolved", [])])
            return result
        except SlackApiError as exc:
            raise _delivery_error(exc) from exc
        except SlackClientError as exc:
            raise DeliveryError(f"slack client error: {exc}") from exc

    # -- kinds -------------------------------------------------------------------------------

    def _post_ticket(self, item: OutboxItem) -> dict[str, Any]:
        ticket_id = item.payload["ticket_id"]
        with session_scope(self.session_factory) as session:
            thread = thread_of(session, ticket_id)
            if thread is not None:  # posted already (a lease expired mid-delivery): never twice
                return {"channel": thread.channel, "ts": thread.ts}
            card = self.view(session, ticket_id)
            message, incident_mark = self.parent_message(session, card)
        channel = self.rules.channels[card.channel].slack
        mark = incident_mark or {"event_type": TICKET_MARK, "event_payload": {"ticket": card.key}}
        look_for = {"event_type": mark["event_type"], "event_payload": {"ticket": card.key}}
        found = self._posted_before(item, card.channel, channel, look_for) if item.in_doubt else None
        if found is None:
            response = self._showing_images(self.client.chat_postMessage, channel=channel, unfurl_links=False,
                                            unfurl_media=False, metadata=mark, **message)
            found = response["channel"], response["ts"]
        with session_scope(self.session_factory) as session:
            session.add(SurfaceThread(ticket_id=ticket_id, surface="slack", channel=found[0], ts=found[1],
                                      posted_at=self.clock()))
        return {"channel": found[0], "ts": found[1]}

    def _update_ticket(self, item: OutboxItem) -> dict[str, Any]:
        ticket_id = item.payload["ticket_id"]
        with session_scope(self.session_factory) as session:
            if self._superseded(session, item, OutboxItem.ticket_id == ticket_id):
                return {"skipped": "a later update is queued"}
            thread = self._thread(session, ticket_id)
            message, mark = self.parent_message(session, self.view(session, ticket_id))
        if mark is not None:  # an incident: every render carries its live count (slack/incident.py)
            message = {**message, "metadata": mark}
        self._showing_images(self.client.chat_update, channel=thread.channel, ts=thread.ts, **message)
        return {"channel": thread.channel, "ts": thread.ts}

    def _thread_line(self, item: OutboxItem) -> dict[str, Any]:
        with session_scope(self.session_factory) as session:
            thread = self._thread(session, item.payload["ticket_id"])
            event = session.get(TicketEvent, item.payload["event_id"])
            if event.kind == "customer_message" and open_incident(session, item.payload["ticket_id"]):
                # Sent before the flood was recognised: the incident's first digest lists it.
                return {"skipped": "collected in the incident digest"}
            if event.kind in REPLY_LINE_KINDS:
                message, where = self._reply_state(session, event)
                text = message and message["text"]
            elif event.kind == "link_suggested":  # carries a Link button per candidate record
                message, where = customer_lines.suggestion_message(session, event, self.lang), None
                text = message["text"]
            else:
                message, where, text = None, None, self._line_text(session, event)
                media = self._line_media(session, event) if text is not None else None
                message = {"blocks": media} if media else None
        if text is None:
            return {"skipped": "no line for this event"}
        if where is not None:
            try:
                self.client.chat_update(channel=where[0], ts=where[1], **message)
                return {"channel": where[0], "ts": where[1], "edited": True}
            except SlackApiError as exc:  # the line was deleted in Slack: say it in a new one
                if (exc.response.data or {}).get("error") not in ("message_not_found", "cant_update_message"):
                    raise
        mark = {"event_type": LINE_MARK, "event_payload": {"event": item.payload["event_id"]}}
        if message is None and event.kind == "issue_failed":  # the refusal comes with a way to try again
            message = blocks.issue_failed_message(text, item.payload["ticket_id"], event.payload or {}, self.lang)
        return self._reply_once(item, thread, mark, text, line_blocks=message["blocks"] if message else None)

    def _reply_state(self, session: Session, event: TicketEvent) -> tuple[dict | None, tuple[str, str] | None]:
        """The agent's reply line as its delivery stands now (text + blocks), and where the line
        its `replied` event posted is (to edit it; None: post a line, e.g. the `replied` one itself
        or when that one never reached Slack). No line for what chatops sent itself."""
        message = session.get(Message, (event.payload or {}).get("message_id"))
        if message is None or message.ticket_id is None or reply_kind(message) != "reply":
            return None, None
        ticket = session.get(Ticket, message.ticket_id)
        mine = [e for e in session.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(("replied", "reply_retried")))
            .order_by(TicketEvent.id)) if (e.payload or {}).get("message_id") == message.id]
        replied = next((e for e in mine if e.kind == "replied"), None)
        where = None
        if event.kind != "replied" and replied is not None:
            posted = session.scalar(select(OutboxItem.result).where(
                OutboxItem.dedupe_key == f"slack:line:{replied.id}", OutboxItem.state == "done"))
            if (posted or {}).get("ts") and posted.get("channel"):
                where = posted["channel"], posted["ts"]
        rendered = blocks.reply_state_message(
            ticket.key, message.id, message.author_id, message.text, message.delivery_state, self.lang,
            reason=message.delivery_error or "", answered=ticket.first_response_at is not None,
            attempt=sum(1 for e in mine if e.kind == "reply_retried"))
        return rendered, where

    def _reply_once(self, item: OutboxItem, thread: SurfaceThread, mark: dict, text: str,
                    line_blocks: list | None = None) -> dict[str, Any]:
        """Post `text` in the ticket's thread with metadata `mark`, unless an attempt in doubt
        already did (then its reply is found by the mark instead of posted twice)."""
        if item.in_doubt:
            replies = self.client.conversations_replies(channel=thread.channel, ts=thread.ts, limit=1000,
                                                        include_all_metadata=True).get("messages", [])
            found = marked(replies, mark)
            if found:
                return {"channel": thread.channel, "ts": found, "found": "posted by an earlier attempt"}
        extra = {"blocks": line_blocks} if line_blocks else {}
        response = self._showing_images(self.client.chat_postMessage, channel=thread.channel, thread_ts=thread.ts,
                                        text=text, unfurl_links=False, unfurl_media=False, metadata=mark, **extra)
        return {"channel": thread.channel, "ts": response["ts"]}

    @staticmethod
    def _showing_images(call, **message):
        """`call(**message)`; when Slack cannot download one of its images (expired or private
        media: invalid_blocks), the same message with the images as links."""
        try:
            return call(**message)
        except SlackApiError as exc:
            if (exc.response.data or {}).get("error") != "invalid_blocks" or not blocks.has_images(message):
                raise
            log.info("slack could not show an image (%s); posting links instead",
                     (exc.response.data or {}).get("errors"))
            return call(**blocks.images_as_links(message))

    def _line_media(self, session: Session, event: TicketEvent) -> list | None:
        """A customer's line with media as blocks: the words, then the images (None: text alone)."""
        if event.kind not in ("customer_message", "reopened") or not event.actor.startswith("customer:"):
            return None
        message = session.get(Message, (event.payload or {}).get("message_id"))
        if message is None:
            return None
        extra = blocks.event_line(event.kind, event.actor, event.payload or {}, self.rules, self.lang)
        return blocks.customer_line_blocks(message.author_handle, message.text, message.url,
                                           message.attachments or (), self.lang, extra=extra)

    def _line_text(self, session: Session, event: TicketEvent) -> str | None:
        payload = event.payload or {}
        if event.kind in ("customer_message", "reopened") and event.actor.startswith("customer:"):
            message = session.get(Message, payload.get("message_id"))
            line = blocks.customer_line(message.author_handle, message.text, message.url, self.lang,
                                        message.attachments or ())
            extra = blocks.event_line(event.kind, event.actor, payload, self.rules, self.lang)
            return f"{extra}\n{line}" if extra else line
        if event.kind == "incident_opened":
            return self.opened_text(payload)
        if event.kind in customer_lines.KINDS:
            return customer_lines.line_text(session, event, self.lang)
        other = payload.get("follows") if event.kind == "created" else (
            payload.get("new_ticket_id") if event.kind == "continued" else None)
        if other is not None:
            thread = thread_of(session, other)
            return blocks.linked_ticket_line(event.kind, other, (thread.channel, thread.ts) if thread else None,
                                             self.lang)
        return blocks.event_line(event.kind, event.actor, payload, self.rules, self.lang)

    def _notify_line(self, item: OutboxItem) -> dict[str, Any]:
        with session_scope(self.session_factory) as session:
            thread = self._thread(session, item.payload["ticket_id"])
        who = " ".join(user(person, self.lang) for person in item.payload["notify"])
        mark = {"event_type": NOTIFY_MARK, "event_payload": {"ticket_id": item.payload["ticket_id"]}}
        return self._reply_once(item, thread, mark, t("slack.line.notify", self.lang, who=who))

    def _notify_dm(self, item: OutboxItem) -> dict[str, Any]:
        with session_scope(self.session_factory) as session:
            card = self.view(session, item.payload["ticket_id"])
            failed = session.get(TicketEvent, item.payload["event_id"]) if item.payload.get("event_id") else None
        channel = self.rules.channels[card.channel].slack
        mark = {"event_type": NOTIFY_MARK, "event_payload": {"ticket_id": item.payload["ticket_id"],
                                                             "user": item.payload["user"]}}
        if failed is not None:  # a refused reply of theirs
            mark["event_payload"]["event"] = failed.id
            text = t("slack.dm.reply_failed", self.lang, key=card.key, channel=channel)
            quote = (failed.payload or {}).get("reason") or ""
        else:
            text = t("slack.dm.notify", self.lang, key=card.key, level=card.level, channel=channel)
            quote = card.text
        try:
            return self._dm_once(item, mark, text=f"{text}\n> {blocks.escape(quote[:300])}",
                                 unfurl_links=False, unfurl_media=False)
        except SlackApiError as exc:  # a placeholder id left in rules.yaml: said in the channel, not dropped
            if (exc.response.data or {}).get("error") in ("user_not_found", "channel_not_found"):
                return {"skipped": "no such Slack user", "unresolved": [item.payload["user"]]}
            raise

    def report_unresolved(self, item: OutboxItem, handles: list[str]) -> None:
        """Queue one channel alert per handle Slack does not know, once for all time (the
        outbox dedupe key), in the team channel of the ticket that named it."""
        with session_scope(self.session_factory) as session:
            ticket = session.get(Ticket, item.ticket_id) if item.ticket_id else None
            channel = ticket.channel if ticket is not None else self.rules.defaults.channel
            rows = unresolved_alerts(handles, self.groups, channel=channel,
                                     lane=f"slack:{self.rules.channels[channel].slack}",
                                     ticket_key=ticket.key if ticket is not None else "-")
            # Coalescing: a handle already alerted (its dedupe key exists) is not queued again.
            enqueue(session, rows, ticket_id=item.ticket_id, at=self.clock())

    def _channel_alert(self, item: OutboxItem) -> dict[str, Any]:
        payload = item.payload
        channel = self.rules.channels[payload["channel"]].slack
        # Parameters come from integrations (account names, remote statuses): inert in mrkdwn.
        params = {name: blocks.escape(str(value)) for name, value in payload.get("params", {}).items()}
        text = t(payload["key"], self.lang, **params)
        response = self.client.chat_postMessage(channel=channel, text=f":warning: {text}")
        return {"channel": response["channel"], "ts": response["ts"]}

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _superseded(session: Session, item: OutboxItem, same) -> bool:
        later = select(OutboxItem.id).where(OutboxItem.kind == item.kind, same, OutboxItem.state == "pending",
                                            OutboxItem.id > item.id)
        return bool(session.scalar(select(exists(later))))

    def _posted_before(self, item: OutboxItem, rules_channel: str, channel: str, mark: dict) -> tuple[str, str] | None:
        """After an attempt that may have gone through (a crash or a timeout once Slack had
        posted), look in the channel for our marked message instead of posting it twice."""
        channel_id = self._channel_id(rules_channel, channel)
        if channel_id is None:
            return None
        oldest = f"{item.created_at.timestamp() - 60:.6f}"
        history = self.client.conversations_history(channel=channel_id, oldest=oldest, limit=1000,
                                                    include_all_metadata=True).get("messages", [])
        found = marked(history, mark)
        return (channel_id, found) if found else None

    def _channel_id(self, rules_channel: str, channel: str) -> str | None:
        """The id of a channel named `#name` in rules.yaml: from an earlier post there, else from
        conversations.list."""
        if not channel.startswith("#"):
            return channel
        with session_scope(self.session_factory) as session:
            known = session.scalar(select(SurfaceThread.channel).join(Ticket, Ticket.id == SurfaceThread.ticket_id)
                                   .where(SurfaceThread.surface == "slack", Ticket.channel == rules_channel).limit(1))
        if known:
            return known
        cursor = None
        while True:
            page = self.client.conversations_list(types="public_channel,private_channel", limit=1000,
                                                  exclude_archived=True, cursor=cursor)
            for conversation in page.get("channels", []):
                if conversation.get("name") == channel[1:]:
                    return conversation["id"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def view(self, session: Session, ticket_id: int) -> TicketView:
        """The ticket as this render shows it, its SLA state at the deliverer's clock."""
        return load_view(session, ticket_id, rules=self.rules, now=self.clock())

    @staticmethod
    def _thread(session: Session, ticket_id: int) -> SurfaceThread:
        thread = thread_of(session, ticket_id)
        if thread is None:  # its parent post has not gone out (or went dead): wait, then give up
            raise DeliveryError(f"T-{ticket_id} has no Slack thread yet", retry_after=5)
        return thread


def _delivery_error(exc: SlackApiError) -> DeliveryError:
    response = exc.response
    error = (response.data or {}).get("error", "") if isinstance(response.data, dict) else ""
    if response.status_code == 429 or error == "ratelimited":
        retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after") or "1"
        return DeliveryError(f"slack rate limited ({error or 429})", retry_after=float(retry_after), answered=True)
    if error in PERMANENT_ERRORS:
        return DeliveryError(f"slack: {error}", permanent=True, answered=True)
    # `ok: false` with an error code is Slack saying it did nothing; a bare 5xx may not be.
    return DeliveryError(f"slack: {error or response.status_code}", answered=bool(error))
