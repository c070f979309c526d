"""Builders shared by tests."""

from __future__ import annotations

import itertools
import time
from contextlib import contextmanager
from datetime import UTC, datetime

from chatops.inbound import InboundMessage

_ids = itertools.count(1000)
BASE_TIME = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def inbound(text: str = "使い方を教えてください", **fields) -> InboundMessage:
    """An InboundMessage on X from customer u1 to @acme_jp, unless fields say otherwise."""
    author = fields.pop("author", {"id": "u1", "handle": "@hanako", "name": "Hanako"})
    data = {
        "source": "x", "account": "@acme_jp", "external_id": f"m{next(_ids)}", "author": author,
        "text": text, "created_at": BASE_TIME.isoformat(), "lang": "ja", "kind": "mention",
        "url": None, "conversation_id": None, "in_reply_to": None,
    }
    data.update(fields)
    return InboundMessage.model_validate(data)


def until(check, timeout: float = 10.0, every: float = 0.05):
    """Poll `check()` until it returns something truthy (returned), or fail after `timeout` s.
    For waiting on other threads and processes; never for asserting how fast they are."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    found = check()
    if found:
        return found
    raise AssertionError(f"timed out after {timeout:g} s waiting for {getattr(check, '__name__', 'a condition')}")


NETWORKS = ("x", "facebook", "instagram", "line", "mastodon", "bluesky", "webhook", "youtube", "tiktok")


def deliver_replies(flows, *, deliverer=None) -> int:
    """Deliver every queued network reply at `flows.clock` to a network that accepts them
    (or answers as `deliverer` does), running the flows' done and dead hooks; how many were tried."""
    from chatops.outbox import Outbox

    ids = itertools.count(1)

    def accept(item):
        return {"external_id": f"net-{item.id}-{next(ids)}"}

    outbox = Outbox(flows.session_factory, {f"network:{name}": deliverer or accept for name in NETWORKS},
                    on_done={"reply": flows.reply_delivered}, on_dead={"reply": flows.reply_failed},
                    clock=flows.clock, max_attempts=1)
    total = 0
    while done := outbox.run_once():
        total += done
    return total


def answer(flows, key: str, **fields):
    """An agent's reply that the network accepts at once (first response counted at acceptance)."""
    message = flows.reply(key, **fields)
    deliver_replies(flows)
    return message


def open_after_reply(flows) -> None:
    """rules.yaml `sla.pending_after_reply: false` for these flows: a delivered reply leaves the
    ticket open (its resolution clock running), as the SLA tables of some tests assume."""
    sla = flows.rules.sla.model_copy(update={"pending_after_reply": False})
    flows.rules = flows.rules.model_copy(update={"sla": sla})


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """`chatops ARGV` in this process, as a shell would see it: (exit code, stdout, stderr)."""
    from chatops.cli import main

    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def cli_env(monkeypatch, tmp_path, database_url: str, *, lang: str = "en"):
    """A CLI test's working directory and environment: `tmp_path`, the database, the shipped
    rules and the language."""
    from tests.conftest import RULES_PATH

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("CHATOPS_RULES", str(RULES_PATH))
    monkeypatch.setenv("CHATOPS_LANG", lang)
    return tmp_path


@contextmanager
def failing_inserts(engine, external_id: str, *, bad_row: bool = False, times: int | None = None,
                    sqlstate: str = "P0001"):
    """While open, the database itself refuses to store inbound message `external_id` (every try,
    or only the first `times`): a constraint violation when `bad_row`, else a server error with
    `sqlstate` (PostgreSQL; SQLite raises its own). Yields, with `times`, a function counting the
    tries the database saw. Tests reach ingest's failure paths this way instead of replacing its methods."""
    if engine.dialect.name == "sqlite":
        if times is not None:
            raise ValueError("SQLite triggers cannot count across rolled-back transactions")
        # RAISE() is a constraint error in SQLite; json() on a non-JSON text is an ordinary one.
        fail = "SELECT RAISE(ABORT, 'bad row')" if bad_row else "SELECT json('not json')"
        ddl = [f"CREATE TRIGGER test_fail_insert BEFORE INSERT ON messages WHEN NEW.external_id = '{external_id}' "
               f"BEGIN {fail}; END"]
        drop = ["DROP TRIGGER IF EXISTS test_fail_insert"]
    else:
        code = "check_violation" if bad_row else sqlstate
        refuse = f"RAISE EXCEPTION 'database refused {external_id}' USING ERRCODE = '{code}';"
        if times is not None:  # a sequence counts tries: nextval() is not undone by a rollback
            refuse = f"IF nextval('test_fail_insert_tries') <= {times} THEN {refuse} END IF;"
        ddl = ["CREATE SEQUENCE test_fail_insert_tries",
               "CREATE FUNCTION test_fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               f"IF NEW.external_id = '{external_id}' THEN {refuse} END IF; RETURN NEW; END $$",
               "CREATE TRIGGER test_fail_insert BEFORE INSERT ON messages FOR EACH ROW "
               "EXECUTE FUNCTION test_fail_insert()"]
        drop = ["DROP TRIGGER IF EXISTS test_fail_insert ON messages", "DROP FUNCTION IF EXISTS test_fail_insert()",
                "DROP SEQUENCE IF EXISTS test_fail_insert_tries"]
    with engine.begin() as conn:
        for statement in ddl:
            conn.exec_driver_sql(statement)

    def tries() -> int:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
                                        "FROM test_fail_insert_tries").scalar()

    try:
        yield tries if times is not None else None
    finally:
        with engine.begin() as conn:
            for statement in drop:
                conn.exec_driver_sql(statement)
