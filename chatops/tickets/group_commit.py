"""Group commit for ingest: messages from webhooks that arrive while a transaction is being
written are stored together in the next one (`TicketFlows.ingest_many`).

Why: a database with one writer at a time (SQLite) spends much of a lone ingest on the commit
and on the stats rollup rows every ticket touches; a batch pays for those once.
How (leader/follower, as databases do it for their log): a request thread that finds no write
in progress writes its own messages itself, with no hand-off to another thread. Threads that
arrive meanwhile queue up; when the leader's write is done it hands the lead to one of them,
which writes everything queued (up to `max_batch` messages) in one transaction. Under light
load nothing waits; under a flood the batch grows to whatever arrived during one commit.
A webhook is answered only after its own batch has committed: an accepted message is stored.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence

from chatops.inbound import InboundMessage
from chatops.tickets.ingest import IngestResult

log = logging.getLogger("chatops.ingest")


class _Job:
    __slots__ = ("messages", "results", "error", "lead", "wake")

    def __init__(self, messages: Sequence[InboundMessage]) -> None:
        self.messages = messages
        self.results: list[IngestResult | Exception] | None = None
        self.error: BaseException | None = None
        self.lead = False  # this job's thread writes the next batch
        self.wake = threading.Event()  # set when the job is done or its thread is to lead

    @property
    def done(self) -> bool:
        return self.results is not None or self.error is not None


class GroupCommit:
    """`ingest(messages)` from any thread; concurrent calls share transactions."""

    def __init__(self, flows, *, max_batch: int = 64) -> None:
        self.flows = flows
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: deque[_Job] = deque()
        self._writing = False

    def ingest(self, messages: Sequence[InboundMessage]) -> list[IngestResult]:
        """Store `messages` (in order, in one transaction) and return their outcomes once
        committed; raises the error of the first message that could not be stored."""
        if not messages:
            return []
        job = _Job(messages)
        with self._lock:
            self._queue.append(job)
            if not self._writing:
                self._writing = job.lead = True  # no write in progress: this thread leads
        if not job.lead:
            job.wake.wait()  # woken once: its batch committed, or it is to lead the next one
        if not job.done:
            self._lead(job)
        return self._outcome(job)

    def _lead(self, job: _Job) -> None:
        while not job.done:
            with self._lock:
                batch = self._take()
            self._write(batch)
        with self._lock:  # hand the lead to the oldest waiting job (one wake-up, not a stampede)
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
                successor.wake.set()
            else:
                self._writing = False

    def _take(self) -> list[_Job]:
        """The oldest queued jobs, up to max_batch messages (at least one job)."""
        batch, size = [], 0
        while self._queue and (not batch or size + len(self._queue[0].messages) <= self.max_batch):
            job = self._queue.popleft()
            batch.append(job)
            size += len(job.messages)
        return batch

    def _write(self, batch: list[_Job]) -> None:
        messages = [message for job in batch for message in job.messages]
        try:
            results = self.flows.ingest_many(messages)
        except BaseException as exc:  # never leave a waiting request without an answer
            log.exception("group commit of %d messages failed", len(messages))
            for job in batch:
                job.error = exc
                job.wake.set()
            return
        for job, mine in zip(batch, split(results, [len(job.messages) for job in batch]), strict=True):
            job.results = mine
            job.wake.set()

    @staticmethod
    def _outcome(job: _Job) -> list[IngestResult]:
        if job.error is not None:
            raise job.error
        for result in job.results:
            if isinstance(result, Exception):
                raise result
        return job.results


def split(results: list, sizes: Sequence[int]) -> list[list]:
    """A batch's results cut back into its requests' shares, in order."""
    out, start = [], 0
    for size in sizes:
        out.append(results[start:start + size])
        start += size
    return out
