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


def test_ingest_shortcuts_leave_what_a_rebuild_gives(flows, rules, engine, session_factory):
    """Ingest hands the projector a new ticket's columns instead of it reading them back, and the
    projector skips follow-ups that raise nothing and tag nothing: the fact rows and rollups must
    be exactly those a rebuild from the tickets gives, on both databases. The example file has
    new tickets on every network, follow-ups (some raising priority or adding tags), duplicates,
    premium customers and a burst."""
    from chatops.cli.jsonl import parse_lines
    from chatops.stats.models import StatsFact
    from tests.conftest import ROOT

    messages = [message for _, message, _ in parse_lines((ROOT / "examples" / "mentions.jsonl").open(), "en")
                if message is not None]
    for message in messages[:20]:
        flows.ingest(message)
    flows.ingest_many(messages[20:])
    later = BASE_TIME + timedelta(minutes=5)
    flows.ingest(inbound("ありがとう", external_id="f1", conversation_id=messages[0].thread_id,
                         author=messages[0].author.model_dump(), source=messages[0].source,
                         account=messages[0].account, created_at=later.isoformat()))
    flows.ingest(inbound("二重請求もされています、返品したい", external_id="f2", conversation_id=messages[1].thread_id,
                         author=messages[1].author.model_dump(), source=messages[1].source,
                         account=messages[1].account, created_at=later.isoformat()))

    def facts():
        with engine.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(select(StatsFact)))

    incremental = rollup_rows(engine), facts()
    assert rebuild(session_factory, rules) > 20
    assert (rollup_rows(engine), facts()) == incremental
