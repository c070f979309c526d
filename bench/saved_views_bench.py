"""Saved views' true counts at 1,000,000 tickets (BENCH_SAVED_VIEWS_TICKETS to change), beside a
floor: each view's COUNT query (chatops.tickets.saved_views.count_query, as App Home runs it)
timed on SQLite and PostgreSQL (median of several runs after one warm-up), next to the cheapest
count there is on the same data, a hand-written `count(*)` of the open tickets on its index.

Targets: every view under 100 ms on SQLite and under 150 ms on PostgreSQL, and its plan reads
an index (never a scan of the whole tickets table). PostgreSQL is CHATOPS_BENCH_PG_URL (default:
database bench_saved_views on 127.0.0.1, created when missing); skipped with a note when unreachable.
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bench.stats_bench import _ensure_pg_database
from chatops.db import Base, make_engine
from chatops.tickets.saved_views import ViewFilters, count_query

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
TICKETS = int(os.environ.get("BENCH_SAVED_VIEWS_TICKETS", "1000000"))
PG_URL = os.environ.get("CHATOPS_BENCH_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/bench_saved_views")
RUNS = 7
TARGETS_MS = {"sqlite": 100.0, "postgresql": 150.0}
NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
AGENT = "U0AGENT001"
CHANNELS = ("support-urgent", "support", "returns", "sales")
TAGS = ("billing", "refund", "outage", "shipping", "app", "vip")
VIEWS = {
    "mine": ViewFilters(assignee="mine"),
    "unassigned": ViewFilters(assignee="unassigned"),
    "overdue": ViewFilters(overdue=True),
    "channels": ViewFilters(channels=("support-urgent", "returns")),
    "channel+priority": ViewFilters(channels=("support",), priorities=("red", "orange")),
    "tag": ViewFilters(tags=("billing",)),
    "level+status": ViewFilters(levels=("L3",), statuses=("new",)),
    "resolved, a channel": ViewFilters(statuses=("resolved",), channels=("sales",)),
}
FLOOR_SQL = "SELECT count(*) FROM tickets WHERE status IN ('new', 'open', 'pending')"
VERSION = 2  # of the generated data: a new one rebuilds the cache and the PostgreSQL copy


def _ts(value: datetime | None) -> str | None:
    """A UTC datetime as SQLAlchemy stores it on SQLite (what the queries' bound moments compare with)."""
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _rows(count: int):
    """Tickets as a year of support leaves them: 2 % still open, a fifth assigned, a third tagged."""
    rng = random.Random(24)
    agents = [f"U0AGENT{n:03d}" for n in range(1, 21)]
    for tid in range(1, count + 1):
        created = NOW - timedelta(minutes=(count - tid) / 2)
        is_open = rng.random() < 0.02
        status = rng.choice(("new", "open", "pending")) if is_open else "resolved"
        answered = status != "new"
        due = created + timedelta(hours=rng.choice((1, 4, 24)))
        yield (tid, "x", "@acme_jp", f"e{tid}", 1, status, rng.choice(("red", "orange", "green")),
               rng.choice(("L1", "L1", "L2", "L3")), rng.choice(CHANNELS),
               rng.choice(agents) if rng.random() < 0.2 else None, "subject", "[]", "[]", "[]",
               _ts(created), _ts(created), _ts(created), _ts(created + timedelta(minutes=30)) if answered else None,
               None if is_open else _ts(created + timedelta(hours=2)), _ts(due), _ts(due + timedelta(days=2)))


def build_sqlite(count: int) -> Path:
    """The tickets in a SQLite file (built once, reused), with the schema the models describe."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"saved-views-v{VERSION}-{count}.db"
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{partial}")
    Base.metadata.create_all(engine)
    engine.dispose()
    conn = sqlite3.connect(partial)
    conn.execute("INSERT INTO customers (id, source, external_user_id, tier, flags, first_seen_at, last_seen_at) "
                 "VALUES (1, 'x', 'u1', 'standard', '[]', ?, ?)", (_ts(NOW), _ts(NOW)))
    conn.executemany(
        "INSERT INTO tickets (id, source, account, external_id, customer_id, status, priority, level, channel, "
        "assignee, subject, matched_rules, keywords, notify, created_at, updated_at, last_customer_message_at, "
        "first_response_at, resolved_at, first_response_due_at, resolution_due_at, reopened_count, version) "
        "VALUES (" + ", ".join("?" * 21) + ", 0, 1)", _rows(count))
    rng = random.Random(7)
    conn.executemany("INSERT INTO ticket_tags (ticket_id, tag) VALUES (?, ?)",
                     ((tid, rng.choice(TAGS)) for tid in range(1, count + 1) if tid % 3 == 0))
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    partial.rename(path)
    return path


def load_postgresql(url: str, source: Path) -> None:
    """The SQLite file's tickets copied into PostgreSQL (once per size), then VACUUM ANALYZE."""
    engine = make_engine(url)
    mark = f"v{VERSION}-{TICKETS}"
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_saved_views (data text)"))
        have = conn.execute(text("SELECT data FROM bench_saved_views")).scalar()
    if have != mark:
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        lite = sqlite3.connect(source)
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL TIME ZONE 'UTC'"))  # the copied moments are UTC without an offset
            conn.execute(text("DELETE FROM bench_saved_views"))
            conn.execute(text("INSERT INTO bench_saved_views VALUES (:mark)"), {"mark": mark})
            raw = conn.connection.driver_connection
            with raw.cursor() as cursor:
                for table in ("customers", "tickets", "ticket_tags"):
                    names = [row[1] for row in lite.execute(f"PRAGMA table_info({table})")]
                    with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                        for row in lite.execute(f"SELECT {', '.join(names)} FROM {table}"):
                            copy.write_row(row)
        lite.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE tickets"))
        conn.execute(text("VACUUM ANALYZE ticket_tags"))
    engine.dispose()


def _median_ms(run) -> tuple[float, object]:
    answer = run()
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), answer


