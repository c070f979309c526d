"""A local fake of a social network's API: routes by method and path, records every request,
and can be told to answer a route with a rate limit or an auth error next.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.fakes.http_recorder import Answer


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """The body parsed as a form."""
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


Route = Callable[[Call], Answer]


@dataclass
class FakeNetwork:
    """Start with `with FakeNetwork() as fake:`; add routes with `fake.route("POST", "/path", fn)`.
    `fake.next[(method, path)]` queues answers given before the route's own."""

    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    next: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                call = Call(self.command, parts.path, parse_qs(parts.query), dict(self.headers),
                            self.rfile.read(length))
                outer.calls.append(call)
                key = (call.method, call.path)
                queued = outer.next.get(key)
                if queued:
                    answer = queued.pop(0)
                else:
                    route = outer.routes.get(key) or outer._prefix_route(call)
                    answer = route(call) if route else Answer(404, {"error": f"no route {key}"})
                payload = json.dumps(answer.body).encode()
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
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _prefix_route(self, call: Call) -> Route | None:
        for (method, path), route in self.routes.items():
            if method == call.method and path.endswith("*") and call.path.startswith(path[:-1]):
                return route
        return None

    def route(self, method: str, path: str, answer: Route | Answer) -> None:
        """Answer `method path` (a trailing `*` matches any rest) with a function or a fixed answer."""
        self.routes[(method, path)] = answer if callable(answer) else (lambda call, a=answer: a)

    def queue(self, method: str, path: str, *answers: Answer) -> None:
        """Answer the next calls to `method path` with these, in order."""
        self.next.setdefault((method, path), []).extend(answers)

    def calls_to(self, method: str, path: str) -> list[Call]:
        """The recorded calls to one route."""
        return [c for c in self.calls if c.method == method and c.path == path]

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeNetwork:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
