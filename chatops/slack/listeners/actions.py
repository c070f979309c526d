"""Buttons and menus on a ticket's parent message, the Home tab and inside modals."""

from __future__ import annotations

from slack_bolt import App

from chatops.errors import InvalidTransition
from chatops.i18n import t
from chatops.rules.suggest import suggestions_for
from chatops.slack import blocks, ids
from chatops.slack.blocks.modals import parse_reply_metadata
from chatops.slack.collision import recent_replies
from chatops.slack.listeners.commands import show_modal
from chatops.slack.listeners.common import action_value, customer_of, guarded, tell
from chatops.slack.listeners.issues import open_form
from chatops.slack.listeners.moderation import open_form as moderation_form
from chatops.slack.surface import SlackSurface
from chatops.tickets.limits import reply_limit, reply_warning
from chatops.tickets.queries import TicketBrief, failed_reply_text, ticket_brief


def register(app: App, surface: SlackSurface) -> None:
    """Attach the action listeners."""
    flows = surface.flows

    def simple(action_id: str, action: str, run) -> None:
        @app.action(action_id)
        def handler(ack, body, respond):
            ack()
            key, actor = action_value(body), body["user"]["id"]
            guarded(surface, body, respond, action, lambda: run(key, actor))

    simple(ids.CLAIM, "claim", lambda key, actor: flows.claim(key, actor=actor))
    simple(ids.RELEASE, "release", lambda key, actor: flows.release(key, actor=actor))
    simple(ids.REOPEN, "reopen", lambda key, actor: flows.reopen(key, actor=actor))

    def modal(action_id: str, action: str, build) -> None:
        """A button that opens a modal for its ticket, once the clicker may do `action` there."""
        @app.action(action_id)
        def handler(ack, body, respond, client):
            ack()
            key = action_value(body)
            view = guarded(surface, body, respond, action, lambda: build(key))
            if view:
                client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(ids.REPLY)
    def reply(ack, body, respond, client):
        ack()
        key, actor = action_value(body), body["user"]["id"]
        view = guarded(surface, body, respond, "reply", lambda: _reply_view(surface, key, actor))
        if view:
            client.views_open(trigger_id=body["trigger_id"], view=view)

    modal(ids.ESCALATE, "escalate", lambda key: _open_ticket_view(
        surface, key, "escalate",
        lambda ticket: blocks.escalate_modal(ticket.key, surface.rules, surface.lang, current_level=ticket.level)))
    modal(ids.RESOLVE, "resolve", lambda key: _open_ticket_view(
        surface, key, "resolve", lambda ticket: blocks.resolve_modal(ticket.key, surface.lang)))
    modal(ids.OPEN_TICKET, "claim", lambda key: _ticket_modal(surface, key))

    @app.action(ids.REPLY_EDIT)
    def edit_failed(ack, body, respond, client):  # value "<key>:<message id>": the Reply modal holding its text
        ack()
        value, actor = action_value(body), body["user"]["id"]
        view = guarded(surface, body, respond, "reply", lambda: _edit_failed_view(surface, value, actor))
        if view:
            client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(ids.REPLY_RETRY)
    def retry(ack, body, respond):
        ack()
        key, _, message_id = action_value(body).partition(":")
        guarded(surface, body, respond, "reply", lambda: flows.retry_reply(
            key, actor=body["user"]["id"], message_id=int(message_id) if message_id.isdigit() else 0))

    @app.action(ids.MENU)
    def menu(ack, body, respond, client):
        ack()
        what, argument, key = action_value(body).split(":", 2)
        actor = body["user"]["id"]
        if what == "priority":
            guarded(surface, body, respond, "priority", lambda: flows.set_priority(key, actor=actor, priority=argument))
        elif what == "pending":
            guarded(surface, body, respond, "pending", lambda: flows.set_pending(key, actor=actor))
        elif what == "tags":
            view = guarded(surface, body, respond, "tag", lambda: _any_ticket_view(
                surface, key, lambda ticket: blocks.tags_modal(ticket.key, surface.lang, tags=ticket.tags)))
            if view:
                client.views_open(trigger_id=body["trigger_id"], view=view)
        elif what == "customer":
            view = guarded(surface, body, respond, "claim", lambda: _customer_view(surface, key))
            if view:
                client.views_open(trigger_id=body["trigger_id"], view=view)
        elif what == "issue":
            view = guarded(surface, body, respond, "issue", lambda: open_form(surface, key, actor))
            if view:
                client.views_open(trigger_id=body["trigger_id"], view=view)
        elif what == "moderate":
            view = guarded(surface, body, respond, "moderate", lambda: moderation_form(surface, key))
            if view:
                client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(ids.CANNED_SELECT)
    def canned(ack, body, client):
        ack()
        view = body["view"]
        chosen = action_value(body)
        reply_text = next((r.text.get(surface.lang) for r in surface.rules.canned_replies if r.id == chosen), None)
        if reply_text is None:
            return
        version = _text_version(view) + 1
        key, _ = parse_reply_metadata(view["private_metadata"])
        # A refill shows the replies as they are now, so the guard counts from now.
        refreshed = _reply_modal(surface, surface.desk().read(ticket_brief, key=key), body["user"]["id"],
                                 text=reply_text, version=version)
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=refreshed)


