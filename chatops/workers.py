"""`chatops serve --workers N` on PostgreSQL: gunicorn runs N worker processes on one port.

The `chatops serve` process becomes gunicorn's arbiter: it forks the workers, starts again one
that dies, and stops them all on SIGTERM (graceful: requests in flight are answered) or SIGINT
(quick). Each worker builds its own runtime after the fork, so no database connection, thread
or lease holder is ever shared between processes, and runs its own outbox worker, pollers,
scheduler and Socket Mode slot (chatops.background: all lease-led, so N of them do each thing
once). Counters reach /metrics through prometheus_client's multiprocess mode, whichever worker
answers the scrape.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Serving:
    """One worker's WSGI app and what runs beside it, stopped together."""

    def __init__(self, wsgi: Callable, close: Callable[[], None]) -> None:
        self.wsgi = wsgi
        self.close = close


class WorkerProcesses(BaseApplication):
    """gunicorn, embedded: `build()` runs in each worker after the fork and returns its Serving."""

    def __init__(self, build: Callable[[], Serving], options: dict[str, Any]) -> None:
        self.build = build
        self.options = options
        self.serving: Serving | None = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in {**self.options, "worker_exit": _worker_exit, "child_exit": _child_exit}.items():
            self.cfg.set(key, value)

    def load(self) -> Callable:
        self.serving = self.build()
        return self.serving.wsgi


def _worker_exit(_server, worker) -> None:
    """In the worker as it exits (gracefully or not): stop its background work, close its pool."""
    serving = worker.app.serving
    if serving is not None:
        worker.app.serving = None
        serving.close()


def _child_exit(_server, worker) -> None:
    """In the arbiter when a worker has exited: its live gauges no longer count (prometheus_client)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def options(*, host: str, port: int, workers: int, threads: int, log_level: str) -> dict[str, Any]:
    """gunicorn's settings for `serve --workers`: gthread workers, logs to standard error."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return {
        "bind": [address], "workers": workers, "worker_class": "gthread", "threads": threads,
        "backlog": 2048, "keepalive": 5, "graceful_timeout": 15, "timeout": 60,
        "proc_name": "chatops", "control_socket_disable": True, "errorlog": "-", "accesslog": None, "loglevel": log_level.lower(),
    }


def run(build: Callable[[], Serving], gunicorn_options: dict[str, Any]) -> None:
    """Run the arbiter until a signal stops it (gunicorn exits the process)."""
    arbiter = os.getpid()
    metrics_dir = os.environ.get(MULTIPROC_ENV)
    try:
        WorkerProcesses(build, gunicorn_options).run()
    finally:
        # A worker leaves through here too (gunicorn forks inside run()): only the arbiter cleans up.
        if os.getpid() == arbiter and metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def shared_metrics_dir() -> str:
    """A fresh directory for every worker's counters, named in the environment before any
    prometheus_client import (it picks its storage once, when imported)."""
    path = tempfile.mkdtemp(prefix="chatops-metrics-")
    os.environ[MULTIPROC_ENV] = path
    return path
