"""One ingest writer process for several web processes on one SQLite file.

`chatops serve --workers N` on SQLite runs N web processes and one writer. The web processes
parse, authenticate and validate webhooks (most of a request's CPU); the writer stores every
process's messages in group-commit batches (`IngestFlows.ingest_many`) and answers each request
once its batch has committed.

Why a process of its own: SQLite has one writer at a time. When each web process wrote its own
batches, the process holding the write lock shared its interpreter lock with its own request
threads, so the lock was held two or three times longer than the write took, and throughput
fell below one process's. The writer process runs nothing else, so the write lock is held only
while writing.

Wire: a Unix socket; one JSON line per request, the array of its InboundMessages, and one JSON
line per answer, `{"results": [{"outcome", "ticket_id", "message_id"} | {"error"}]}` or
`{"error": ...}`. Messages are written and read by pydantic's compiled JSON (de)serialiser.
A web thread keeps its own connection and has one request in flight on it. A lost writer fails
the request (the webhook gets a 503 and the network delivers it again; ingest is idempotent, so
a message committed just before the writer died is then a duplicate).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
from collections.abc import Sequence

from pydantic import TypeAdapter, ValidationError

from chatops.inbound import InboundMessage
from chatops.tickets.group_commit import split
from chatops.tickets.ingest import IngestResult

log = logging.getLogger("chatops.ingest_writer")

_MESSAGES = TypeAdapter(list[InboundMessage])


class IngestUnavailable(Exception):
    """The writer could not be reached or did not answer: the messages may not be stored."""


class IngestFailed(Exception):
    """The writer answered that a message could not be stored."""


class IngestWriter:
    """Serves ingest over a Unix socket; one thread writes batches of everything queued."""

    def __init__(self, flows, path: str, *, max_batch: int = 64) -> None:
        self.flows = flows
        self.path = path
        self.max_batch = max_batch
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._listener: socket.socket | None = None

    def bind(self) -> IngestWriter:
        """Listen on the socket path (replacing a stale file left by a killed writer)."""
        if os.path.exists(self.path):
            os.unlink(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        listener.listen(256)
        self._listener = listener
        return self

    def serve_forever(self, stop: threading.Event) -> None:
        """Accept web processes' connections until `stop` is set."""
        writer = threading.Thread(target=self._write_loop, args=(stop,), name="ingest-writer", daemon=True)
        writer.start()
        listener = self._listener or self.bind()._listener
        listener.settimeout(0.5)
        try:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                threading.Thread(target=self._read_loop, args=(conn,), name="ingest-conn", daemon=True).start()
        finally:
            stop.set()
            listener.close()
            writer.join(timeout=30)  # the batch being written commits before the process ends

    def _read_loop(self, conn: socket.socket) -> None:
        """One connection: decode each request line and queue it for the write loop."""
        reader = conn.makefile("rb")
        send_lock = threading.Lock()
        try:
            for line in reader:
                try:
                    messages = _MESSAGES.validate_json(line)
                except ValidationError as exc:
                    _send(conn, send_lock, {"error": f"bad ingest request: {exc}"})
                    continue
                self._jobs.put((conn, send_lock, messages))
        except OSError:
            pass  # the web process went away; its requests fail there
        finally:
            reader.close()

    def _write_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                batch = [self._jobs.get(timeout=0.5)]
            except queue.Empty:
                continue
            size = len(batch[0][2])
            while size < self.max_batch:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                batch.append(job)
                size += len(job[2])
            self._write(batch)

    def _write(self, batch: list) -> None:
        messages = [message for _, _, job_messages in batch for message in job_messages]
        try:
            results = self.flows.ingest_many(messages)
        except Exception as exc:  # noqa: BLE001 - every waiting web request gets an answer
            log.exception("ingest batch of %d messages failed", len(messages))
            for conn, send_lock, _ in batch:
                _send(conn, send_lock, {"error": f"{type(exc).__name__}: {exc}"})
            return
        for (conn, send_lock, _), mine in zip(batch, split(results, [len(job[2]) for job in batch]), strict=True):
            _send(conn, send_lock, {"results": [_encode(result) for result in mine]})


def _encode(result: IngestResult | Exception) -> dict:
    if isinstance(result, Exception):
        return {"error": f"{type(result).__name__}: {result}"}
    return {"outcome": result.outcome, "ticket_id": result.ticket_id, "message_id": result.message_id}


def _send(conn: socket.socket, lock: threading.Lock, answer: dict) -> None:
    data = json.dumps(answer, ensure_ascii=False).encode() + b"\n"
    try:
        with lock:
            conn.sendall(data)
    except OSError:
        log.warning("an ingest answer could not be sent: the web process went away")


class RemoteIngest:
    """The web processes' side: `ingest(messages)` as `GroupCommit.ingest`, through the writer."""

    def __init__(self, path: str, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._local = threading.local()

    def ingest(self, messages: Sequence[InboundMessage]) -> list[IngestResult]:
        """Store `messages` through the writer; their outcomes once committed. Raises
        IngestFailed for a message the writer could not store, IngestUnavailable when the
        writer could not be asked or did not answer."""
        if not messages:
            return []
        request = _MESSAGES.dump_json(list(messages)) + b"\n"
        conn = self._connection()
        try:
            conn.sock.sendall(request)
            line = conn.reader.readline()
        except OSError as exc:
            self._drop()
            raise IngestUnavailable(f"ingest writer at {self.path}: {exc}") from exc
        if not line:
            self._drop()
            raise IngestUnavailable(f"ingest writer at {self.path} closed the connection")
        answer = json.loads(line)
        if "error" in answer:
            raise IngestFailed(answer["error"])
        results = []
        for item in answer["results"]:
            if "error" in item:
                raise IngestFailed(item["error"])
            results.append(IngestResult(item["outcome"], item["ticket_id"], item["message_id"]))
        return results

    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.path)
            except OSError as exc:
                sock.close()
                raise IngestUnavailable(f"ingest writer at {self.path}: {exc}") from exc
            conn = _Conn(sock, sock.makefile("rb"))
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.reader.close()
            conn.sock.close()


class _Conn:
    __slots__ = ("sock", "reader")

    def __init__(self, sock: socket.socket, reader) -> None:
        self.sock, self.reader = sock, reader
