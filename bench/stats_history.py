"""A year of realistic support history for the stats benchmark: 1,000,000 tickets (customers,
tags, keywords, SLA deadlines, first responses, resolutions, reopens, escalations, CSAT) with
their events, and the stats facts and rollups exactly as the projector would have kept them.

Built once into a SQLite file under bench/.cache (keyed by VERSION and the ticket count) and
copied into PostgreSQL with COPY; later runs reuse both. Bulk inserts throughout: executemany
on SQLite, COPY on PostgreSQL. Messages are not generated (stats never read them).
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from chatops import migrate
from chatops.db import make_engine
from chatops.rules import Rules
from chatops.stats.models import COUNTERS
from chatops.stats.projector import StatsProjector, contribute

VERSION = 3  # bump when the generated history changes
SEED = 20261123
CACHE = Path(__file__).resolve().parent / ".cache"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # Monday 12:00 in Tokyo
DAYS = 365
SOURCES = (("x", 35), ("instagram", 15), ("line", 20), ("facebook", 10), ("mastodon", 5), ("bluesky", 5),
           ("webhook", 10))
PRIORITY = (("red", 10), ("orange", 30), ("green", 60))
CHANNEL = {"red": "support-urgent", "orange": "sales", "green": "support"}
AGENTS = [f"U0AGENT{i:02d}" for i in range(1, 16)]
TAGS = ["billing", "outage", "defect", "wrong-item", "flame-risk", "security", "not-delivered", "returns",
        "purchase", "app-error", "how-to", "account", "praise", "has-order-number", "vip", "campaign",
        "shipping", "coupon", "login", "subscription", "feature-request", "spam", "press", "store", "gift"]
KEYWORDS = ["二重請求", "返金まだ", "障害", "繋がらない", "ログインできない", "不良品", "壊れた", "誤配送", "炎上",
            "不正利用", "届かない", "追跡番号", "返品", "交換", "在庫", "再入荷", "値段", "エラー", "バグ", "使い方",
            "設定", "教えて", "パスワード", "アカウント", "ありがとう", "refund", "login", "error", "crash", "password",
            "order", "delivery", "coupon", "sale", "stock", "price", "broken", "late", "help", "thanks"]
FIRST_RESPONSE = {"red": timedelta(hours=1), "orange": timedelta(hours=4), "green": timedelta(hours=8)}
RESOLUTION = {"red": timedelta(hours=8), "orange": timedelta(hours=24), "green": timedelta(days=3)}


def _ts(value: datetime | None) -> str | None:
    """A UTC datetime as SQLAlchemy stores it on SQLite."""
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _weighted(rng: random.Random, pairs) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _ticket(rng: random.Random, tid: int, created: datetime, customers: list[str]) -> dict:
    """One ticket's life, drawn from fixed distributions."""
    priority = _weighted(rng, PRIORITY)
    speed = {"red": 0.4, "orange": 1.0, "green": 1.6}[priority]
    customer = rng.randrange(len(customers))
    t = {"id": tid, "source": _weighted(rng, SOURCES), "priority": priority, "channel": CHANNEL[priority],
         "customer_id": customer + 1, "tier": customers[customer], "created_at": created,
         "assignee": rng.choice(AGENTS),
         "tags": sorted(set(rng.sample(TAGS, k=rng.choice((0, 1, 1, 2))))),
         "keywords": sorted(set(rng.sample(KEYWORDS, k=rng.choice((0, 1, 1, 2))))),
         "level": "L1", "first_response_at": None, "resolved_at": None, "reopened": None, "escalated": None,
         "csat_requested_at": None, "csat_rated_at": None, "csat_score": None,
         "first_response_due_at": created + FIRST_RESPONSE[priority],
         "resolution_due_at": created + RESOLUTION[priority]}
    age = NOW - created
    first = timedelta(minutes=rng.lognormvariate(math.log(12 * speed), 1.3))
    if first >= age and rng.random() < 0.5:
        t["assignee"] = None  # waiting in the queue
    if first < age:
        t["first_response_at"] = created + first
        resolve = first + timedelta(minutes=rng.lognormvariate(math.log(180 * speed), 1.2))
        if resolve < age and rng.random() < 0.999:
            t["resolved_at"] = created + resolve
            if rng.random() < 0.03:  # reopened before its final resolution
                t["reopened"] = created + first + (resolve - first) / 2
            if rng.random() < 0.4:
                t["csat_requested_at"] = t["resolved_at"]
                if rng.random() < 0.35 and t["resolved_at"] + timedelta(hours=2) < NOW:
                    t["csat_rated_at"] = t["resolved_at"] + timedelta(hours=2)
                    t["csat_score"] = rng.choices((1, 2, 3, 4, 5), weights=(5, 5, 10, 30, 50))[0]
        roll = rng.random()
        if roll < 0.06:
            t["level"] = "L3" if roll < 0.01 else "L2"
            t["escalated"] = created + first + timedelta(minutes=5)
    return t