def time_views(url: str) -> tuple[float, dict[str, tuple[float, int, bool]]]:
    """(floor ms, {view: (median ms, count, plan reads an index)}) on one database."""
    engine = make_engine(url)
    results = {}
    with engine.connect() as conn:
        floor, _ = _median_ms(lambda: conn.execute(text(FLOOR_SQL)).scalar())
        for name, filters in VIEWS.items():
            query = count_query(filters, user_id=AGENT, now=NOW)
            median, count = _median_ms(lambda q=query: conn.execute(q).scalar())
            sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
            plan = " ".join(str(row[-1]) for row in conn.execute(text(explain + sql)))
            whole = "SCAN tickets" in plan.replace("SCAN tickets USING", "") if engine.dialect.name == "sqlite" \
                else "Seq Scan on tickets" in plan
            results[name] = (median, count, not whole)
    engine.dispose()
    return floor, results


def main() -> bool:
    """Build or reuse the tickets, time every view on both databases, print a summary line."""
    path = build_sqlite(TICKETS)
    urls = {"sqlite": f"sqlite:///{path}"}
    if _ensure_pg_database(PG_URL):
        load_postgresql(PG_URL, path)
        urls["postgresql"] = PG_URL
    passed, counts, summary = True, {}, []
    print(f"{'database':<11} {'view':<20} {'count':>8} {'median ms':>10} {'floor ms':>9} {'target':>7}  result")
    for db, url in urls.items():
        floor, results = time_views(url)
        for name, (median, count, indexed) in results.items():
            ok = median < TARGETS_MS[db] and indexed
            passed &= ok
            counts.setdefault(name, set()).add(count)
            print(f"{db:<11} {name:<20} {count:>8,} {median:>10.1f} {floor:>9.1f} {TARGETS_MS[db]:>7.0f}  "
                  f"{'PASS' if ok else 'FAIL' if indexed else 'FAIL (whole-table scan)'}")
        summary.append(f"{db} slowest {max(m for m, _, _ in results.values()):.0f} ms (floor {floor:.0f} ms)")
    same = all(len(found) == 1 for found in counts.values())
    passed &= same
    print(f"saved views: {'PASS' if passed else 'FAIL'} counts over {TICKETS:,} tickets: {', '.join(summary)}; "
          f"counts identical on {' and '.join(urls)}: {same}")
    return passed


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
