"""Ingest without HTTP: the same messages into `TicketFlows` in this process, one transaction per
message and then in group commits of 16, with the SQL statements each message costs (counted by
a SQLAlchemy `before_cursor_execute` listener) beside the CPU time. `bench/ingest_bench.py`
prints it before the served parts: it tells the ingest core's share of a served message.

    python -m bench.ingest_inprocess [DATABASE_URL]    (default: a SQLite file in a temporary folder)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import event

BATCH = 16


def measure(database_url: str, rules: Path, payloads: list[bytes], singles: int = 1000,
            batched: int = 1600) -> dict:
    """{"single"|"batch": (CPU ms per message, statements per message)} and the statements'
    most frequent kinds, after 200 warm-up messages."""
    from chatops.inbound import InboundMessage
    from chatops.runtime import Runtime
    from chatops.settings import Settings

    settings = Settings(CHATOPS_DATABASE_URL=database_url, CHATOPS_RULES=str(rules), CHATOPS_SANDBOX="off")
    runtime = Runtime.build(settings)
    messages = [InboundMessage.model_validate_json(body) for body in payloads[:200 + singles + batched]]
    counted: Counter[str] = Counter()
    counting = False

    @event.listens_for(runtime.engine, "before_cursor_execute")
    def count(_conn, _cursor, statement, _params, _context, _executemany):
        if counting:
            counted[" ".join(statement.split()[:3])] += 1

    try:
        for message in messages[:200]:
            runtime.flows.ingest(message)
        counting = True
        out = {}
        single, rest = messages[200:200 + singles], messages[200 + singles:]
        started, before = time.process_time(), sum(counted.values())
        for message in single:
            runtime.flows.ingest(message)
        out["single"] = ((time.process_time() - started) / len(single) * 1000,
                         (sum(counted.values()) - before) / len(single))
        started, before = time.process_time(), sum(counted.values())
        for i in range(0, len(rest), BATCH):
            runtime.flows.ingest_many(rest[i:i + BATCH])
        out["batch"] = ((time.process_time() - started) / len(rest) * 1000,
                        (sum(counted.values()) - before) / len(rest))
        out["kinds"] = {kind: n / (len(single) + len(rest)) for kind, n in counted.most_common(8)}
        return out
    finally:
        runtime.close()


def report(database_url: str, rules: Path, payloads: list[bytes]) -> None:
    """Print the in-process figures (no target: the served parts carry the targets)."""
    result = measure(database_url, rules, payloads)
    (single_ms, single_n), (batch_ms, batch_n) = result["single"], result["batch"]
    print(f"ingest in process ({database_url.split(':')[0]}, no HTTP): one message per transaction "
          f"{single_ms:.2f} ms CPU, {single_n:.1f} SQL statements per message; group commits of {BATCH} "
          f"{batch_ms:.2f} ms, {batch_n:.1f} statements per message")


def main(argv: list[str]) -> None:
    from bench.ingest_bench import after_hours_rules, bodies

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        url = argv[0] if argv else f"sqlite:///{tmp / 'inprocess.db'}"
        result = measure(url, after_hours_rules(tmp), bodies(2800))
        print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