def _events(t: dict) -> list[tuple]:
    rows = [(t["id"], "created", f"customer:{t['customer_id']}", _ts(t["created_at"]), "{}")]
    if t["first_response_at"]:
        rows.append((t["id"], "replied", t["assignee"], _ts(t["first_response_at"]), '{"first_response": true}'))
    if t["escalated"]:
        rows.append((t["id"], "escalated", t["assignee"], _ts(t["escalated"]), json.dumps({"level_to": t["level"]})))
    if t["reopened"]:
        rows.append((t["id"], "reopened", t["assignee"], _ts(t["reopened"]), "{}"))
    if t["resolved_at"]:
        rows.append((t["id"], "resolved", t["assignee"], _ts(t["resolved_at"]), "{}"))
    return rows


def _flush(conn: sqlite3.Connection, daily: dict, hist: dict) -> None:
    cols = ", ".join(COUNTERS)
    marks = ", ".join("?" for _ in COUNTERS)
    adds = ", ".join(f"{c} = {c} + excluded.{c}" for c in COUNTERS)
    conn.executemany(
        f"INSERT INTO stats_daily (fdim, fval, day, gdim, gval, {cols}) VALUES (?, ?, ?, ?, ?, {marks}) "
        f"ON CONFLICT (fdim, fval, day, gdim, gval) DO UPDATE SET {adds}",
        [(*key, *(counters.get(c, 0) for c in COUNTERS)) for key, counters in daily.items()])
    conn.executemany(
        "INSERT INTO stats_durations (fdim, fval, day, metric, minutes, count) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (fdim, fval, day, metric, minutes) DO UPDATE SET count = count + excluded.count",
        [(*key, count) for key, count in hist.items()])
    daily.clear()
    hist.clear()


