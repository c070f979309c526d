"""Slack's Socket Mode side on 127.0.0.1: a minimal RFC 6455 WebSocket server that says `hello`,
pushes envelopes (slash commands, interactivity, events) and collects the app's acks."""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import socket
import struct
import threading

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


class FakeSocketMode:
    """`with FakeSocketMode() as ws:`; give `ws.url` from apps.connections.open, then `send(envelope)`
    and `ack(envelope_id)` to wait for the app's answer."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.acks: queue.Queue[dict] = queue.Queue()
        self.connected = threading.Event()
        self._conn: socket.socket | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.listener.getsockname()[1]}/link/?ticket=t1"

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.listener.close()
        if self._conn is not None:
            self._conn.close()

    def send(self, envelope: dict) -> None:
        """Push one envelope to the connected app."""
        if not self.connected.wait(10):
            raise AssertionError("the app never connected over Socket Mode")
        self._frame(TEXT, json.dumps(envelope).encode())

    def ack(self, envelope_id: str, timeout: float = 10) -> dict:
        """The app's ack for `envelope_id` (its `payload` is what Slack would show)."""
        while True:
            ack = self.acks.get(timeout=timeout)
            if ack.get("envelope_id") == envelope_id:
                return ack

    # -- the wire ----------------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        headers = dict(line.split(": ", 1) for line in request.decode().split("\r\n")[1:] if ": " in line)
        accept = base64.b64encode(hashlib.sha1((headers["Sec-WebSocket-Key"] + _GUID).encode()).digest()).decode()
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        self._conn = conn
        self._frame(TEXT, json.dumps({"type": "hello", "num_connections": 1,
                                      "connection_info": {"app_id": "A0001"}}).encode())
        self.connected.set()
        try:
            while True:
                opcode, payload = self._read(conn)
                if opcode == TEXT:
                    self.acks.put(json.loads(payload))
                elif opcode == PING:
                    self._frame(PONG, payload)
                elif opcode == CLOSE:
                    return
        except (OSError, ConnectionError):
            return

    def _frame(self, opcode: int, payload: bytes) -> None:
        head = bytes([0x80 | opcode])
        if len(payload) < 126:
            head += bytes([len(payload)])
        elif len(payload) < 65536:
            head += bytes([126]) + struct.pack("!H", len(payload))
        else:
            head += bytes([127]) + struct.pack("!Q", len(payload))
        with self._lock:
            self._conn.sendall(head + payload)

    @staticmethod
    def _read(conn: socket.socket) -> tuple[int, bytes]:
        def exactly(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = conn.recv(n - len(data))
                if not chunk:
                    raise ConnectionError("closed")
                data += chunk
            return data

        first, second = exactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", exactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", exactly(8))[0]
        mask = exactly(4) if second & 0x80 else b"\0\0\0\0"
        data = exactly(length)
        return first & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))
