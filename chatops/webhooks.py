"""The network webhook endpoint, `/webhooks/<network>`, served two ways with one set of rules.

- GET (Meta's and others' verification handshakes) and anything unusual go through Flask's
  route in chatops/app.py.
- A POST with a Content-Length is answered straight from WSGI (`WebhookEndpoint.wsgi`), before
  Flask builds its request context, matches the URL map and renders through `jsonify`: under a
  flood every request is one of these, and that machinery would cost more than the ingest.

Both ways call `WebhookEndpoint.handle`, which knows nothing of Flask: size limit, the source's
signature check and parsing, ingest (the process's group commit), metrics and the answer, with
errors in the caller's language (Accept-Language).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import EnvironHeaders, LanguageAccept, MultiDict
from werkzeug.http import parse_accept_header

from chatops.i18n import t
from chatops.metrics import Metrics
from integrations.base import WebhookError, WebhookSource

log = logging.getLogger("chatops.app")
PREFIX = "/webhooks/"


def language_of(environ: dict) -> str:
    """ja or en, from the request's Accept-Language (English when nothing matches)."""
    accept = parse_accept_header(environ.get("HTTP_ACCEPT_LANGUAGE"), LanguageAccept)
    return accept.best_match(["en", "ja"]) or "en"


@dataclass(frozen=True)
class Reply:
    """An answer: a JSON body, or plain text (`text`), with extra headers."""

    status: int
    body: dict[str, Any] | None = None
    text: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def encode(self, dumps: Callable[[Any], str]) -> tuple[bytes, str]:
        """The body's bytes and content type; JSON as Flask's `jsonify` writes it."""
        if self.text is not None:
            return self.text.encode(), "text/plain; charset=utf-8"
        return f"{dumps(self.body)}\n".encode(), "application/json"


class WebhookEndpoint:
    """`/webhooks/<network>` for every configured source (see module docstring)."""

    def __init__(self, sources: dict[str, WebhookSource], ingest, metrics: Metrics, *, max_body: int,
                 wake: Callable[[], None], dumps: Callable[[Any], str]) -> None:
        self.sources = sources
        self.ingest = ingest  # .ingest(messages) -> outcomes, once committed: GroupCommit
        self.metrics = metrics
        self.max_body = max_body
        self.wake = wake
        self.dumps = dumps

    def handle(self, network: str, *, method: str, headers: dict[str, str], query: dict[str, str],
               length: int | None, body: Callable[[], bytes], lang: Callable[[], str]) -> Reply:
        """Answer one request; `body` reads it (only after the size check), `lang` is asked only
        for an error's language."""
        source = self.sources.get(network)
        if source is None:
            return Reply(404, {"ok": False, "error": f"unknown network {network!r}"})
        if (length or 0) > self.max_body:
            return self._refuse(network, WebhookError(413, "webhook.too_large", limit=self.max_body), lang)
        try:
            answer = source.handle(method=method, headers=headers, query=query, body=body())
        except WebhookError as exc:
            return self._refuse(network, exc, lang)
        if answer.text is not None:
            self.metrics.webhook_requests.labels(network, str(answer.status)).inc()
            return Reply(answer.status, text=answer.text)
        if answer.unrouted:
            self.metrics.webhook_unrouted.labels(network).inc(answer.unrouted)
        results = []
        if answer.messages:
            started = time.perf_counter()
            outcomes = self.ingest.ingest(answer.messages)
            self.metrics.ingest_seconds.observe(time.perf_counter() - started)
            for message, outcome in zip(answer.messages, outcomes, strict=True):
                self.metrics.inbound.labels(message.source, outcome.outcome).inc()
                results.append({"outcome": outcome.outcome, "ticket": outcome.ticket_key})
        if any(result["outcome"] != "duplicate" for result in results):
            self.wake()  # its Slack post goes now, not at the outbox worker's next idle poll
        self.metrics.webhook_requests.labels(network, str(answer.status)).inc()
        body_out = dict(answer.body)
        if results:
            body_out["results"] = results
        return Reply(answer.status, body_out)

    def _refuse(self, network: str, exc: WebhookError, lang: Callable[[], str]) -> Reply:
        self.metrics.webhook_requests.labels(network, str(exc.status)).inc()
        return Reply(exc.status, {"ok": False, "error": t(exc.key, lang(), **exc.params)})

    def wsgi(self, fallback: Callable) -> Callable:
        """A WSGI app answering POST /webhooks/<network> itself and the rest with `fallback`."""

        def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            length_text = environ.get("CONTENT_LENGTH")
            network = path[len(PREFIX):] if path.startswith(PREFIX) else ""
            if environ.get("REQUEST_METHOD") != "POST" or network not in self.sources or not length_text \
                    or not length_text.isdigit():
                return fallback(environ, start_response)
            length = int(length_text)
            query = MultiDict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)).to_dict()
            reply = self.handle(network, method="POST", headers=dict(EnvironHeaders(environ)), query=query,
                                length=length, body=lambda: environ["wsgi.input"].read(length),
                                lang=lambda: language_of(environ))
            data, content_type = reply.encode(self.dumps)
            start_response(f"{reply.status} {HTTPStatus(reply.status).phrase}",
                           [("Content-Type", content_type), ("Content-Length", str(len(data))), *reply.headers])
            return [data]

        return app
