"""What a serving process runs besides answering HTTP: the outbox worker, network polling, the
scheduler and Slack Socket Mode, started and stopped together.

Every serving process runs all four, whether it is the one process of `chatops serve` on
SQLite, one of the worker processes of `serve --workers N`, or a replica on another host; none
of them does anything twice: outbox items are claimed with SKIP LOCKED and a lease on the row,
the scheduler passes run only in the holder of the `scheduler` lease, each feed is polled only
by the holder of its lease, and Socket Mode is connected only by the holder of the
`slack-socket-mode` lease (Slack would spread events over every open connection, and allows
few of them per app).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

log = logging.getLogger("chatops.background")

SOCKET_MODE_LEASE = "slack-socket-mode"


class SocketModeSlot:
    """Keeps one Socket Mode connection among all processes sharing the database: the holder of
    the lease connects and renews it; the others look again every `interval` seconds and take
    over once a holder stops or its lease runs out."""

    def __init__(self, lease, connect: Callable[[], Any], *, interval: float = 10.0) -> None:
        self.lease = lease
        self.connect = connect  # () -> a handler with close()
        self.interval = interval
        self.handler = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def round(self) -> bool:
        """Take or renew the lease, connect or disconnect to match; True while connected."""
        try:
            held = self.lease.acquire()
        except Exception:  # noqa: BLE001 - a database hiccup: keep what we have, look again later
            log.warning("the Socket Mode lease could not be checked", exc_info=True)
            return self.handler is not None
        if held and self.handler is None:
            self.handler = self.connect()
        elif not held and self.handler is not None:
            log.warning("another process holds the Socket Mode lease now; disconnecting")
            self._close()
        return self.handler is not None

    def start(self) -> SocketModeSlot:
        """The first round now (so a lone process is connected when serve says it is), then a thread."""
        self.round()
        self._thread = threading.Thread(target=self._run, name="socket-mode-lease", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.round()

    def stop(self) -> None:
        """Disconnect and give the lease up, so another process connects at its next round."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.handler is not None:
            self._close()
            try:
                self.lease.release()
            except Exception:  # noqa: BLE001 - the lease then simply runs out
                log.warning("the Socket Mode lease could not be released", exc_info=True)

    def _close(self) -> None:
        handler, self.handler = self.handler, None
        try:
            handler.close()
        except Exception:  # noqa: BLE001 - a connection already gone
            log.warning("closing Socket Mode failed", exc_info=True)


class Background:
    """The outbox worker, pollers, scheduler and Socket Mode of one serving process."""

    def __init__(self, runtime, outbox, *, bolt=None) -> None:
        self.runtime = runtime
        self.outbox = outbox
        self.bolt = bolt  # the Bolt app, for Socket Mode when SLACK_APP_TOKEN is set
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []
        self._scheduler = None
        self._socket_mode: SocketModeSlot | None = None

    def start(self) -> Background:
        """Start everything this deployment has configured."""
        runtime = self.runtime
        worker = threading.Thread(target=self.outbox.run_forever, args=(self.stop_event,), name="outbox",
                                  daemon=True)
        worker.start()
        self._threads.append(worker)
        if runtime.settings.slack_socket_mode and self.bolt is not None:
            from chatops.scheduler import Lease
            from chatops.slack.app import start_socket_mode

            ttl = runtime.settings.lease_seconds
            lease = Lease(runtime.session_factory, name=SOCKET_MODE_LEASE, ttl=timedelta(seconds=ttl),
                          clock=runtime.clock)
            # Three rounds per lease: one missed round (a slow database) does not hand the connection over.
            self._socket_mode = SocketModeSlot(lease, lambda: start_socket_mode(runtime, self.bolt),
                                               interval=ttl / 3).start()
        poller = _start_polling(runtime, self.stop_event)
        if poller is not None:
            self._threads.append(poller)
        self._scheduler = start_scheduler(runtime)
        return self

    def stop(self) -> None:
        """Stop everything; what is being delivered or written finishes first."""
        if self._socket_mode is not None:
            self._socket_mode.stop()
        self.stop_event.set()
        self.outbox.wake()  # an idle worker waits on its wake event, not on the stop event
        if self._scheduler is not None:
            self._scheduler.shutdown()
        for thread in self._threads:
            thread.join(timeout=10)


def _start_polling(runtime, stop: threading.Event) -> threading.Thread | None:
    """Poll the enabled networks' feeds (mentions, keyword searches) in a daemon thread."""
    from integrations.polling import PollLoop
    from integrations.registry import networks_of

    networks = networks_of(runtime)
    pollers = networks.pollers()
    if not pollers:
        return None
    loop = PollLoop(pollers, runtime.flows, networks.context.store)
    thread = threading.Thread(target=loop.run_forever, args=(stop,), name="poller", daemon=True)
    thread.start()
    return thread


def start_scheduler(runtime):
    """Start the scheduler: SLA, paging and the weekly stats digest, run only while this process
    holds the lease."""
    if not runtime.settings.scheduler_enabled:
        return None
    from chatops.scheduler import Lease, Scheduler

    lease = Lease(runtime.session_factory, ttl=timedelta(seconds=runtime.settings.lease_seconds), clock=runtime.clock)
    scheduler = Scheduler(runtime.flows, lease,
                          interval=runtime.settings.scheduler_interval, wake=runtime.outbox_wakeup.set,
                          batch=25, page_batch=5, pause=0.1)
    scheduler.start()
    return scheduler
