"""Saved views on the Home tab: show one, create or edit one in a modal, delete one. Each change
is committed with the agent's Home refresh queued in the same transaction (the outbox publishes it)."""

from __future__ import annotations

import uuid

from slack_bolt import App

from chatops.errors import DomainError
from chatops.i18n import t
from chatops.slack import ids
from chatops.slack.blocks.saved_views import saved_view_modal
from chatops.slack.listeners.common import action_value, guarded
from chatops.slack.surface import SlackSurface
from chatops.tickets import saved_views
from chatops.tickets.events import OutboxRow
from chatops.tickets.record import enqueue

ACTION = "claim"  # saved views are for the people who work tickets
# The form block each problem is shown beside.
FIELD_BLOCKS = {"name": ids.SAVED_NAME_BLOCK, "channels": ids.SAVED_CHANNELS_BLOCK,
                "priorities": ids.SAVED_PRIORITIES_BLOCK, "tags": ids.SAVED_TAGS_BLOCK,
                "levels": ids.SAVED_LEVELS_BLOCK, "statuses": ids.SAVED_STATUSES_BLOCK,
                "assignee": ids.SAVED_ASSIGNEE_BLOCK, "overdue": ids.SAVED_OVERDUE_BLOCK}


def _refresh(session, user_id: str, now) -> None:
    enqueue(session, [OutboxRow("slack", "publish_home", f"slack:home:{user_id}:saved:{uuid.uuid4().hex}",
                                f"slack-home:{user_id}", {"user": user_id})], at=now)


def _selected(view: dict, block_id: str) -> list[str]:
    element = (view["state"]["values"].get(block_id) or {}).get(ids.SAVED_INPUT) or {}
    if "selected_option" in element:
        return [element["selected_option"]["value"]] if element["selected_option"] else []
    return [option["value"] for option in element.get("selected_options") or ()]


def filters_of(view: dict) -> tuple[str, saved_views.ViewFilters]:
    """The name and filters a submitted form holds."""
    name = ((view["state"]["values"].get(ids.SAVED_NAME_BLOCK) or {}).get(ids.SAVED_NAME_INPUT) or {}).get("value")
    assignee = _selected(view, ids.SAVED_ASSIGNEE_BLOCK)
    return name or "", saved_views.ViewFilters(
        channels=tuple(_selected(view, ids.SAVED_CHANNELS_BLOCK)),
        priorities=tuple(_selected(view, ids.SAVED_PRIORITIES_BLOCK)),
        tags=tuple(_selected(view, ids.SAVED_TAGS_BLOCK)),
        levels=tuple(_selected(view, ids.SAVED_LEVELS_BLOCK)),
        statuses=tuple(_selected(view, ids.SAVED_STATUSES_BLOCK)),
        assignee=assignee[0] if assignee else "anyone",
        overdue="overdue" in _selected(view, ids.SAVED_OVERDUE_BLOCK))


def register(app: App, surface: SlackSurface) -> None:
    """Attach the saved-view listeners."""

    def change(user_id: str, run) -> None:
        def both(session):
            result = run(session)
            _refresh(session, user_id, surface.clock())
            return result
        surface.desk().write(both)

    def view_id(body) -> int:
        value = action_value(body)
        if not value.isdigit():
            raise saved_views.ViewNotFound(id=value)
        return int(value)

    @app.action(ids.SAVED_SHOW)
    def show(ack, body, respond):
        ack()
        actor = body["user"]["id"]
        guarded(surface, body, respond, ACTION, lambda: change(actor, lambda session: saved_views.show(
            session, user_id=actor, view_id=view_id(body), now=surface.clock())))

    @app.action(ids.SAVED_CLOSE)
    def close(ack, body, respond):
        ack()
        actor = body["user"]["id"]
        guarded(surface, body, respond, ACTION, lambda: change(actor, lambda session: saved_views.show(
            session, user_id=actor, view_id=None, now=surface.clock())))

    @app.action(ids.SAVED_DELETE)
    def remove(ack, body, respond):
        ack()
        actor = body["user"]["id"]
        guarded(surface, body, respond, ACTION, lambda: change(actor, lambda session: saved_views.remove(
            session, user_id=actor, view_id=view_id(body))))

    @app.action(ids.SAVED_NEW)
    def new(ack, body, respond, client):
        ack()
        view = guarded(surface, body, respond, ACTION, lambda: saved_view_modal(
            surface.rules, surface.lang, tags=saved_views.rule_tags(surface.rules)))
        if view:
            client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(ids.SAVED_EDIT)
    def edit(ack, body, respond, client):
        ack()
        actor = body["user"]["id"]

        def form():
            def read(session):
                row = saved_views.get_saved(session, user_id=actor, view_id=view_id(body))
                return row.id, row.name, saved_views.ViewFilters.from_json(row.filters)
            found, name, filters = surface.desk().read(read)
            return saved_view_modal(surface.rules, surface.lang, view_id=found, name=name, filters=filters,
                                    tags=saved_views.rule_tags(surface.rules, filters.tags))
        view = guarded(surface, body, respond, ACTION, form)
        if view:
            client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(ids.SAVED_VIEW)
    def submitted(ack, body, view):
        actor = body["user"]["id"]
        if not surface.may(actor, ACTION):
            ack(response_action="errors", errors={ids.SAVED_NAME_BLOCK: surface.refusal(ACTION)[:150]})
            return
        name, filters = filters_of(view)
        editing = view.get("private_metadata") or ""
        try:
            change(actor, lambda session: saved_views.save(
                session, user_id=actor, name=name, filters=filters, rules=surface.rules, now=surface.clock(),
                view_id=int(editing) if editing.isdigit() else None))
        except DomainError as exc:
            block = FIELD_BLOCKS.get(getattr(exc, "field", "name"), ids.SAVED_NAME_BLOCK)
            if block == ids.SAVED_TAGS_BLOCK and not filters.tags:
                block = ids.SAVED_NAME_BLOCK
            text = t(exc.key, surface.lang, **{**exc.params, "field": t(
                f"savedviews.field.{exc.params['field']}", surface.lang)} if "field" in exc.params else exc.params)
            ack(response_action="errors", errors={block: f":warning: {text}"[:150]})
            return
        ack()
        surface.changed()
