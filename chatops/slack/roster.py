"""The assignment roster for Slack: a `@group`'s members (`usergroups.list` with users), and
whether a person can take a ticket now (`users.getPresence` says active, `dnd.info` shows no
do-not-disturb window around now), each answer cached briefly.

A read Slack refuses raises `RosterUnavailable`: the assignment pass records it (the scheduler's
failure alert, counted in /metrics) instead of assigning by a guess.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError


class RosterUnavailable(Exception):
    """Slack could not tell who is in a group or whether someone is available."""


class SlackRoster:
    """`chatops.tickets.assignment.Roster` over the Slack Web API."""

    def __init__(self, client: WebClient, *, groups_ttl: float = 300.0, presence_ttl: float = 60.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.groups_ttl, self.presence_ttl = groups_ttl, presence_ttl
        self.monotonic = monotonic
        self._groups: tuple[float, dict[str, list[str]]] | None = None
        self._people: dict[tuple[str, str], tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def members(self, ref: str) -> list[str]:
        if not ref.startswith("@"):
            return [ref]
        groups = self._group_members()
        handle = ref.lstrip("@").lower()
        if handle not in groups:
            raise RosterUnavailable(f"Slack has no user group {ref}")
        return groups[handle]

    def available(self, user_id: str, at: datetime) -> bool:
        if self._read("users.getPresence", user_id).get("presence") != "active":
            return False
        dnd, now = self._read("dnd.info", user_id), at.timestamp()
        if dnd.get("snooze_enabled") and now < float(dnd.get("snooze_endtime") or 0):
            return False
        return not (dnd.get("dnd_enabled") and float(dnd.get("next_dnd_start_ts") or 0) <= now
                    < float(dnd.get("next_dnd_end_ts") or 0))

    def _group_members(self) -> dict[str, list[str]]:
        with self._lock:
            if self._groups is not None and self.monotonic() - self._groups[0] < self.groups_ttl:
                return self._groups[1]
        try:
            answer = self.client.usergroups_list(include_users=True)
        except (SlackApiError, SlackClientError) as exc:
            raise RosterUnavailable(f"usergroups.list: {_reason(exc)}") from exc
        groups = {group["handle"].lower(): list(group.get("users") or []) for group in answer.get("usergroups", [])}
        with self._lock:
            self._groups = (self.monotonic(), groups)
        return groups

    def _read(self, method: str, user_id: str) -> dict:
        with self._lock:
            cached = self._people.get((method, user_id))
            if cached is not None and self.monotonic() - cached[0] < self.presence_ttl:
                return cached[1]
        try:
            if method == "users.getPresence":
                answer = dict(self.client.users_getPresence(user=user_id).data)
            else:
                answer = dict(self.client.dnd_info(user=user_id).data)
        except (SlackApiError, SlackClientError) as exc:
            raise RosterUnavailable(f"{method} {user_id}: {_reason(exc)}") from exc
        with self._lock:
            self._people[(method, user_id)] = (self.monotonic(), answer)
        return answer


def _reason(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str((exc.response.data or {}).get("error") or exc)
    return str(exc)


def slack_roster(settings) -> SlackRoster:
    """The roster of the configured Slack workspace (bot token, `SLACK_API_URL`)."""
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    # No SDK retries: a failed read is recorded and tried again on the next tick.
    return SlackRoster(WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=base_url, timeout=10,
                                 retry_handlers=[]))
