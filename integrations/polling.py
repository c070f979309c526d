"""Running pollers: one poll = check the pause and lease, fetch, ingest, then advance cursors.

Cursor-safe without a leader: cursors move only after their messages are ingested and only
forward, and ingest is idempotent, so a crash re-fetches (and skips) instead of losing, and two
replicas polling at once store everything once. A short lease row per feed keeps replicas from
spending the network's rate limit twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from chatops.db import utcnow
from chatops.outbox import DeliveryError
from chatops.tickets.flows import TicketFlows
from integrations.network import Poller
from integrations.state import StateStore

log = logging.getLogger("chatops.integrations.polling")
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class PollOutcome:
    """What one poll did."""

    polled: bool
    fetched: int = 0
    created: int = 0
    duplicates: int = 0
    paused_for: float | None = None


def poll_once(poller: Poller, flows: TicketFlows, store: StateStore, *, holder: str = HOLDER,
              clock: Callable[[], datetime] = utcnow) -> PollOutcome:
    """Poll one feed now unless it is paused (rate limit) or another replica holds its lease."""
    name = f"poll:{poller.network}:{poller.account}"
    now = clock()
    if not _take_lease(store, name, holder, now, seconds=max(poller.interval, 30.0)):
        return PollOutcome(False)
    state = store.get(name)
    paused_until = state.get("paused_until")
    if paused_until and datetime.fromisoformat(paused_until) > now:
        return PollOutcome(False)
    poller.take_pause()
    try:
        result = poller.poll(state.get("cursors", {}))
    except DeliveryError as exc:
        pause = exc.retry_after if exc.retry_after is not None else poller.interval
        store.merge(name, paused_until=(now + timedelta(seconds=pause)).isoformat(), last_error=str(exc)[:500])
        log.warning("%s poll failed, next try in %.0fs: %s", name, pause, exc)
        return PollOutcome(True, paused_for=pause)
    created = duplicates = 0
    for message in result.messages:
        outcome = flows.ingest(message).outcome
        created += outcome == "created"
        duplicates += outcome == "duplicate"

    def advance(value: dict) -> dict:
        cursors = dict(value.get("cursors", {}))
        for feed, cursor in result.cursors.items():
            if cursor is not None and (cursors.get(feed) is None or _later(cursor, cursors[feed])):
                cursors[feed] = cursor
        paused = (now + timedelta(seconds=pause)).isoformat() if pause else None
        return {**value, "cursors": cursors, "paused_until": paused, "last_poll": now.isoformat()}

    pause = poller.take_pause()
    store.update(name, advance)
    return PollOutcome(True, len(result.messages), created, duplicates)


def _later(candidate: str, current: str) -> bool:
    if candidate.isdigit() and current.isdigit():
        return int(candidate) > int(current)
    return candidate > current


def _take_lease(store: StateStore, name: str, holder: str, now: datetime, seconds: float) -> bool:
    taken = []

    def change(value: dict) -> dict | None:
        until = value.get("lease_until")
        if value.get("lease_holder") not in (None, holder) and until and datetime.fromisoformat(until) > now:
            return None
        taken.append(True)
        return {**value, "lease_holder": holder, "lease_until": (now + timedelta(seconds=seconds)).isoformat()}

    store.update(f"lease:{name}", change)
    return bool(taken)


class PollLoop:
    """A daemon thread that polls every feed on its interval until stopped."""

    def __init__(self, pollers: list[Poller], flows: TicketFlows, store: StateStore) -> None:
        self.pollers = pollers
        self.flows = flows
        self.store = store
        self.next_run = {id(poller): 0.0 for poller in pollers}

    def run_forever(self, stop: threading.Event, tick: float = 1.0) -> None:
        """Poll what is due, then sleep a tick; errors are logged and the loop goes on."""
        while not stop.is_set():
            for poller in self.pollers:
                if time.monotonic() < self.next_run[id(poller)]:
                    continue
                try:
                    poll_once(poller, self.flows, self.store)
                except Exception:  # a bug or the database away: keep polling the others
                    log.exception("poll of %s:%s failed", poller.network, poller.account)
                self.next_run[id(poller)] = time.monotonic() + poller.interval
            stop.wait(tick)
