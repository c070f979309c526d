"""A local HTTP server on 127.0.0.1:0 that records requests and answers from a script."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def stop(server: socketserver.BaseServer) -> None:
    """Stop a server's `serve_forever` at once and close it: `shutdown()` alone waits for the
    loop's next poll, so a connection wakes the loop to see the request sooner."""
    stopper = threading.Thread(target=server.shutdown)
    stopper.start()
    while stopper.is_alive():
        with contextlib.suppress(OSError):
            socket.create_connection(server.server_address[:2], timeout=1).close()
        stopper.join(0.005)
    server.server_close()


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Answer:
    """What to reply: status, JSON body and headers (or `raw` bytes instead of JSON, e.g. media)."""

    status: int = 200
    body: dict = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


class JsonServer:
    """A threaded HTTP server on 127.0.0.1:0 answering JSON; subclasses say what to answer.
    Use as `with Subclass() as server:`; `server.url` is its base URL."""

    def start_server(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                answer = outer.respond(self.command, self.path, dict(self.headers), self.rfile.read(length))
                payload = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET = do_PUT = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """The answer to one request (path with its query string)."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        stop(self.server)


class RecordingServer(JsonServer):
    """Records every request; answers from `server.answers` in order, then `server.default`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.answers: list[Answer] = []
        self.default = Answer(200, {"ok": True})
        self.start_server()

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        self.requests.append(Recorded(method, path, headers, body))
        return self.answers.pop(0) if self.answers else self.default
