"""People in rules.yaml as Slack mentions: user ids (`U…`/`W…`) become `<@U…>`, group handles
(`@cs-l2`) become `<!subteam^S…>` through `usergroups.list`.

Why at render time: the deliverer renders when it sends, so a group created or renamed in
Slack is mentioned from the next notice on, without a restart. A handle Slack does not know is
shown as bold text and reported once in the ticket's team channel (an outbox `channel_alert`
whose dedupe key `slack:unresolved:{handle}` makes it once for all time, and which /metrics
counts), never dropped silently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from chatops.tickets.events import OutboxRow

log = logging.getLogger("chatops.slack")
UNRESOLVED_PREFIX = "slack:unresolved:"
UNRESOLVED_ALERT = "slack.alert.unresolved_mention"
GROUPS_UNREADABLE_ALERT = "slack.alert.usergroups_unreadable"

# The resolver the builders' `user()` asks for a group's id while a deliverer renders.
_ACTIVE: ContextVar[Callable[[str], str | None] | None] = ContextVar("chatops_mentions", default=None)


def is_person(ref: str | None) -> bool:
    """True for Slack member ids (U…/W…)."""
    return bool(ref) and ref[:1] in ("U", "W") and ref.isalnum()


def group_mention(handle: str) -> str | None:
    """`<!subteam^S…>` for a group handle while a resolver is active, else None."""
    resolve = _ACTIVE.get()
    group_id = resolve(handle) if resolve else None
    return f"<!subteam^{group_id}>" if group_id else None


@contextmanager
def resolving(resolve: Callable[[str], str | None]) -> Iterator[None]:
    """Render with `resolve` (handle → group id or None) behind `user()`."""
    token = _ACTIVE.set(resolve)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


class UserGroups:
    """Slack user groups named in rules.yaml (`@cs-l2`): their ids and members, cached.

    The list is read again every `ttl_seconds`, and on a handle it does not know at most once
    every `miss_seconds` (a group just created shows up within a minute; a typo does not make
    every render call Slack)."""

    def __init__(self, client: WebClient, ttl_seconds: float = 600.0, miss_seconds: float = 60.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.ttl = ttl_seconds
        self.miss_every = miss_seconds
        self.monotonic = monotonic
        self._members: dict[str, set[str]] = {}
        self._ids: dict[str, str] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()
        # Why the last read of the groups failed (Slack's error, e.g. missing_scope), None when it worked.
        self.error: str | None = None

    def contains(self, handle: str, user_id: str) -> bool:
        """True when `user_id` is in the group `@handle`."""
        with self._lock:
            self._fresh()
            return user_id in self._members.get(_key(handle), set())

    def group_id(self, handle: str) -> str | None:
        """The id (`S…`) of the group `@handle`, or None when Slack has no such group."""
        with self._lock:
            self._fresh()
            found = self._ids.get(_key(handle))
            if found is None and self.monotonic() - self._loaded_at >= self.miss_every:
                self._reload()
                found = self._ids.get(_key(handle))
            return found

    def _fresh(self) -> None:
        if self._loaded_at is None or self.monotonic() - self._loaded_at > self.ttl:
            self._reload()

    def _reload(self) -> None:
        try:
            groups = self.client.usergroups_list(include_users=True).get("usergroups", [])
            self._members = {_key(group["handle"]): set(group.get("users") or []) for group in groups}
            self._ids = {_key(group["handle"]): group["id"] for group in groups if group.get("id")}
            self.error = None
        except SlackApiError as exc:  # keep the last known groups; try again next time
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            self.error = data.get("error", "error") + (f" ({data['needed']})" if data.get("needed") else "")
            log.warning("could not read Slack user groups: %s", self.error)
        except SlackClientError as exc:
            self.error = type(exc).__name__
            log.warning("could not read Slack user groups: %s", exc)
        self._loaded_at = self.monotonic()


def _key(handle: str) -> str:
    return handle.lstrip("@").lower()


def unresolved(refs: list[str], groups: UserGroups, client: WebClient) -> list[str]:
    """The rules.yaml people references among `refs` that Slack does not know: group handles
    missing from usergroups.list, user ids users.info answers `user_not_found` for."""
    missing = []
    for ref in dict.fromkeys(refs):
        if ref.startswith("@"):
            if groups.group_id(ref) is None:
                missing.append(ref)
        elif is_person(ref):
            try:
                client.users_info(user=ref)
            except SlackApiError as exc:
                if (exc.response.data or {}).get("error") in ("user_not_found", "users_not_found"):
                    missing.append(ref)
                else:
                    raise
    return missing


def rules_handles(rules) -> list[tuple[str, str]]:
    """Every people reference in rules.yaml with where it is: levels' owners and lead, keyword
    rules' notify, roles, auto-assignment's people."""
    found: list[tuple[str, str]] = []
    for name, level in rules.levels.items():
        found += [(owner, f"levels.{name}.owners") for owner in level.owners]
        if level.lead:
            found.append((level.lead, f"levels.{name}.lead"))
    for rule in rules.keyword_rules:
        found += [(person, f"rules.{rule.id}.notify") for person in (rule.actions.notify or [])]
    for role in ("agents", "leads", "managers"):
        found += [(person, f"roles.{role}") for person in getattr(rules.roles, role)]
    for channel, entry in rules.assignment.items():
        found += [(person, f"assignment.{channel}.people") for person in entry.people]
    return found


def unresolved_alerts(handles: list[str], groups: UserGroups, *, channel: str, lane: str,
                      ticket_key: str) -> list[OutboxRow]:
    """One coalescing channel alert per handle Slack does not resolve (its dedupe key: once for all
    time), saying why: no such user or group, or groups Slack would not list."""
    rows = []
    for handle in dict.fromkeys(handles):
        params = {"handle": handle, "key": ticket_key}
        unreadable = groups.error if handle.startswith("@") else None
        # A group Slack would not list (a scope the app lacks) is not a group that does not exist.
        key, dedupe = (GROUPS_UNREADABLE_ALERT, f"{UNRESOLVED_PREFIX}{handle}:{unreadable}") if unreadable \
            else (UNRESOLVED_ALERT, f"{UNRESOLVED_PREFIX}{handle}")
        log.warning("rules.yaml names %s, which Slack does not resolve (%s)", handle, unreadable or "unknown")
        rows.append(OutboxRow(target="slack", kind="channel_alert", dedupe_key=dedupe, ordering_key=lane,
                              coalesce=True, payload={"channel": channel, "key": key,
                                                      "params": {**params, "error": unreadable} if unreadable
                                                      else params}))
    return rows
