"""Slack Socket Mode in one process among all that share the database (`serve --workers N`,
replicas): the holder of the lease connects, the others wait, and one takes over when the holder
stops or its lease runs out."""

from __future__ import annotations

from chatops.background import SOCKET_MODE_LEASE, SocketModeSlot
from chatops.scheduler import Lease


class Connection:
    """What start_socket_mode returns, as far as the slot uses it."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log
        log.append(f"{name} connected")

    def close(self) -> None:
        self.log.append(f"{self.name} closed")


def slot(name: str, session_factory, clock, log: list[str]) -> SocketModeSlot:
    lease = Lease(session_factory, name=SOCKET_MODE_LEASE, holder=name, clock=clock)
    return SocketModeSlot(lease, lambda: Connection(name, log))


def test_one_process_connects_and_another_takes_over_when_it_stops(session_factory, clock):
    log: list[str] = []
    first, second = slot("worker-1", session_factory, clock, log), slot("worker-2", session_factory, clock, log)
    assert first.round() and not second.round()
    clock.advance(seconds=10)
    assert first.round() and not second.round()  # renewed: still the one connection
    assert log == ["worker-1 connected"]
    first.stop()
    assert second.round()
    assert log == ["worker-1 connected", "worker-1 closed", "worker-2 connected"]


def test_a_holder_that_stopped_renewing_loses_the_connection_to_another(session_factory, clock):
    log: list[str] = []
    stalled, other = slot("worker-1", session_factory, clock, log), slot("worker-2", session_factory, clock, log)
    assert stalled.round()
    clock.advance(seconds=31)  # past the lease's 30 s without a renewal
    assert other.round()
    assert not stalled.round()  # it sees the lease gone and disconnects
    assert log == ["worker-1 connected", "worker-2 connected", "worker-1 closed"]
