"""The assembled core: settings, database, rules and flows, built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from chatops import migrate
from chatops.db import make_engine, make_session_factory
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

    @classmethod
    def build(cls, settings: Settings, *, upgrade_db: bool = True, rules: Rules | None = None) -> Runtime:
        """Load rules (RulesError if broken), open the database and apply migrations."""
        rules = rules or load_rules(settings.rules_path)
        engine = make_engine(settings.database_url)
        if upgrade_db:
            migrate.upgrade(engine)
        factory = make_session_factory(engine)
        return cls(settings, engine, factory, rules, TicketFlows(factory, rules))

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()
