"""One place that makes HTTP sessions: timeouts always, a clear User-Agent, no hidden retries
(retries belong to the outbox, which honours Retry-After and never duplicates)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests

DEFAULT_TIMEOUT = (3.05, 10.0)  # (connect, read) seconds
USER_AGENT = "chatops/0.1 (+https://github.com/chatops)"


class TimeoutSession(requests.Session):
    """A requests.Session whose every request has a timeout unless one is given."""

    def __init__(self, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self.timeout = timeout
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method, url, **kwargs):  # noqa: D102 - same as requests
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)


def make_http_session(timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> TimeoutSession:
    """A session for one integration."""
    return TimeoutSession(timeout)


def retry_after_seconds(response: requests.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form), if present and sane."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), 3600.0))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, min((when - datetime.now(UTC)).total_seconds(), 3600.0))
