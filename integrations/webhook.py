"""The generic webhook: any system posts one InboundMessage as JSON, signed with HMAC-SHA256.

    X-Chatops-Signature: sha256=<hex HMAC-SHA256(CHATOPS_WEBHOOK_SECRET, raw body)>
"""

from __future__ import annotations

import hashlib
import hmac
import json

import requests
from pydantic import ValidationError

from chatops.errors import validation_problems
from chatops.outbox import DeliveryError
from integrations.base import (
    InboundMessage,
    OutboundReply,
    Sink,
    WebhookError,
    WebhookResponse,
    WebhookSource,
)
from integrations.http import make_http_session, retry_after_seconds

SIGNATURE_HEADER = "X-Chatops-Signature"


def sign(secret: str, body: bytes) -> str:
    """The header value a sender puts in X-Chatops-Signature for this body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of X-Chatops-Signature against the raw body."""
    # Bytes, not str: compare_digest refuses non-ASCII strings, and a forged header may be anything.
    return bool(header) and hmac.compare_digest(sign(secret, body).encode(), header.strip().encode("utf-8", "replace"))


class GenericWebhook(WebhookSource):
    """`POST /webhooks/generic`: one signed InboundMessage per request."""

    name = "generic"

    def __init__(self, secret: str | None) -> None:
        self.secret = secret

    def handle(self, *, method: str, headers: dict[str, str], query: dict[str, str],
               body: bytes) -> WebhookResponse:
        """Verify the signature, then validate the JSON as an InboundMessage."""
        if not self.secret:
            raise WebhookError(503, "webhook.not_configured")
        if method != "POST":
            raise WebhookError(405, "webhook.bad_json", message="use POST")
        if not signature_ok(self.secret, body, headers.get(SIGNATURE_HEADER)):
            raise WebhookError(401, "webhook.bad_signature")
        try:
            message = InboundMessage.model_validate_json(body)
        except ValidationError as exc:
            if exc.errors()[0]["type"] == "json_invalid":
                raise WebhookError(400, "webhook.bad_json", message=exc.errors()[0]["msg"]) from None
            field, problem = validation_problems(exc, "(body)")[0]
            raise WebhookError(400, "webhook.bad_field", field=field, message=problem) from None
        return WebhookResponse(202, {"ok": True}, [message])


class GenericWebhookSink(Sink):
    """Replies to tickets that came through the generic webhook: POSTed, signed the same way,
    to CHATOPS_WEBHOOK_REPLY_URL, with the outbox dedupe key as `Idempotency-Key`."""

    target = "network:webhook"

    def __init__(self, url: str, secret: str, http: requests.Session | None = None) -> None:
        self.url = url
        self.secret = secret
        self.http = http or make_http_session()

    def send(self, reply: OutboundReply) -> str | None:
        """POST the reply; DeliveryError says whether the outbox should retry."""
        body = json.dumps({
            "ticket": reply.ticket_key, "account": reply.account, "text": reply.text,
            "in_reply_to": reply.in_reply_to, "conversation_id": reply.conversation_id,
            "idempotency_key": reply.idempotency_key,
        }, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body),
                   "Idempotency-Key": reply.idempotency_key}
        try:
            response = self.http.post(self.url, data=body, headers=headers)
        except requests.RequestException as exc:
            raise DeliveryError(f"reply webhook unreachable: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryError(f"reply webhook answered {response.status_code}",
                                retry_after=retry_after_seconds(response))
        if response.status_code >= 400:
            raise DeliveryError(f"reply webhook refused the reply: {response.status_code}", permanent=True)
        try:
            external_id = (response.json() or {}).get("id")
        except ValueError:
            external_id = None
        return str(external_id) if external_id is not None else None
