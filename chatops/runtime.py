"""The assembled core: settings, database, rules and flows, built once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from chatops import migrate
from chatops.customers.suggest import LinkSuggester
from chatops.db import make_engine, make_session_factory, utcnow
from chatops.rules import Rules, load_rules
from chatops.settings import Settings
from chatops.tickets.flows import TicketFlows


@dataclass
class Runtime:
    """Everything a surface (web app, CLI, scheduler) needs, passed down instead of globals."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    rules: Rules
    flows: TicketFlows
    # Set by surfaces after a change that queued outbox rows; the outbox worker wakes on it.
    outbox_wakeup: threading.Event = field(default_factory=threading.Event)
    # The enabled social networks (integrations.registry.Networks), built on first use.
    networks: Any = None

    @classmethod
    def build(cls, settings: Settings, *, upgrade_db: bool = True, rules: Rules | None = None,
              clock: Callable[[], datetime] = utcnow) -> Runtime:
        """Load rules (RulesError if broken), open the database and apply migrations. `clock` is
        the one source of "now" for every flow, surface and scheduler built on this runtime."""
        rules = rules or load_rules(settings.rules_path)
        engine = make_engine(settings.database_url)
        if upgrade_db:
            migrate.upgrade(engine)
        factory = make_session_factory(engine)
        flows = TicketFlows(factory, rules, listeners=surface_listeners(settings, rules), clock=clock)
        # Ingest's link suggestion rides on the recorder (docs/customers.md), not on ingest's code.
        flows.recorder.projectors.append(LinkSuggester(flows.recorder))
        return cls(settings, engine, factory, rules, flows)

    @property
    def clock(self) -> Callable[[], datetime]:
        """The runtime's source of "now" (the flows' clock)."""
        return self.flows.clock

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()


def surface_listeners(settings: Settings, rules: Rules) -> list:
    """Event listeners of the configured surfaces: they queue the posts each change needs,
    whichever entry point (web, CLI ingest, scheduler) made the change."""
    listeners = []
    if settings.slack_enabled:
        from chatops.slack.notifier import SlackPlanner

        listeners.append(SlackPlanner(rules))
    if any(channel.teams_webhook for channel in rules.channels.values()):
        from chatops.teams.notifier import TeamsPlanner

        listeners.append(TeamsPlanner(rules))
    if settings.teams_bot_enabled:
        from chatops.teams.bot.notifier import BotPlanner

        listeners.append(BotPlanner(rules))
    if settings.pagerduty_routing_key is not None:
        from integrations.pagerduty import PagerDutyPlanner

        listeners.append(PagerDutyPlanner())
    if settings.issue_trackers:
        from integrations.trackers import TrackerPlanner

        listeners.append(TrackerPlanner())
    return listeners
