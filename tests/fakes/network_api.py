"""A local fake of a social network's API: routes by method and path, records every request,
and can be told to answer a route with a rate limit or an auth error next.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from tests.fakes.http_recorder import Answer, JsonServer


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
class FakeNetwork(JsonServer):
    """Start with `with FakeNetwork() as fake:`; add routes with `fake.route("POST", "/path", fn)`.
    `fake.next[(method, path)]` queues answers given before the route's own."""

    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    next: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.start_server()

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        parts = urlsplit(path)
        call = Call(method, parts.path, parse_qs(parts.query), headers, body)
        self.calls.append(call)
        key = (call.method, call.path)
        queued = self.next.get(key)
        if queued:
            return queued.pop(0)
        route = self.routes.get(key) or self._prefix_route(call)
        return route(call) if route else Answer(404, {"error": f"no route {key}"})

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
