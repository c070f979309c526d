"""Calling a network API: one place that turns answers into outbox decisions and rate-limit pauses.

- 429 and rate-limit headers slow us down instead of failing: X sends `x-rate-limit-remaining`
  and `x-rate-limit-reset` (epoch seconds, no Retry-After); Mastodon `X-RateLimit-Remaining` and
  `X-RateLimit-Reset` (ISO 8601); Meta `X-Business-Use-Case-Usage` / `X-App-Usage` (percent used
  and `estimated_time_to_regain_access` in minutes); LINE and Bluesky may send Retry-After or
  `ratelimit-reset` (epoch seconds).
- 401/403 count towards the network's health (one alert per outage, see `state.Health`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests

from chatops.outbox import DeliveryError
from integrations.http import retry_after_seconds
from integrations.state import Health

MAX_PAUSE = 3600.0


class AuthFailed(DeliveryError):
    """The network refused our credentials (401/403)."""


def rate_limit_pause(response: requests.Response, now: float | None = None) -> float | None:
    """Seconds to wait before the next call to this API, when the answer says so."""
    now = time.time() if now is None else now
    headers = response.headers
    retry_after = retry_after_seconds(response)
    if retry_after is not None and response.status_code == 429:
        return retry_after
    remaining = headers.get("x-rate-limit-remaining") or headers.get("x-ratelimit-remaining") \
        or headers.get("ratelimit-remaining")
    reset = headers.get("x-rate-limit-reset") or headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset")
    exhausted = response.status_code == 429 or (remaining is not None and remaining.strip() == "0")
    if exhausted and reset:
        seconds = _reset_seconds(reset.strip(), now)
        if seconds is not None:
            return min(max(seconds, 1.0), MAX_PAUSE)
    meta = _meta_pause(headers)
    if meta is not None:
        return meta
    if response.status_code == 429:
        return 60.0
    return None


def _reset_seconds(reset: str, now: float) -> float | None:
    if reset.isdigit():
        value = float(reset)
        return value - now if value > 1e9 else value  # epoch seconds, or a delta
    try:
        return datetime.fromisoformat(reset.replace("Z", "+00:00")).timestamp() - now
    except ValueError:
        return None


def _meta_pause(headers) -> float | None:
    """Meta: back off when any usage figure reaches 95% or access must be regained."""
    pause = None
    for name in ("x-business-use-case-usage", "x-app-usage", "x-page-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        entries = [entry for value in data.values() for entry in value] if name == "x-business-use-case-usage" \
            else [data]
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            minutes = float(entry.get("estimated_time_to_regain_access") or 0)
            busiest = max(float(entry.get(k) or 0) for k in ("call_count", "total_cputime", "total_time"))
            if minutes > 0 or busiest >= 95:
                pause = max(pause or 0.0, minutes * 60 or 300.0)
    return min(pause, MAX_PAUSE) if pause is not None else None


class NetworkAPI:
    """HTTP calls to one network account, with errors mapped for the outbox and pauses recorded."""

    def __init__(self, network: str, account: str, http: requests.Session, health: Health | None,
                 classify: Callable[[NetworkAPI, requests.Response], DeliveryError | None] | None = None) -> None:
        self.network = network
        self.account = account
        self.http = http
        self.health = health
        # The network's own reading of an error answer (Meta's error codes), before the statuses'.
        self.classify = classify
        self.last_pause: float | None = None
        self._pause_seen: float | None = None

    def take_pause(self) -> float | None:
        """The longest pause any call asked for since the last take (a poll makes several calls)."""
        pause, self._pause_seen = self._pause_seen, None
        return pause

    def call(self, method: str, url: str, *, refuse: tuple[int, ...] = (), **kwargs: Any) -> requests.Response:
        """One request; raises DeliveryError (AuthFailed for 401/403) unless it succeeded.
        Statuses in `refuse` come back to the caller, which knows what they mean there."""
        try:
            response = self.http.request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise DeliveryError(f"{self.network} unreachable: {type(exc).__name__}") from None
        self.last_pause = rate_limit_pause(response)
        if self.last_pause:
            self._pause_seen = max(self._pause_seen or 0.0, self.last_pause)
        status = response.status_code
        if status in refuse:
            return response
        if status >= 400 and self.classify is not None:
            error = self.classify(self, response)
            if error is not None:
                raise error
        if status in (401, 403):
            raise self.auth_failure(response)
        if status == 429:
            raise DeliveryError(f"{self.network} rate limited (429)", retry_after=self.last_pause or 60.0,
                                answered=True)
        if status >= 500:  # a gateway error may hide a post that went through: in doubt
            raise DeliveryError(f"{self.network} answered {status}", retry_after=retry_after_seconds(response))
        if status >= 400:
            raise DeliveryError(f"{self.network} refused the request ({status}): {_excerpt(response)}",
                                permanent=True, answered=True)
        if self.health:
            self.health.ok(self.network, self.account)
        return response

    def auth_failure(self, response: requests.Response) -> AuthFailed:
        """Count a 401/403 towards the outage alert; the error to raise (retried later)."""
        if self.health:
            self.health.auth_failed(self.network, self.account, response.status_code)
        return AuthFailed(f"{self.network} refused our credentials ({response.status_code}): {_excerpt(response)}",
                          retry_after=300, answered=True)


def _excerpt(response: requests.Response) -> str:
    return response.text[:300].replace("\n", " ")
