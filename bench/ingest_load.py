"""Load generators of the ingest benchmark: signed webhooks as networks send them, closed loop
(each client waits for its answer) and open loop (at a fixed rate, whatever the answers)."""

from __future__ import annotations

import asyncio
import http.client
import threading
import time

from integrations.webhook import sign

SECRET = "bench-secret"


def client(port: int, work: list[bytes], latencies: list[float], failures: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for body in work:
        headers = {"Content-Type": "application/json", "X-Chatops-Signature": sign(SECRET, body)}
        started = time.perf_counter()
        conn.request("POST", "/webhooks/generic", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 202:
            failures.append(response.status)
        if response.will_close:
            conn.close()


def closed_loop(port: int, work: list[bytes], clients: int) -> tuple[list[float], list[int], float]:
    """`clients` threads, each sending its share of `work` and waiting for every answer."""
    latencies: list[float] = []
    failures: list[int] = []
    threads = [threading.Thread(target=client, args=(port, work[i::clients], latencies, failures))
               for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(latencies), failures, time.perf_counter() - started


def request_bytes(port: int, body: bytes) -> bytes:
    """A signed webhook as the raw HTTP/1.1 request a network sends (built before the run)."""
    head = (f"POST /webhooks/generic HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Chatops-Signature: {sign(SECRET, body)}\r\n\r\n")
    return head.encode() + body


def open_loop(port: int, work: list[bytes], rate: float, connections: int) -> tuple[list[float], list[int], float]:
    """Send `work` at a fixed `rate` (message i at t0 + i/rate), as networks deliver webhooks:
    they don't wait for our previous answer. Latency counts from each message's scheduled time,
    so a server that falls behind shows it (no coordinated omission). Returns (sorted latencies,
    failures, seconds from the first scheduled send to the last answer).

    One asyncio loop drives `connections` keep-alive connections with requests signed and
    encoded beforehand: the generator shares the machine's cores with the server, and threads
    of http.client would cost a tenth of the server's own CPU per request."""
    latencies, failures, elapsed = asyncio.run(
        _open_loop([request_bytes(port, body) for body in work], port, rate, connections))
    return sorted(latencies), failures, elapsed


async def _open_loop(requests: list[bytes], port: int, rate: float, connections: int):
    latencies: list[float] = []
    failures: list[int] = []
    idle: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.2

    async def send(scheduled: float, request: bytes) -> None:
        while True:
            reader, writer = await idle.get()  # every connection busy: this message waits, and its latency shows it
            writer.write(request)
            status_line = await reader.readline()
            if not status_line:  # the server had closed this idle connection: send again on a new one
                writer.close()
                idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
                continue
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            await reader.readexactly(length)
            latencies.append(loop.time() - scheduled)
            status = int(status_line.split()[1])
            if status != 202:
                failures.append(status)
            if close:
                writer.close()
                idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
            else:
                idle.put_nowait((reader, writer))
            return

    tasks = []
    for i, request in enumerate(requests):
        scheduled = t0 + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(scheduled, request)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - t0
    while not idle.empty():
        _, writer = idle.get_nowait()
        writer.close()
    return latencies, failures, elapsed


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, int(len(sorted_values) * fraction + 0.5) - 1)]
