"""Events: agents' messages in a ticket thread become internal notes; opening the Home tab
refreshes it. Slack's retries of one event (`X-Slack-Retry-Num`) are recognised by
`team_id` + `event_id` and change nothing."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltResponse

from chatops.errors import DomainError
from chatops.slack.surface import SlackSurface
from chatops.tickets.queries import ticket_id_of_thread

log = logging.getLogger("chatops.slack")

# Message subtypes that are not a person writing (edits, joins, bots, thread broadcasts' echoes).
_IGNORED_SUBTYPES = {"message_changed", "message_deleted", "bot_message", "channel_join", "channel_leave",
                     "thread_broadcast", "message_replied", "channel_topic", "channel_purpose"}


def register(app: App, surface: SlackSurface) -> None:
    """Attach the event listeners and the event de-duplication middleware."""

    @app.middleware
    def once_per_event(body, next):  # noqa: A002 — Bolt passes `next` by this name
        event_id, team = body.get("event_id"), body.get("team_id") or ""
        if body.get("type") != "event_callback" or not event_id:
            return next()
        if not surface.desk().remember_delivery(scope="slack:event", key=f"{team}:{event_id}"):
            log.info("slack event %s:%s seen before (retry %s); ignored", team, event_id, body.get("retry_attempt"))
            return BoltResponse(status=200, body="")
        return next()

    @app.event("message")
    def thread_message(event):
        if event.get("subtype") in _IGNORED_SUBTYPES or event.get("bot_id") or not event.get("user"):
            return
        thread_ts, ts, channel = event.get("thread_ts"), event.get("ts"), event.get("channel")
        if not thread_ts or thread_ts == ts:
            return  # only replies inside a ticket's thread are notes
        ticket_id = surface.desk().read(ticket_id_of_thread, surface="slack", channel=channel, ts=thread_ts)
        if ticket_id is None or not (event.get("text") or "").strip():
            return
        try:
            surface.flows.add_note(f"T-{ticket_id}", actor=event["user"], text=event["text"],
                                   external_id=f"slack:{channel}:{ts}")
        except DomainError as exc:
            log.warning("note on T-%s not stored: %s", ticket_id, exc)

    @app.event("app_home_opened")
    def home_opened(event, body):
        if event.get("tab", "home") != "home":
            return
        user_id = event["user"]
        now = surface.clock()
        surface.desk().queue(target="slack", kind="publish_home",
                             dedupe_key=f"slack:home:{user_id}:opened:{body.get('event_id') or now.isoformat()}",
                             ordering_key=f"slack-home:{user_id}", payload={"user": user_id})
        surface.changed()
