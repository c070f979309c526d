"""`chatops serve --workers N`: N web processes accepting on one listening socket, and on SQLite
one ingest writer process (chatops.ingest_writer), started and kept running by this process.

One Python process is bound by its interpreter lock at a few hundred webhooks a second; several
processes use every core. Each web process is a full replica (outbox worker, lease-led
scheduler; PostgreSQL's SKIP LOCKED or SQLite's writer lock keep them from doing anything
twice); the network pollers and Slack Socket Mode run in worker 0 only, so feeds are polled once.

A child that exits is started again; one that keeps exiting within seconds of its start (a bad
setting, a port already taken) stops everything with exit code 1. SIGINT or SIGTERM stop the
children gracefully (SIGINT each, then SIGKILL after `grace` seconds). Children die with this
process (PR_SET_PDEATHSIG), so a kill -9 of the supervisor leaves no orphans: restarting it is
a crash restart, which serve is built for.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

log = logging.getLogger("chatops.supervisor")

QUICK_EXIT = 10.0  # seconds: a child that exits sooner than this after its start did not come up
QUICK_EXITS = 3  # in a row, for one child, before the supervisor gives up


@dataclass
class _Child:
    name: str
    argv: list[str]
    pass_fds: tuple[int, ...] = ()
    proc: subprocess.Popen | None = None
    started: float = 0.0
    quick_exits: int = 0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: children outlive a killed supervisor


class Supervisor:
    """Starts the children, restarts the ones that exit, stops them all on a signal."""

    def __init__(self, base: list[str], listener: socket.socket, *, workers: int, writer: bool,
                 grace: float = 15.0) -> None:
        self.listener = listener
        self.grace = grace
        self._stop = threading.Event()
        self._rundir = tempfile.mkdtemp(prefix="chatops-serve-")
        self.ingest_socket = os.path.join(self._rundir, "ingest.sock") if writer else None
        # Counters of every child, summed at /metrics by whichever web process answers.
        self.metrics_dir = os.path.join(self._rundir, "metrics")
        os.mkdir(self.metrics_dir)
        self.env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=self.metrics_dir)
        fd = listener.fileno()
        os.set_inheritable(fd, True)
        self.children: list[_Child] = []
        if self.ingest_socket:
            self.children.append(_Child("ingest-writer", [*base, "--role", "ingest-writer",
                                                          "--ingest-socket", self.ingest_socket]))
        for index in range(workers):
            argv = [*base, "--role", "web", "--listen-fd", str(fd), "--worker-index", str(index)]
            if self.ingest_socket:
                argv += ["--ingest-socket", self.ingest_socket]
            self.children.append(_Child(f"web-{index}", argv, pass_fds=(fd,)))

    def stop(self, *_args) -> None:
        """Ask the supervisor to stop (signal handler)."""
        self._stop.set()

    def run(self) -> int:
        """Run until a signal (0) or until a child cannot be kept running (1)."""
        previous = {signum: signal.signal(signum, self.stop) for signum in (signal.SIGTERM, signal.SIGINT)}
        code = 0
        try:
            for child in self.children:
                self._start(child)
                if child.name == "ingest-writer" and not self._wait_for_writer(child):
                    return 1
            while not self._stop.wait(0.5):
                for child in self.children:
                    if child.proc.poll() is None:
                        continue
                    quick = time.monotonic() - child.started < QUICK_EXIT
                    child.quick_exits = child.quick_exits + 1 if quick else 0
                    if child.quick_exits >= QUICK_EXITS:
                        log.error("%s exited %d times right after starting (last exit code %s); stopping",
                                  child.name, child.quick_exits, child.proc.returncode)
                        code = 1
                        self._stop.set()
                        break
                    log.warning("%s exited with code %s; starting it again", child.name, child.proc.returncode)
                    self._start(child)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self._stop_all()
            self.listener.close()
            shutil.rmtree(self._rundir, ignore_errors=True)
        return code

    def _start(self, child: _Child) -> None:
        child.proc = subprocess.Popen(child.argv, pass_fds=child.pass_fds, env=self.env,
                                      preexec_fn=_die_with_parent)  # noqa: PLW1509
        child.started = time.monotonic()

    def _wait_for_writer(self, child: _Child, timeout: float = 60.0) -> bool:
        """Web processes start once the writer listens, so no early webhook finds it missing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            if os.path.exists(self.ingest_socket):
                return True
            if child.proc.poll() is not None:
                log.error("the ingest writer exited with code %s before it listened", child.proc.returncode)
                return False
            time.sleep(0.05)
        return not self._stop.is_set() and os.path.exists(self.ingest_socket)

    def _stop_all(self) -> None:
        # Web processes first (they stop taking webhooks), then the writer (it answers what is queued).
        web = [child.proc for child in self.children if child.name != "ingest-writer"]
        writer = [child.proc for child in self.children if child.name == "ingest-writer"]
        for group in (web, writer):
            running = [proc for proc in group if proc is not None and proc.poll() is None]
            for proc in running:
                proc.send_signal(signal.SIGINT)
            deadline = time.monotonic() + self.grace
            for proc in running:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def child_command(args) -> list[str]:
    """The command line of a child: this serve command, without `--workers`."""
    command = [sys.executable, "-m", "chatops"]
    if getattr(args, "lang", None):
        command += ["--lang", args.lang]
    command += ["serve", "--threads", str(args.threads)]
    if args.host:
        command += ["--host", args.host]
    if args.port is not None:
        command += ["--port", str(args.port)]
    return command
