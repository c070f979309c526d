"""Start and stop real `chatops serve` processes for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import RULES_PATH


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Serve:
    """One `chatops serve` process on a free port; `kill()` is SIGKILL (no clean-up runs)."""

    def __init__(self, cwd: Path, database_url: str, *args: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(cwd / f"serve-{self.port}.log", "w")  # noqa: SIM115 - closed in stop()
        full = dict(os.environ, CHATOPS_DATABASE_URL=database_url, CHATOPS_RULES=str(RULES_PATH), CHATOPS_LANG="en")
        full.update(env)  # a test may bring its own rules file
        self.proc = subprocess.Popen([sys.executable, "-m", "chatops", "serve", "--port", str(self.port), *args],
                                     env=full,
                                     cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    return
            except requests.RequestException:  # not listening yet, or (--workers) bound but not yet accepting
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("chatops serve did not start:\n" + Path(self.log.name).read_text()[-3000:])

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def outbox_settled(session_factory):
    """A check for `until`: true once no outbox item is pending (each is done or dead), so
    nothing more leaves the servers until something new arrives."""
    from sqlalchemy import select

    from chatops.tickets.models import OutboxItem

    def outbox_settled() -> bool:
        with session_factory() as session:
            return session.scalar(select(OutboxItem.id).where(OutboxItem.state == "pending").limit(1)) is None

    return outbox_settled


def scheduler_ticks(session_factory, ticks: int = 2):
    """A check for `until`: true once the scheduler leader has renewed its lease often enough
    for `ticks` whole rounds (every pass renews it) to have started after this call."""
    from sqlalchemy import select

    from chatops.oncall.models import SchedulerLease

    def renewal():
        with session_factory() as session:
            return session.scalar(select(SchedulerLease.expires_at).order_by(SchedulerLease.expires_at.desc()).limit(1))

    seen = {renewal()}

    def scheduler_ticked() -> bool:
        seen.add(renewal())
        # A round renews the lease up to three times (SLA pass, paging pass, auto-resolve).
        return len(seen) > 3 * ticks
    return scheduler_ticked
