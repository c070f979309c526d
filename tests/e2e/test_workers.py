"""`chatops serve --workers 2` on SQLite: two web processes on one port and one ingest writer,
kept running by a supervisor. Webhooks through the port are stored once each; a killed child is
started again; a killed supervisor takes its children with it; SIGINT stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from chatops.db import make_engine
from chatops.tickets.models import Message
from integrations.webhook import sign
from tests.e2e.processes import Serve
from tests.helpers import inbound, until

SECRET = "workers-secret"


def children(pid: int) -> dict[str, int]:
    """The supervisor's children by role (`ingest-writer`, `web-0`, `web-1`)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    found = {}
    for child in map(int, out.split()):
        try:
            args = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:  # gone meanwhile
            continue
        args = [arg.decode() for arg in args]
        if "--role" in args:
            role = args[args.index("--role") + 1]
            found[role if role != "web" else f"web-{args[args.index('--worker-index') + 1]}"] = child
    return found


def post(url: str, n: int) -> int:
    body = inbound(f"使い方を教えてください #{n}", external_id=f"w-{n}", source="webhook", account="form",
                   author={"id": f"c{n}"}).model_dump_json().encode()
    return requests.post(url + "/webhooks/generic", data=body, timeout=10,
                         headers={"X-Chatops-Signature": sign(SECRET, body), "Content-Type": "application/json"}
                         ).status_code


def stored(database_url: str) -> tuple[int, int]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count(), func.count(Message.external_id.distinct()))
                                .where(Message.direction == "inbound")).one()
    finally:
        engine.dispose()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()[:1] != "Z"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'workers.db'}"


def test_two_web_processes_and_a_writer_store_every_webhook_once(tmp_path, sqlite_url):
    server = Serve(tmp_path, sqlite_url, "--workers", "2", CHATOPS_WEBHOOK_SECRET=SECRET, CHATOPS_SANDBOX="off")
    try:
        until(lambda: len(children(server.proc.pid)) == 3)
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda n: post(server.url, n), range(60)))
            statuses += list(pool.map(lambda n: post(server.url, n), range(20)))  # redeliveries
        assert statuses == [202] * 80
        assert stored(sqlite_url) == (60, 60)
        # /metrics sums every process's counters, whichever web process answers the scrape.
        for _ in range(6):
            scrape = requests.get(server.url + "/metrics", timeout=10).text
            assert 'chatops_inbound_messages_total{outcome="created",source="webhook"} 60.0' in scrape
            assert 'chatops_inbound_messages_total{outcome="duplicate",source="webhook"} 20.0' in scrape
        before = children(server.proc.pid)
        os.kill(before["web-1"], signal.SIGKILL)  # a crashed web process is started again
        until(lambda: children(server.proc.pid).get("web-1") not in (None, before["web-1"]), timeout=20)
        os.kill(before["ingest-writer"], signal.SIGKILL)  # so is a crashed writer
        until(lambda: children(server.proc.pid).get("ingest-writer") not in (None, before["ingest-writer"]),
              timeout=20)
        # While the writer restarts a webhook may get 503 (the network sends it again); then 202.
        until(lambda: post(server.url, 100) == 202, timeout=30)
        assert stored(sqlite_url) == (61, 61)
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(timeout=30) == 0
        assert not any(alive(pid) for pid in children(server.proc.pid).values())
    finally:
        server.stop()
    log = (tmp_path / f"serve-{server.port}.log").read_text()
    assert "2 web processes share the port; one ingest writer process" in log
    assert "web-1 exited with code -9; starting it again" in log


def test_a_killed_supervisor_takes_its_children_with_it(tmp_path, sqlite_url):
    server = Serve(tmp_path, sqlite_url, "--workers", "2", CHATOPS_WEBHOOK_SECRET=SECRET, CHATOPS_SANDBOX="off")
    try:
        until(lambda: len(children(server.proc.pid)) == 3)
        pids = list(children(server.proc.pid).values())
        server.kill()
        until(lambda: not any(alive(pid) for pid in pids), timeout=20)
    finally:
        server.stop()

