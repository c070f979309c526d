"""Bolt listeners: ack first, check the role, call one flow, answer in the workspace language."""

from slack_bolt import App

from chatops.slack.listeners import (
    actions,
    commands,
    customers,
    events,
    issues,
    moderation,
    oncall,
    saved_views,
    stats,
    views,
)
from chatops.slack.surface import SlackSurface


def register(app: App, surface: SlackSurface) -> None:
    """Attach every listener to `app`."""
    for module in (actions, views, commands, events, customers, oncall, stats, issues, moderation, saved_views):
        module.register(app, surface)
