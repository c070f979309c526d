"""The ingest writer (one process storing the webhooks of several web processes on SQLite) and
the supervisor's restart policy, in process: outcomes as group commit gives them, one message's
failure its own, a missing writer a clear IngestUnavailable, a child that cannot start not
restarted forever."""

from __future__ import annotations

import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from chatops.ingest_writer import IngestFailed, IngestUnavailable, IngestWriter, RemoteIngest
from chatops.supervisor import Supervisor
from chatops.tickets.models import Message
from tests.helpers import failing_inserts, inbound


@pytest.fixture
def writer(flows, tmp_path):
    path = str(tmp_path / "ingest.sock")
    stop = threading.Event()
    server = IngestWriter(flows, path).bind()
    thread = threading.Thread(target=server.serve_forever, args=(stop,), daemon=True)
    thread.start()
    yield path
    stop.set()
    thread.join(timeout=10)


def test_messages_from_many_threads_are_stored_once_with_their_outcomes(writer, session_factory):
    remote = RemoteIngest(writer)
    first = inbound("二重請求されています", external_id="m1", conversation_id="c1", author={"id": "a1"})
    follow_up = inbound("まだですか?", external_id="m2", conversation_id="c1", author={"id": "a1"})
    assert [r.outcome for r in remote.ingest([first, follow_up])] == ["created", "threaded"]
    assert remote.ingest([first])[0].outcome == "duplicate"
    many = [inbound(f"届かない #{n}", external_id=f"n{n}", author={"id": f"u{n}"}) for n in range(40)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda message: remote.ingest([message])[0], many))
    assert {o.outcome for o in outcomes} == {"created"}
    assert len({o.ticket_key for o in outcomes}) == 40
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Message).where(Message.direction == "inbound")) == 42


def test_a_message_that_cannot_be_stored_fails_alone(writer, engine):
    good = inbound("返品したい", external_id="g1", author={"id": "g"})
    bad = inbound("boom", external_id="b1", author={"id": "b"})
    remote = RemoteIngest(writer)
    with failing_inserts(engine, "b1"):
        with pytest.raises(IngestFailed, match="malformed JSON|database refused b1"):  # the database's reason
            remote.ingest([bad])
        assert remote.ingest([good])[0].outcome == "created"


def test_a_request_the_writer_cannot_read_is_answered_with_an_error(writer):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(writer)
        sock.sendall(b'[{"source": "myspace"}]\n')
        answer = sock.makefile("rb").readline()
    assert b"bad ingest request" in answer and b"source" in answer


def test_no_writer_is_an_unavailable_error_not_a_hang(tmp_path):
    with pytest.raises(IngestUnavailable, match="ingest.sock"):
        RemoteIngest(str(tmp_path / "ingest.sock")).ingest([inbound("届かない")])


def test_a_child_that_keeps_exiting_at_start_stops_the_supervisor(caplog):
    listener = socket.create_server(("127.0.0.1", 0))
    exits = [sys.executable, "-c", "import sys; sys.exit(3)"]  # the role arguments land in sys.argv
    supervisor = Supervisor(exits, listener, workers=1, writer=False)
    assert supervisor.run() == 1
    assert "web-0 exited 3 times right after starting (last exit code 3); stopping" in caplog.text
