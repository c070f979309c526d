"""Rollups under concurrent writers: tickets worked in parallel threads end with exactly the
rows a rebuild from the tickets gives (no lost update, no deadlock)."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from chatops.stats.models import StatsDaily, StatsDuration
from chatops.stats.rebuild import rebuild
from tests.helpers import BASE_TIME, inbound


def rollup_rows(engine):
    with engine.connect() as conn:
        daily = sorted(tuple(r) for r in conn.execute(select(StatsDaily)) if any(r[5:]))
        durations = sorted(tuple(r) for r in conn.execute(select(StatsDuration)) if r.count)
    return daily, durations


def test_parallel_work_keeps_rollups_exact(flows, rules, engine, session_factory):
    errors = []

    def work(worker: int) -> None:
        try:
            for n in range(4):
                created = BASE_TIME + timedelta(minutes=worker * 10 + n)
                key = flows.ingest(inbound("二重請求されています", author={"id": f"w{worker}-{n}"},
                                           source=("x", "line")[worker % 2],
                                           created_at=created.isoformat())).ticket_key
                flows.claim(key, actor=f"U{worker}")
                flows.tag(key, actor=f"U{worker}", add=["shared", f"t{n}"])
                flows.reply(key, actor=f"U{worker}", text="確認します")
                flows.resolve(key, actor=f"U{worker}")
        except Exception as exc:  # reported below with the worker's number
            errors.append((worker, repr(exc)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    incremental = rollup_rows(engine)
    assert rebuild(session_factory, rules) == 16
    assert rollup_rows(engine) == incremental