def _text_version(view: dict) -> int:
    for block in view.get("blocks", []):
        block_id = block.get("block_id", "")
        if block_id.startswith(f"{ids.TEXT_BLOCK}."):
            return int(block_id.rsplit(".", 1)[1])
    return 0


def _open_ticket_view(surface: SlackSurface, key: str, verb: str, build) -> dict:
    """Build a modal for a ticket that is not resolved (InvalidTransition naming `verb` otherwise)."""
    ticket = surface.desk().read(ticket_brief, key=key)
    if ticket.status == "resolved":
        raise InvalidTransition(key=ticket.key, status=t(f"status.{ticket.status}", surface.lang),
                                action=t(f"action.{verb}", surface.lang))
    return build(ticket)


def _any_ticket_view(surface: SlackSurface, key: str, build) -> dict:
    return build(surface.desk().read(ticket_brief, key=key))


def _reply_modal(surface: SlackSurface, ticket: TicketBrief, actor: str, *, text: str | None = None,
                 version: int = 0) -> dict:
    """The Reply modal with other agents' recent replies and the moment it opened (runtime clock)."""
    recent = surface.desk().read(recent_replies, ticket.id, actor=actor, now=surface.clock())
    return blocks.reply_modal(ticket.key, surface.rules, surface.lang, network=ticket.source,
                              account=ticket.account, limit=reply_limit(ticket.source, ticket.answers_kind),
                              recent=recent, text=text, version=version,
                              suggestions=suggestions_for(surface.rules, ticket),
                              warning=reply_warning(ticket.source, ticket.answers_kind))


def _reply_view(surface: SlackSurface, key: str, actor: str | None = None, text: str | None = None) -> dict:
    """The Reply modal of a ticket that is not resolved."""
    return _open_ticket_view(surface, key, "reply", lambda ticket: _reply_modal(surface, ticket, actor or "",
                                                                                 text=text))


def _edit_failed_view(surface: SlackSurface, value: str, actor: str) -> dict:
    """The Reply modal (as the Reply button opens it) prefilled with a failed reply's text."""
    key, _, message_id = value.partition(":")
    text = surface.desk().read(failed_reply_text, key=key, message_id=int(message_id) if message_id.isdigit() else 0)
    return _reply_view(surface, key, actor, text=text)


def _ticket_modal(surface: SlackSurface, key: str) -> dict:
    """The ticket modal, as `/ticket show` answers it."""
    return show_modal(surface, key)


def _customer_view(surface: SlackSurface, key: str) -> dict:
    return blocks.customer_modal(surface.desk().read(customer_of, key=key), surface.rules, surface.lang)


__all__ = ["register", "tell"]
