"""Ingest benchmark: signed InboundMessages POSTed to /webhooks/generic of a real `chatops serve`
(separate process, SQLite file) by concurrent keep-alive clients; prints messages/s and latency
percentiles from the client's side, and checks every message was stored exactly once."""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from integrations.webhook import sign

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
MESSAGES = int(os.environ.get("BENCH_INGEST_MESSAGES", "6000"))
CLIENTS = int(os.environ.get("BENCH_INGEST_CLIENTS", "4"))
TARGET_RATE, TARGET_P99_MS = 500.0, 20.0

TEXTS = [
    "注文した商品が届かないです。注文番号 {n} です",
    "二重請求されています!至急確認してください",
    "ログインできません、障害ですか?",
    "How do I change my shipping address? order #{n}",
    "返品したいのですが手続きを教えてください",
    "Love the new release, thanks team!",
    "在庫はいつ再入荷しますか?",
    "I was charged twice for order {n}, please refund",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bodies(count: int) -> list[bytes]:
    """Realistic messages: many customers, some follow-ups in the same conversation."""
    rng = random.Random(7)
    start = datetime(2026, 11, 20, tzinfo=UTC)
    out = []
    for n in range(count):
        author = f"user{rng.randrange(count // 3)}"
        out.append(json.dumps({
            "source": rng.choice(["x", "facebook", "instagram", "line", "mastodon", "bluesky"]),
            "account": "@acme_jp", "external_id": f"bench-{n}", "conversation_id": f"c{rng.randrange(count // 2)}",
            "author": {"id": author, "handle": "@" + author, "name": author},
            "text": rng.choice(TEXTS).format(n=100000 + n),
            "created_at": (start + timedelta(seconds=n)).isoformat(), "lang": "ja", "kind": "mention",
        }, ensure_ascii=False).encode())
    return out


def start_server(db: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, CHATOPS_DATABASE_URL=f"sqlite:///{db}", CHATOPS_WEBHOOK_SECRET=SECRET,
               CHATOPS_RULES=str(ROOT / "rules.yaml"), CHATOPS_LOG_LEVEL="WARNING",
               # A production server: no browser sandbox (it would post every ticket to its own
               # embedded Slack); the SLA scheduler stays on as in production.
               CHATOPS_SANDBOX="off")
    proc = subprocess.Popen([sys.executable, "-m", "chatops", "serve", "--port", str(port),
                             "--threads", os.environ.get("BENCH_INGEST_THREADS", "8")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("chatops serve did not start: " + proc.stderr.read().decode()[-2000:])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (Linux /proc), so the figure survives a busy
    machine: wall-clock throughput drops when other work shares the cores, CPU per message doesn't."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client(port: int, work: list[bytes], latencies: list[float], failures: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for body in work:
        headers = {"Content-Type": "application/json", "X-Chatops-Signature": sign(SECRET, body)}
        started = time.perf_counter()
        conn.request("POST", "/webhooks/generic", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 202:
            failures.append(response.status)


def main() -> bool:
    """Run the benchmark, print figures and a one-line summary; True when targets are met."""
    payloads = bodies(MESSAGES)
    with tempfile.TemporaryDirectory() as tmp:
        db, port = Path(tmp) / "bench.db", free_port()
        proc = start_server(db, port)
        try:
            warm = payloads[:200]
            client(port, warm, [], [])
            rest = payloads[200:]
            latencies: list[float] = []
            failures: list[int] = []
            shards = [rest[i::CLIENTS] for i in range(CLIENTS)]
            threads = [threading.Thread(target=client, args=(port, shard, latencies, failures)) for shard in shards]
            cpu_before = cpu_seconds(proc.pid)
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds(proc.pid) - cpu_before
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        stored = sqlite3.connect(db).execute(
            "SELECT count(*), count(DISTINCT external_id) FROM messages WHERE direction='inbound'").fetchone()
    latencies.sort()
    rate = len(rest) / elapsed
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    ok = rate >= TARGET_RATE and p99 < TARGET_P99_MS and not failures and stored == (MESSAGES, MESSAGES)
    print(f"ingest: {len(rest)} messages, {CLIENTS} clients, SQLite, via POST /webhooks/generic")
    print(f"  throughput {rate:,.0f} msgs/s (target ≥ {TARGET_RATE:.0f})")
    print(f"  latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1] * 1000:.1f} ms (target p99 < {TARGET_P99_MS:.0f} ms)")
    print(f"  server CPU {cpu / len(rest) * 1000:.2f} ms per message ({cpu / elapsed:.0%} of one core; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"  stored {stored[0]} rows, {stored[1]} distinct of {MESSAGES} sent; non-202 answers: {len(failures)}")
    print(f"ingest: {'PASS' if ok else 'FAIL'} {rate:,.0f} msgs/s p99 {p99:.1f} ms")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
