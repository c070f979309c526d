"""Modal submissions: reply, escalate, resolve, tags. The flow runs before the ack, so a refusal
shows inside the modal next to the field it is about."""

from __future__ import annotations

from slack_bolt import App

from chatops.errors import DomainError
from chatops.rules.suggest import suggestions_for
from chatops.slack import blocks, ids
from chatops.slack.blocks.modals import parse_reply_metadata
from chatops.slack.collision import replies_since
from chatops.slack.surface import SlackSurface
from chatops.tickets.flows import normalize_tag
from chatops.tickets.limits import check_reply_length, reply_limit, reply_warning
from chatops.tickets.queries import ticket_brief


def _value(view: dict, block_prefix: str, action_id: str):
    for block_id, actions in view["state"]["values"].items():
        if block_id == block_prefix or block_id.startswith(f"{block_prefix}."):
            element = actions.get(action_id, {})
            if "selected_option" in element:
                return (element["selected_option"] or {}).get("value")
            if "selected_user" in element:
                return element["selected_user"]
            return element.get("value")
    return None


def _text_block(view: dict) -> str:
    return next((block_id for block_id in view["state"]["values"] if block_id.startswith(f"{ids.TEXT_BLOCK}.")),
                f"{ids.TEXT_BLOCK}.0")


def _text_version(view: dict) -> int:
    suffix = _text_block(view).rsplit(".", 1)[1]
    return int(suffix) if suffix.isdigit() else 0


def register(app: App, surface: SlackSurface) -> None:
    """Attach the view submission listeners."""
    flows = surface.flows

    def submit(callback_id: str, action: str, error_block, run) -> None:
        @app.view(callback_id)
        def handler(ack, body, view):
            actor, key = body["user"]["id"], parse_reply_metadata(view["private_metadata"])[0]
            block = error_block(view)
            if not surface.may(actor, action):
                ack(response_action="errors", errors={block: surface.refusal(action)})
                return
            try:
                again = run(view, key, actor)
            except DomainError as exc:
                ack(response_action="errors", errors={block: surface.error_text(exc)[:150]})
                return
            if again is not None:  # the person must look again first (the collision guard)
                ack(response_action="update", view=again)
                return
            ack()
            surface.changed()

    def reply(view, key, actor):
        text = (_value(view, ids.TEXT_BLOCK, ids.TEXT_INPUT) or "").strip()
        _, opened = parse_reply_metadata(view["private_metadata"])
        desk = surface.desk()
        ticket = desk.read(ticket_brief, key=key)
        check_reply_length(ticket.source, text, key=key, kind=ticket.answers_kind, meta=ticket.answers_meta)
        others = desk.read(replies_since, ticket.id, actor=actor, opened=opened) \
            if opened is not None and not opened.force else []
        if others:
            # Someone else answered this customer while the modal was open: show it, keep the text.
            return blocks.reply_confirm_modal(
                ticket.key, surface.rules, surface.lang, network=ticket.source, account=ticket.account,
                limit=reply_limit(ticket.source, ticket.answers_kind), text=text, version=_text_version(view) + 1,
                others=others, recent=opened, suggestions=suggestions_for(surface.rules, ticket),
                warning=reply_warning(ticket.source, ticket.answers_kind))
        # The view id makes a double submission (or Slack resending it) one reply, not two; the
        # confirmation is the same view updated, so it keeps that id.
        flows.reply(key, actor=actor, text=text, idempotency_key=f"slack-view:{view['id']}")
        return None

    def escalate(view, key, actor):
        flows.escalate(key, actor=actor, level=_value(view, ids.LEVEL_BLOCK, ids.LEVEL_SELECT) or "",
                       note=_value(view, ids.NOTE_BLOCK, ids.NOTE_INPUT) or "",
                       assignee=_value(view, ids.ASSIGNEE_BLOCK, ids.ASSIGNEE_SELECT))

    def resolve(view, key, actor):
        flows.resolve(key, actor=actor, note=_value(view, ids.NOTE_BLOCK, ids.NOTE_INPUT))

    def tags(view, key, actor):
        wanted = (_value(view, ids.TAGS_BLOCK, ids.TAGS_INPUT) or "").replace(",", " ").split()
        current = surface.desk().read(ticket_brief, key=key).tags
        wanted_clean = {normalize_tag(tag) for tag in wanted}
        flows.tag(key, actor=actor, add=sorted(wanted_clean - set(current)),
                  remove=sorted(set(current) - wanted_clean))

    submit(ids.REPLY_VIEW, "reply", _text_block, reply)
    submit(ids.ESCALATE_VIEW, "escalate", lambda view: ids.NOTE_BLOCK, escalate)
    submit(ids.RESOLVE_VIEW, "resolve", lambda view: ids.NOTE_BLOCK, resolve)
    submit(ids.TAGS_VIEW, "tag", lambda view: ids.TAGS_BLOCK, tags)
