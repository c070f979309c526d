"""What every Slack listener shares: flows, rules, language, roles (with user groups)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from chatops.db import utcnow
from chatops.errors import DomainError
from chatops.i18n import t
from chatops.runtime import Runtime
from chatops.slack.blocks.common import user

log = logging.getLogger("chatops.slack")

class UserGroups:
    """Members of Slack user groups named in rules.yaml roles (`@support-leads`), cached."""

    def __init__(self, client: WebClient, ttl_seconds: float = 300.0) -> None:
        self.client = client
        self.ttl = ttl_seconds
        self._members: dict[str, set[str]] = {}
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def contains(self, handle: str, user_id: str) -> bool:
        """True when `user_id` is in the group `@handle`."""
        with self._lock:
            if time.monotonic() - self._loaded_at > self.ttl:
                self._reload()
            return user_id in self._members.get(handle.lstrip("@").lower(), set())

    def _reload(self) -> None:
        try:
            groups = self.client.usergroups_list(include_users=True).get("usergroups", [])
            self._members = {group["handle"].lower(): set(group.get("users") or []) for group in groups}
        except SlackClientError as exc:  # keep the last known members; try again next time
            log.warning("could not read Slack user groups: %s", exc)
        self._loaded_at = time.monotonic()


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

    def may(self, user_id: str, action: str) -> bool:
        """Whether `user_id` holds a role that rules.yaml allows to do `action`."""
        in_group = (lambda handle: self.groups.contains(handle, user_id)) if self.groups else None
        return self.rules.may(user_id, action, in_group=in_group)

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
