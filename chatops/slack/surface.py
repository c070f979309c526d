"""What every Slack listener shares: flows, rules, language, roles (with user groups)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk import WebClient

from chatops.commands import Desk
from chatops.db import utcnow
from chatops.errors import DomainError
from chatops.i18n import t
from chatops.runtime import Runtime
from chatops.slack.blocks.common import user
from chatops.slack.mentions import UserGroups  # noqa: F401  (the surface's groups; app.py imports it here)

log = logging.getLogger("chatops.slack")

@dataclass
class SlackSurface:
    """The Slack side's view of the runtime."""

    runtime: Runtime
    client: WebClient
    wake: Callable[[], None] = lambda: None
    clock: Callable[[], datetime] = utcnow
    groups: UserGroups | None = None
    limits: dict[str, int] = field(default_factory=dict)

    @property
    def rules(self):
        """The loaded rules.yaml."""
        return self.runtime.rules

    @property
    def flows(self):
        """Ticket flows."""
        return self.runtime.flows

    @property
    def lang(self) -> str:
        """The workspace language set in rules.yaml (`defaults.language`)."""
        return self.rules.defaults.language

    def in_group(self, user_id: str) -> Callable[[str], bool] | None:
        """Whether `user_id` is in a Slack user group (by handle), for roles granted to groups."""
        return (lambda handle: self.groups.contains(handle, user_id)) if self.groups else None

    def may(self, user_id: str, action: str) -> bool:
        """Whether `user_id` holds a role that rules.yaml allows to do `action`."""
        return self.rules.may(user_id, action, in_group=self.in_group(user_id))

    def desk(self, **builders) -> Desk:
        """The command layer's desk for this workspace (tickets built by `builders`)."""
        return Desk(self.runtime, lang=self.lang, person=lambda user_id: user(user_id, self.lang),
                    clock=self.clock, **builders)

    def refusal(self, action: str) -> str:
        """'You need the X role to …' in the workspace language."""
        return self.rules.refusal(action, self.lang)

    def error_text(self, exc: DomainError) -> str:
        """A domain error in the workspace language, people shown as mentions."""
        params = {name: user(value, self.lang) if name == "by" else value for name, value in exc.params.items()}
        return f":warning: {t(exc.key, self.lang, **params)}"

    def changed(self) -> None:
        """A flow committed outbox rows: let the worker deliver them now."""
        self.wake()
