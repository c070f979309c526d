"""Group commit for ingest: request threads hand their messages to one writer thread, which
stores whatever has queued up meanwhile in one transaction (`IngestFlows.ingest_many`).

Why: a database with one writer at a time (SQLite) spends most of a lone ingest on the commit
and on the stats rollup rows every ticket touches; a batch pays for those once. Under light load
a message is alone in its batch and waits for nothing; under a flood the batch grows by itself
to whatever arrived during the previous commit, so latency stays near one transaction.
A webhook is answered only after its batch has committed: an accepted message is stored.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from chatops.inbound import InboundMessage
from chatops.tickets.ingest import IngestFlows, IngestResult

log = logging.getLogger("chatops.ingest")


class GroupCommit:
    """`ingest(messages)` from any thread; one daemon thread writes the batches."""

    def __init__(self, flows: IngestFlows, *, max_batch: int = 64) -> None:
        self.flows = flows
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Sequence[InboundMessage], Future]] = queue.SimpleQueue()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None

    def ingest(self, messages: Sequence[InboundMessage], timeout: float | None = 60.0) -> list[IngestResult]:
        """Store `messages` (in order, within one batch) and return their outcomes once committed;
        raises the error of the first message that could not be stored."""
        if not messages:
            return []
        self._ensure_thread()
        future: Future = Future()
        self._queue.put((messages, future))
        results = future.result(timeout)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            jobs = [self._queue.get()]
            size = len(jobs[0][0])
            while size < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                jobs.append(job)
                size += len(job[0])
            self._write(jobs)

    def _write(self, jobs: list[tuple[Sequence[InboundMessage], Future]]) -> None:
        messages = [message for batch, _ in jobs for message in batch]
        try:
            results = self.flows.ingest_many(messages)
        except BaseException as exc:  # never leave a request thread waiting
            log.exception("group commit of %d messages failed", len(messages))
            for _, future in jobs:
                future.set_exception(exc)
            return
        start = 0
        for batch, future in jobs:
            future.set_result(results[start:start + len(batch)])
            start += len(batch)
