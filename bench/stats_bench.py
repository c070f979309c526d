"""`/stats 30d` over a year of history (1,000,000 tickets by default, BENCH_STATS_TICKETS to change):
the figures' queries timed on SQLite and PostgreSQL (median and best of several runs, after one
warm-up), plus the slash command's ack time through a signed request to the real Bolt app.

Targets: under 500 ms on SQLite, under 200 ms on PostgreSQL; ack well inside Slack's 3 s.
PostgreSQL is CHATOPS_BENCH_PG_URL (default: database bench_stats on 127.0.0.1, created when
missing); skipped with a note when unreachable.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from bench.stats_history import NOW, VERSION, load_postgresql, sqlite_history
from chatops.db import make_engine, make_session_factory
from chatops.rules import load_rules
from chatops.stats.period import parse_query
from chatops.stats.query import compute

ROOT = Path(__file__).resolve().parent.parent
TICKETS = int(os.environ.get("BENCH_STATS_TICKETS", "1000000"))
PG_URL = os.environ.get("CHATOPS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_stats")
RUNS = 9
TARGETS_MS = {"sqlite": 500.0, "postgresql": 200.0}


def time_stats(url: str, rules, words: list[str]) -> tuple[float, float, dict]:
    """(median ms, best ms, figures) of computing `/stats <words>` RUNS times after a warm-up."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    query = parse_query(words, rules, NOW)
    with factory() as session:
        figures = compute(session, rules, query, NOW)
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        with factory() as session:
            compute(session, rules, parse_query(words, rules, NOW), NOW)
        samples.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return statistics.median(samples), min(samples), figures


def time_slash_command(url: str, rules) -> tuple[float, float]:
    """(ack ms, answer ms) of a signed `/stats 30d` through the real Bolt app: the HTTP answer
    Slack waits for (3 s at most), and the figures reaching the response_url."""
    import urllib.parse

    from slack_sdk.signature import SignatureVerifier

    from chatops.app import create_app
    from chatops.runtime import Runtime
    from chatops.settings import Settings
    from tests.fakes.http_recorder import RecordingServer

    secret = "bench-signing-secret"
    with RecordingServer() as slack:
        settings = Settings(database_url=url, rules_path=ROOT / "rules.yaml", slack_bot_token="xoxb-bench",
                            slack_signing_secret=secret, slack_api_url=slack.url + "/api/")
        runtime = Runtime.build(settings, upgrade_db=False, rules=rules)
        client = create_app(runtime).test_client()
        body = urllib.parse.urlencode({"command": "/stats", "text": "30d", "user_id": "U0MANAGER1",
                                       "channel_id": "C1", "team_id": "T1", "trigger_id": "x",
                                       "response_url": slack.url + "/respond"})
        timestamp = str(int(time.time()))
        headers = {"X-Slack-Request-Timestamp": timestamp, "Content-Type": "application/x-www-form-urlencoded",
                   "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)}
        started = time.perf_counter()
        response = client.post("/slack/events", data=body, headers=headers)
        acked = time.perf_counter() - started
        while not [r for r in slack.requests if r.path == "/respond"] and time.perf_counter() - started < 30:
            time.sleep(0.005)
        answered = time.perf_counter() - started
        runtime.close()
        answers = [r for r in slack.requests if r.path == "/respond"]
    assert response.status_code == 200 and answers and "blocks" in answers[0].json(), "no figures from /stats"
    return acked * 1000, answered * 1000


def _ensure_pg_database(url: str) -> bool:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    try:
        admin = make_engine(target.set(database="postgres").render_as_string(hide_password=False))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                {"d": target.database}).first():
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        admin.dispose()
        return True
    except Exception as exc:  # no server here: report and skip
        print(f"postgresql: skipped ({type(exc).__name__}: {str(exc).splitlines()[0]})")
        return False


def main() -> bool:
    """Build or reuse the history, time /stats 30d on both databases, print a summary line."""
    rules = load_rules(ROOT / "rules.yaml")
    path = sqlite_history(rules, TICKETS)
    results = {}
    urls = {"sqlite": f"sqlite:///{path}"}
    if _ensure_pg_database(PG_URL):
        started = time.perf_counter()
        if load_postgresql(PG_URL, path, f"stats-v{VERSION}-{TICKETS}"):
            print(f"copied the history into PostgreSQL in {time.perf_counter() - started:.0f} s")
        urls["postgresql"] = PG_URL
    print(f"{'database':<11} {'query':<18} {'median ms':>10} {'best ms':>9} {'target':>7}  result")
    for name, url in urls.items():
        for words in (["30d"], ["7d"], ["2026-10"], ["30d", "channel:support"], ["30d", "tag:billing"]):
            median, best, figures = time_stats(url, rules, words)
            label = " ".join(words)
            if words == ["30d"]:
                results[name] = (median, figures)
            verdict = ("PASS" if median < TARGETS_MS[name] else "FAIL") if words == ["30d"] else ""
            print(f"{name:<11} {label:<18} {median:>10.1f} {best:>9.1f} {TARGETS_MS[name]:>7.0f}  {verdict}")
    ack_ms, answer_ms = time_slash_command(urls["sqlite"], rules)
    print(f"slash command on SQLite: acked in {ack_ms:.0f} ms (Slack allows 3,000), "
          f"figures at the response_url after {answer_ms:.0f} ms")
    same = len({repr(figures) for _, figures in results.values()}) == 1
    volume = results["sqlite"][1]["volume"]["created"]["value"]
    print(f"30d figures identical on {' and '.join(results)}: {same}; tickets created in the 30 days: {volume:,}")
    passed = same and ack_ms < 3000 and all(median < TARGETS_MS[name] for name, (median, _) in results.items())
    summary = ", ".join(f"{name} {median:.0f} ms" for name, (median, _) in results.items()) + f", ack {ack_ms:.0f} ms"
    print(f"stats: {'PASS' if passed else 'FAIL'} /stats 30d over {TICKETS:,} tickets: {summary}")
    return passed


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
