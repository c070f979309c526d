"""Load benchmark (issue 8): two `chatops serve` replicas on one fresh PostgreSQL database, the
fake Slack on 127.0.0.1 with Slack's real pace (SLACK_POST_INTERVAL 1.0 s), the SLA scheduler on,
and a load generator in a second process posting signed webhooks open-loop at a sustained rate
(bench/load_traffic.py: a 炎上 day — replies under one brand post, an outage topic spike, everyday
tickets, some deliveries sent to both replicas).

Reports throughput, HTTP ingest latency, webhook-to-Slack latency, replica memory over time,
losses, duplicates, per-channel pacing and how long the backlog took to drain; the last line is
`load: PASS|FAIL …`. Settings (environment):

  BENCH_LOAD_PG_URL    PostgreSQL server to create the database on
                       (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres)
  BENCH_LOAD_DB        database name, created fresh and dropped after (default chatops_load)
  BENCH_LOAD_RATE      messages per second (default 200)
  BENCH_LOAD_SECONDS   how long to send (default 60)
  BENCH_LOAD_DRAIN     seconds to wait after the load for Slack to show everything (default 120)
  BENCH_LOAD_THREADS   waitress threads per replica (default 8)
  BENCH_LOAD_BACKGROUND  everyday tickets a second within the rate (default 1, spread over three
                       channels; the rest is the flood)

The fake Slack is tests/fakes/slack_api.py, imported as `tests.fakes.slack_api`: `python -m
bench` runs from the repository root, which is on sys.path, and `tests` is a package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import create_engine, text

from bench.load_report import Report, analyse
from bench.load_traffic import SECRET, plan
from chatops import migrate
from chatops.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_LOAD_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_LOAD_DB", "chatops_load")
RATE = float(os.environ.get("BENCH_LOAD_RATE", "200"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
DRAIN = float(os.environ.get("BENCH_LOAD_DRAIN", "120"))
THREADS = os.environ.get("BENCH_LOAD_THREADS", "8")
BACKGROUND = float(os.environ.get("BENCH_LOAD_BACKGROUND", "1"))
INTERVAL = 1.0  # Slack: about one message per second per channel
TOKEN = "xoxb-load"


def database_url(name: str) -> str:
    parts = urlsplit(PG_URL)
    return urlunsplit(parts._replace(path="/" + name))


def recreate_database(name: str, *, drop_only: bool = False) -> None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if not drop_only:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def error_entries(text: str) -> list[str]:
    """Each ERROR line of a replica's log with the traceback lines that follow it (up to the
    exception's last line), so the report says why, not only that."""
    entries, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if " ERROR " not in line:
            continue
        tail = []
        for follow in lines[i + 1:i + 60]:
            if follow[:4].isdigit() and follow[4:5] == "-":  # the next log line
                break
            tail.append(follow)
        entries.append("\n      ".join([line, *tail[-3:]]))
    return entries


def start_replica(url: str, slack_api: str, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, CHATOPS_DATABASE_URL=url, CHATOPS_WEBHOOK_SECRET=SECRET,
               CHATOPS_RULES=str(ROOT / "rules.yaml"), CHATOPS_LOG_LEVEL="WARNING", CHATOPS_SANDBOX="off",
               CHATOPS_SCHEDULER="true", SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET="load-signing",
               SLACK_API_URL=slack_api, SLACK_POST_INTERVAL=str(INTERVAL))
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "chatops", "serve", "--port", str(port), "--threads", THREADS],
                                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    return proc


def wait_healthy(procs: list[subprocess.Popen], ports: list[int], logs: list[Path]) -> None:
    import http.client

    for proc, port, log in zip(procs, ports, logs, strict=True):
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chatops serve did not start:\n" + log.read_text()[-3000:])
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (from /proc): survives a busy machine."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def sample_rss(procs: list[subprocess.Popen], samples: list, stop: threading.Event, every: float = 5.0) -> None:
    started = time.monotonic()
    while True:
        samples.append((time.monotonic() - started, [rss_kib(proc.pid) for proc in procs]))
        if stop.wait(every):
            return


def pending_slack(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM outbox WHERE state = 'pending' AND target = 'slack'"))


def backlog_lanes(engine, limit: int = 5) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(
            "SELECT ordering_key, count(*) FROM outbox WHERE state = 'pending' AND target = 'slack' "
            "GROUP BY ordering_key ORDER BY count(*) DESC LIMIT :n"), {"n": limit})]


def main() -> bool:
    """Run the load, print the figures and `load: PASS|FAIL …`; True when every target is met."""
    from tests.e2e.processes import free_port
    from tests.fakes.slack_api import FakeSlack

    recreate_database(DB_NAME)
    url = database_url(DB_NAME)
    engine = make_engine(url)
    migrate.upgrade(engine)  # once, before the replicas start (they would race on a fresh database)
    procs: list[subprocess.Popen] = []
    try:
        with FakeSlack(token=TOKEN) as slack, tempfile.TemporaryDirectory() as tmp:
            ports = [free_port(), free_port()]
            logs = [Path(tmp) / f"replica{i}.log" for i in range(2)]
            procs = [start_replica(url, slack.api_url, port, log) for port, log in zip(ports, logs, strict=True)]
            wait_healthy(procs, ports, logs)
            items = plan(RATE, SECONDS, background=BACKGROUND)
            plan_path, out_path = Path(tmp) / "plan.json", Path(tmp) / "sent.jsonl"
            plan_path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
            samples: list = []
            stop = threading.Event()
            sampler = threading.Thread(target=sample_rss, args=(procs, samples, stop), daemon=True)
            sampler.start()
            cpu_before = sum(cpu_seconds(proc.pid) for proc in procs)
            generator = subprocess.run(
                [sys.executable, "-m", "bench.load_traffic", str(plan_path), str(out_path),
                 *(f"http://127.0.0.1:{port}" for port in ports)], cwd=ROOT, timeout=SECONDS + 300)
            load_ended = time.time()
            backlog_at_end = pending_slack(engine)
            lanes_at_end = backlog_lanes(engine)
            drained_at = None
            while time.time() - load_ended < DRAIN:
                if pending_slack(engine) == 0:
                    drained_at = time.time()
                    break
                time.sleep(1)
            time.sleep(1.5)  # anything posted twice would show now
            report_cpu = sum(cpu_seconds(proc.pid) for proc in procs) - cpu_before
            stop.set()
            sampler.join()
            left = pending_slack(engine)
            sent = [json.loads(line) for line in out_path.read_text().splitlines()]
            report = analyse(engine, slack, sent, items, interval=INTERVAL, rate=RATE, seconds=SECONDS)
            report.generator_exit = generator.returncode
            report.backlog_at_end, report.lanes_at_end, report.left = backlog_at_end, lanes_at_end, left
            report.drain = None if drained_at is None else drained_at - load_ended
            report.rss = samples
            report.server_cpu = report_cpu
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
            report.server_errors = [error for log in logs for error in error_entries(log.read_text())]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        engine.dispose()
        recreate_database(DB_NAME, drop_only=True)
    return print_report(report)


def print_report(report: Report) -> bool:
    for line in report.lines(drain_limit=DRAIN):
        print(line)
    return report.passed


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