def build_sqlite(path: Path, rules: Rules, tickets: int) -> None:
    """Write the history into a fresh, migrated SQLite file at `path`."""
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    rng = random.Random(SEED)
    projector = StatsProjector(rules)
    tz = rules.business_hours.tz
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    conn.execute("BEGIN")
    customers = ["premium" if rng.random() < 0.1 else "standard" for _ in range(max(1000, tickets // 6))]
    conn.executemany(
        "INSERT INTO customers (id, source, external_user_id, handle, name, tier, flags, first_seen_at, "
        "last_seen_at) VALUES (?, 'x', ?, ?, NULL, ?, '[]', ?, ?)",
        [(i + 1, f"c{i + 1}", f"@c{i + 1}", tier, _ts(NOW - timedelta(days=DAYS)), _ts(NOW))
         for i, tier in enumerate(customers)])
    start = NOW - timedelta(days=DAYS)
    per_day = tickets / DAYS
    daily: dict = defaultdict(lambda: defaultdict(int))
    hist: dict = defaultdict(int)
    tid = 0
    for day in range(DAYS):
        day_start = start + timedelta(days=day)
        count = tickets - tid if day == DAYS - 1 else int(per_day * (day + 1)) - tid
        moments = sorted(day_start + timedelta(seconds=rng.random() * 86400) for _ in range(count))
        batch = []
        for created in moments:
            tid += 1
            batch.append(_ticket(rng, tid, created, customers))
        _write_day(conn, batch, projector, tz, daily, hist)
        if day % 10 == 9:
            _flush(conn, daily, hist)
    _flush(conn, daily, hist)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def _write_day(conn, batch: list[dict], projector: StatsProjector, tz, daily: dict, hist: dict) -> None:
    ticket_rows, tag_rows, event_rows, fact_rows = [], [], [], []
    for t in batch:
        status = ("resolved" if t["resolved_at"] else ("pending" if t["id"] % 3 == 0 else "open")
                  if t["first_response_at"] else "new")
        ticket_rows.append((
            t["id"], t["source"], "@acme_jp", f"e{t['id']}", t["customer_id"], status, t["priority"], t["level"],
            t["channel"], t["assignee"], f"subject {t['id']}", "ja", "[]", json.dumps(t["keywords"]), "[]",
            _ts(t["created_at"]), _ts(t["resolved_at"] or t["first_response_at"] or t["created_at"]),
            _ts(t["created_at"]), _ts(t["first_response_at"]), _ts(t["resolved_at"]),
            _ts(t["first_response_due_at"]), _ts(t["resolution_due_at"]), 1 if t["reopened"] else 0,
            t["csat_score"], _ts(t["csat_requested_at"]), _ts(t["csat_rated_at"])))
        tag_rows += [(t["id"], tag) for tag in t["tags"]]
        event_rows += _events(t)
        fact = projector.fact(SimpleNamespace(**t), t["tags"])
        fact_rows.append((t["id"], *(json.dumps(fact[k]) if k in ("tags", "keywords") else fact[k]
                                      for k in StatsProjector.FIELDS)))
        extra = []
        if t["reopened"]:
            extra.append((t["reopened"].astimezone(tz).date().toordinal(), {"reopened": 1}))
        if t["escalated"]:
            extra.append((t["escalated"].astimezone(tz).date().toordinal(), {f"esc_{t['level'].lower()}": 1}))
        contribute(fact, 1, daily, hist, extra)
    conn.executemany(
        "INSERT INTO tickets (id, source, account, external_id, customer_id, status, priority, level, channel, "
        "assignee, subject, lang, matched_rules, keywords, notify, created_at, updated_at, "
        "last_customer_message_at, first_response_at, resolved_at, first_response_due_at, resolution_due_at, "
        "reopened_count, csat_score, csat_requested_at, csat_rated_at, version) "
        "VALUES (" + ", ".join("?" * 26) + ", 1)", ticket_rows)
    conn.executemany("INSERT INTO ticket_tags (ticket_id, tag) VALUES (?, ?)", tag_rows)
    conn.executemany("INSERT INTO ticket_events (ticket_id, kind, actor, at, payload) VALUES (?, ?, ?, ?, ?)",
                     event_rows)
    fields = ", ".join(["ticket_id", *StatsProjector.FIELDS])
    conn.executemany(f"INSERT INTO stats_facts ({fields}) VALUES ({', '.join('?' * (1 + len(StatsProjector.FIELDS)))})",
                     fact_rows)


def sqlite_history(rules: Rules, tickets: int) -> Path:
    """The cached SQLite history file, built when missing."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"stats-v{VERSION}-{tickets}.db"
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        started = time.perf_counter()
        build_sqlite(partial, rules, tickets)
        partial.rename(path)
        print(f"generated {tickets:,} tickets into {path.name} in {time.perf_counter() - started:.0f} s")
    return path


TABLES = ("customers", "tickets", "ticket_tags", "ticket_events", "stats_facts", "stats_daily", "stats_durations")


def load_postgresql(url: str, source: Path, marker: str) -> bool:
    """Copy the SQLite history into PostgreSQL at `url` (COPY), unless it already holds `marker`."""
    from sqlalchemy import text

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_marker (name text PRIMARY KEY)"))
        if conn.execute(text("SELECT 1 FROM bench_marker WHERE name = :m"), {"m": marker}).first():
            engine.dispose()
            return False
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(engine)
    lite = sqlite3.connect(source)
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            for table in TABLES:
                columns = [row[1] for row in lite.execute(f"PRAGMA table_info({table})")]
                timestamps = {i for i, row in enumerate(lite.execute(f"PRAGMA table_info({table})"))
                              if row[2].upper().startswith(("DATETIME", "TIMESTAMP"))}
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in lite.execute(f"SELECT {', '.join(columns)} FROM {table}"):
                        if timestamps:
                            row = [v + "+00" if i in timestamps and v is not None else v for i, v in enumerate(row)]
                        copy.write_row(row)
            for table in ("customers", "tickets", "ticket_events"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_marker (name text PRIMARY KEY)"))
        conn.execute(text("INSERT INTO bench_marker VALUES (:m)"), {"m": marker})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    lite.close()
    return True
