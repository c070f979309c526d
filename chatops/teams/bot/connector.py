"""The Bot Connector REST API (v3), the calls the bot makes on its own: start a thread in a team
channel, post into a conversation or reply to an activity, update an activity in place, and open
a person's chat with the bot. Only the outbox's `teams_bot` deliverer calls it.

Failures become `DeliveryError`s the outbox understands: 429 and 503 are the connector refusing
for now (`Retry-After` honoured, certainly not posted), another 5xx or a broken connection may
have posted, 401 drops the cached bot token and tries again, any other 4xx is lasting (the bot
was removed from the team, a conversation that is gone, a card Teams refuses).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import NewConnectionError

from chatops.outbox import DeliveryError, retry_after
from chatops.teams.bot.auth import BotToken, TokenError


def _path(value: str) -> str:
    """A conversation or activity id as one path segment (`19:…@thread.tacv2;messageid=…`)."""
    return quote(value, safe="")


class Connector:
    """Bot Connector calls with the bot's token; `service_url` comes from the conversation reference."""

    def __init__(self, token: BotToken, *, app_id: str, clock: Callable[[], datetime], timeout: float = 10.0,
                 http: requests.Session | None = None) -> None:
        self.token = token
        self.app_id = app_id
        self.clock = clock
        self.timeout = timeout
        self.http = http or requests.Session()

    def create_channel_thread(self, service_url: str, channel_id: str, activity: dict[str, Any], *,
                              tenant_id: str | None) -> tuple[str, str]:
        """Post `activity` as a new thread in a team channel: (thread conversation id, activity id)."""
        body: dict[str, Any] = {"isGroup": True, "bot": {"id": f"28:{self.app_id}"},
                                "channelData": {"channel": {"id": channel_id}}, "activity": activity}
        if tenant_id:
            body["channelData"]["tenant"] = {"id": tenant_id}
            body["tenantId"] = tenant_id
        answer = self._call("POST", service_url, "/v3/conversations", body)
        activity_id = answer.get("activityId") or answer["id"].rpartition("=")[2]
        return answer["id"], activity_id

    def create_personal(self, service_url: str, member: str, *, tenant_id: str | None) -> str:
        """Open (or find) a person's 1:1 chat with the bot; `member` is their `29:…` id or AAD
        object id. The conversation id."""
        body: dict[str, Any] = {"isGroup": False, "bot": {"id": f"28:{self.app_id}"}, "members": [{"id": member}]}
        if tenant_id:
            body["channelData"] = {"tenant": {"id": tenant_id}}
            body["tenantId"] = tenant_id
        return self._call("POST", service_url, "/v3/conversations", body)["id"]

    def send(self, service_url: str, conversation_id: str, activity: dict[str, Any]) -> str:
        """Post `activity` into a conversation (a channel thread: a reply in it); its activity id."""
        path = f"/v3/conversations/{_path(conversation_id)}/activities"
        return self._call("POST", service_url, path, activity).get("id", "")

    def reply(self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]) -> str:
        """Post `activity` as a reply to `activity_id` (the thread of a channel post); its id."""
        path = f"/v3/conversations/{_path(conversation_id)}/activities/{_path(activity_id)}"
        return self._call("POST", service_url, path, {**activity, "replyToId": activity_id}).get("id", "")

    def update(self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]) -> None:
        """Replace an activity the bot posted (a card updated in place)."""
        path = f"/v3/conversations/{_path(conversation_id)}/activities/{_path(activity_id)}"
        self._call("PUT", service_url, path, {**activity, "id": activity_id})

    def _call(self, method: str, service_url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            token = self.token.get()
        except TokenError as exc:
            raise DeliveryError(f"teams bot token: {exc}", permanent=400 <= exc.status < 500, answered=True) from None
        except requests.RequestException as exc:
            raise DeliveryError(f"teams bot token: {type(exc).__name__}", answered=True) from None
        url = service_url.rstrip("/") + path
        try:
            answer = self.http.request(method, url, json=body, timeout=self.timeout,
                                       headers={"Authorization": f"Bearer {token}"})
        except requests.RequestException as exc:
            reason = exc.args[0].reason if exc.args and hasattr(exc.args[0], "reason") else None
            never_sent = isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)
            raise DeliveryError(f"bot connector {method} {path}: {type(exc).__name__}", answered=never_sent) from None
        status = answer.status_code
        if 200 <= status < 300:
            try:
                return answer.json() if answer.content else {}
            except ValueError:
                return {}
        reason = f"bot connector {method} {path}: HTTP {status} {answer.text[:200]}".strip()
        if status in (429, 503):
            raise DeliveryError(reason, retry_after=retry_after(answer.headers.get("Retry-After"), self.clock()),
                                answered=True)
        if status >= 500:
            raise DeliveryError(reason)
        if status == 401:  # an expired or revoked token: the next attempt fetches a new one
            self.token.forget()
            raise DeliveryError(reason, answered=True)
        raise DeliveryError(reason, permanent=True, answered=True)
