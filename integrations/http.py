"""One place that makes HTTP sessions: timeouts always, a clear User-Agent, no hidden retries
(retries belong to the outbox, which honours Retry-After and never duplicates)."""

from __future__ import annotations

from datetime import UTC, datetime

import requests

from chatops.outbox import retry_after

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
    """Seconds from the response's Retry-After header, if present and sane."""
    return retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
