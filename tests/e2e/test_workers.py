"""`chatops serve --workers 2`: on PostgreSQL, gunicorn's two worker processes on one port store
every webhook once, count together at /metrics, a crashed worker is started again, and SIGTERM
or SIGINT stops everything; on SQLite it is refused with a message naming PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from chatops.db import make_engine
from chatops.tickets.models import Message
from integrations.webhook import sign
from tests.conftest import RULES_PATH
from tests.e2e.processes import Serve
from tests.helpers import inbound, until

SECRET = "workers-secret"


def workers_of(pid: int) -> list[int]:
    """The live child processes of `pid` (gunicorn's workers)."""
    out = subprocess.run(["ps", "-o", "pid=,stat=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if not line.split()[1].startswith("Z")]


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
            return tuple(conn.execute(select(func.count(), func.count(Message.external_id.distinct()))
                                      .where(Message.direction == "inbound")).one())
    finally:
        engine.dispose()


def gone(pids: list[int]) -> bool:
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
        if state and not state.startswith("Z"):
            return False
    return True


@pytest.fixture
def pg_url(database_url) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("serve --workers N needs PostgreSQL (set CHATOPS_TEST_DATABASE_URL)")
    return database_url


def start(tmp_path, url: str) -> Serve:
    server = Serve(tmp_path, url, "--workers", "2", CHATOPS_WEBHOOK_SECRET=SECRET, CHATOPS_SANDBOX="off")
    until(lambda: len(workers_of(server.proc.pid)) == 2, timeout=60)
    return server


def test_two_workers_store_every_webhook_once_and_stop_on_sigterm(tmp_path, pg_url):
    server = start(tmp_path, pg_url)
    try:
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda n: post(server.url, n), range(60)))
            statuses += list(pool.map(lambda n: post(server.url, n), range(20)))  # redeliveries
        assert statuses == [202] * 80
        assert stored(pg_url) == (60, 60)
        # /metrics sums both workers' counters, whichever worker answers the scrape.
        for _ in range(6):
            scrape = requests.get(server.url + "/metrics", timeout=10).text
            assert 'chatops_inbound_messages_total{outcome="created",source="webhook"} 60.0' in scrape
            assert 'chatops_inbound_messages_total{outcome="duplicate",source="webhook"} 20.0' in scrape
        crashed = workers_of(server.proc.pid)[0]
        os.kill(crashed, signal.SIGKILL)  # gunicorn starts another in its place
        until(lambda: crashed not in workers_of(server.proc.pid) and len(workers_of(server.proc.pid)) == 2,
              timeout=60)
        until(lambda: post(server.url, 100) == 202, timeout=30)
        assert stored(pg_url) == (61, 61)
        running = workers_of(server.proc.pid)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=60) == 0
        assert gone(running)
    finally:
        server.stop()
    log = (tmp_path / f"serve-{server.port}.log").read_text()
    assert "2 worker processes share the port (gunicorn)" in log


def test_sigint_stops_every_worker(tmp_path, pg_url):
    server = start(tmp_path, pg_url)
    try:
        running = workers_of(server.proc.pid)
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(timeout=60) == 0
        assert gone(running)
    finally:
        server.stop()


@pytest.mark.parametrize(("lang", "says"), [("en", "--workers 2 needs PostgreSQL"),
                                            ("ja", "--workers 2 には PostgreSQL が必要です")])
def test_workers_on_sqlite_are_refused_naming_postgresql(tmp_path, lang, says):
    env = dict(os.environ, CHATOPS_DATABASE_URL=f"sqlite:///{tmp_path / 'one.db'}", CHATOPS_RULES=str(RULES_PATH),
               CHATOPS_LANG=lang, CHATOPS_SANDBOX="off")
    result = subprocess.run([sys.executable, "-m", "chatops", "serve", "--port", "0", "--workers", "2"], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert says in result.stderr
    assert not (tmp_path / "one.db").exists()  # refused before anything was opened
