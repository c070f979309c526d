"""Tracker issues from Slack: the overflow's "Create issue…", `/ticket issue` and a refused
issue's "Try again" open the form (summary prefilled, tracker choice when both are configured);
its submission asks the flows for the issue, which the outbox creates. The role is rules.yaml's
`issue` permission."""

from __future__ import annotations

import json

from slack_bolt import App

from chatops import commands
from chatops.errors import DomainError
from chatops.slack import ids
from chatops.slack.blocks.modals import issue_modal
from chatops.slack.listeners.common import action_value, guarded
from chatops.slack.surface import SlackSurface


def issue_form(surface: SlackSurface, result: commands.Result) -> dict:
    """The issue modal of an `issue` command result."""
    params = result.params
    return issue_modal(params["key"], params["text"], params["trackers"], surface.lang, tracker=params["tracker"])


def open_form(surface: SlackSurface, key: str, actor: str, tracker: str | None = None) -> dict:
    """The issue modal for ticket `key` (a DomainError when no tracker is set up or no such ticket)."""
    words = (key, tracker) if tracker else (key,)
    result = commands.run(surface.desk(), commands.Command("issue", words), actor=actor,
                          in_group=surface.in_group(actor))
    if result.error is not None:
        raise result.error
    return issue_form(surface, result)


def _selected(view: dict, block_id: str, action_id: str):
    element = view["state"]["values"].get(block_id, {}).get(action_id, {})
    if "selected_option" in element:
        return (element["selected_option"] or {}).get("value")
    return element.get("value")


def register(app: App, surface: SlackSurface) -> None:
    """Attach the issue form's submission and the refused issue's "Try again"."""
    @app.action(ids.ISSUE_RETRY)
    def retry(ack, body, respond, client):
        ack()
        key, _, tracker = action_value(body).partition(":")
        view = guarded(surface, body, respond, "issue",
                       lambda: open_form(surface, key, body["user"]["id"], tracker or None))
        if view:
            client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(ids.ISSUE_VIEW)
    def submitted(ack, body, view):
        actor = body["user"]["id"]
        meta = json.loads(view["private_metadata"])
        if not surface.may(actor, "issue"):
            ack(response_action="errors", errors={ids.ISSUE_SUMMARY_BLOCK: surface.refusal("issue")[:150]})
            return
        tracker = _selected(view, ids.ISSUE_TRACKER_BLOCK, ids.ISSUE_TRACKER_SELECT) or meta["tracker"]
        summary = _selected(view, ids.ISSUE_SUMMARY_BLOCK, ids.ISSUE_SUMMARY_INPUT) or ""
        try:
            surface.flows.request_issue(meta["key"], actor=actor, tracker=tracker, summary=summary,
                                        available=tuple(surface.runtime.settings.issue_trackers))
        except DomainError as exc:
            ack(response_action="errors", errors={ids.ISSUE_SUMMARY_BLOCK: surface.error_text(exc)[:150]})
            return
        ack()
        surface.changed()
