"""What Facebook Pages and Instagram share (Meta's Graph API and webhooks).

- Verification handshake: `GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...`;
  answer the challenge as plain text when the token is ours, 403 otherwise.
- Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`.
- Limits: Business Use Case limits announced in `X-Business-Use-Case-Usage` (and
  `X-App-Usage`); integrations.calls slows down at 95% or when Meta names a time to regain access.
- DMs: replies within 24 hours of the customer's message (`messaging_type: RESPONSE`), up to 7
  days tagged `HUMAN_AGENT` when the app has that permission (`META_HUMAN_AGENT=true`); later
  replies are not sent, and the thread says why.
- Idempotency: the Graph API takes no idempotency key; a retry of a comment reply first reads
  the comment's replies for ours with the same text. Messenger/Instagram DMs cannot be looked
  up cheaply; a DM retried after a lost answer may arrive twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatops.inbound import Attachment
from chatops.outbox import DeliveryError
from integrations.base import InboundMessage, OutboundReply, WebhookError, WebhookResponse, WebhookSource
from integrations.calls import NetworkAPI
from integrations.network import same_secret

SIGNATURE_HEADER = "x-hub-signature-256"


class MetaConfig(BaseSettings):
    """META_*: the app (secret, verify token), the Page and its Instagram account."""

    model_config = SettingsConfigDict(env_prefix="META_", env_file=".env", extra="ignore")

    graph_url: str = "https://graph.facebook.com/v26.0"
    human_agent: bool = Field(False, description="the app has Meta's Human Agent permission: DM replies "
                                                 "up to 7 days after the customer wrote, tagged HUMAN_AGENT")
    app_secret: SecretStr | None = None
    verify_token: SecretStr | None = None
    page_id: str | None = None
    page_access_token: SecretStr | None = None
    page_name: str | None = Field(None, description="how tickets name the Page (default: its id)")
    ig_user_id: str | None = None
    ig_username: str | None = Field(None, description="how tickets name the Instagram account")
    accounts: list[Any] = Field(default_factory=list, description="more Pages (each with its Instagram "
                                 "account, if any): a JSON list of objects with these settings' fields")

    # What an entry of `accounts` takes from these settings when it does not say (never credentials
    # of an account: each brings its own).
    shared: ClassVar[tuple[str, ...]] = ("graph_url", "human_agent", "app_secret", "verify_token")

    @property
    def page_ready(self) -> bool:
        """App secret, verify token, Page id and Page token are set."""
        return bool(self.app_secret and self.verify_token and self.page_id and self.page_access_token)

    def missing(self) -> str:
        """The settings `enabled` still needs."""
        needed = ("app_secret", "verify_token", "page_id", "page_access_token") + self.own_fields
        return ", ".join(f for f in needed if not getattr(self, f))

    own_fields: ClassVar[tuple[str, ...]] = ()  # what this network adds to the Page's settings

    @classmethod
    def takes(cls, entry: dict) -> bool:
        """Whether an entry of META_ACCOUNTS is an account of this network."""
        return True

    def headers(self) -> dict[str, str]:
        """Bearer Page access token."""
        return {"Authorization": f"Bearer {self.page_access_token.get_secret_value()}"}

    def graph(self, path: str) -> str:
        """A Graph API URL."""
        return f"{self.graph_url.rstrip('/')}/{path.lstrip('/')}"


# Messenger and Instagram DMs: a reply within 24 hours of the customer's message, or within 7 days
# tagged HUMAN_AGENT when the app holds that permission.
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)


def messaging_type(reply: OutboundReply, human_agent: bool) -> dict[str, str]:
    """The Send API's `messaging_type` (and `tag`) for this DM reply, judged on when it was
    queued; a DeliveryError (final, its reason says the window closed) when no reply is allowed."""
    if reply.answers_at is None or reply.queued_at is None:
        return {"messaging_type": "RESPONSE"}
    age = reply.queued_at - reply.answers_at
    if age <= STANDARD_WINDOW:
        return {"messaging_type": "RESPONSE"}
    if human_agent and age <= HUMAN_AGENT_WINDOW:
        return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    limit = "7 days (HUMAN_AGENT)" if human_agent else "24 hours (META_HUMAN_AGENT is off)"
    raise DeliveryError(f"{reply.ticket_key}: messaging window closed: the customer wrote "
                        f"{int(age.total_seconds() // 3600)} h before this reply, Meta allows {limit}",
                        permanent=True, answered=True)


# Send API attachment types (Messenger and Instagram DMs) as InboundMessage attachment types.
_DM_TYPES = {"image": "image", "video": "video", "audio": "audio", "file": "file", "sticker": "sticker",
             "ig_reel": "video", "reel": "video", "animated_image": "gif", "share": "link", "story_mention": "image",
             "fallback": "link", "template": "link"}


def dm_attachments(message: dict) -> list[Attachment]:
    """The attachments of a Messenger or Instagram DM (`message.attachments[].payload.url`)."""
    found = []
    for item in message.get("attachments") or []:
        payload = item.get("payload") or {}
        kind = _DM_TYPES.get(item.get("type", ""), "other")
        if payload.get("sticker_id"):
            kind = "sticker"
        found.append(Attachment(type=kind, url=payload.get("url"), name=payload.get("title") or item.get("title"),
                                ref=str(payload["sticker_id"]) if payload.get("sticker_id") else None))
    return found


# Graph API error codes by what to do (developers.facebook.com/docs/graph-api/guides/error-handling).
TOKEN_CODES = {102, 190}  # the token expired or was revoked: a credentials outage
THROTTLE_CODES = {4, 17, 32, 341, 613}  # rate limited: wait and try again
TRANSIENT_CODES = {1, 2}  # Meta's own downtime
PERMISSION_CODES = {3, 10, *range(200, 300)}  # the app or Page lacks a permission: retrying cannot help
POLICY_BLOCK = 368  # temporarily blocked for a policy violation


def graph_error(api: NetworkAPI, response) -> DeliveryError | None:
    """What a Graph API error answer means, by Meta's error code rather than the HTTP status (Meta
    answers an expired token with 400, a missing permission with 403): None leaves it to the status
    (a 5xx stays in doubt: the post may have gone through)."""
    if response.status_code >= 500:
        return None
    try:
        error = (response.json() or {}).get("error") or {}
    except ValueError:
        return None
    code = error.get("code") if isinstance(error, dict) else None
    if not isinstance(code, int):
        return None
    said = f"{api.network} refused the request ({response.status_code}): {response.text[:300]}".replace("\n", " ")
    if code in TOKEN_CODES:
        return api.auth_failure(response)
    if code in THROTTLE_CODES or 80001 <= code <= 80014:
        return DeliveryError(said, retry_after=api.last_pause or 300.0, answered=True)
    if code in TRANSIENT_CODES or error.get("is_transient"):
        return DeliveryError(said, retry_after=60.0, answered=True)
    if code == POLICY_BLOCK:
        return DeliveryError(said, retry_after=3600.0, answered=True)
    if code in PERMISSION_CODES:
        return DeliveryError(said, permanent=True, answered=True)  # not an outage: no health alert
    return None


def signature(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value for this body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class MetaWebhook(WebhookSource):
    """Handshake and signature for one Meta webhook object (`page` or `instagram`)."""

    object_type: str

    def __init__(self, config: MetaConfig, api: NetworkAPI | None = None) -> None:
        self.config = config
        self.api = api
        self.accounts = [self]
        self.unknown = None
        self.siblings: set[str] = set()  # the other brand accounts on this webhook (their ids)

    def own_id(self) -> str | None:
        """The id Meta names this account by in a webhook entry (`entry[].id`)."""
        raise NotImplementedError

    def ours(self, author_id: str | None) -> bool:
        """Written by this account or another of the brand's accounts: no customer's message."""
        return bool(author_id) and (author_id == self.own_id() or author_id in self.siblings)

    def for_accounts(self, sources: list[WebhookSource], unknown) -> WebhookSource:
        """Several Pages (or Instagram accounts) of one app on one URL: each entry names its
        account by `id`, and goes to that account's parsing."""
        self.accounts, self.unknown = sources, unknown
        for source in sources:
            source.siblings = {other.own_id() for other in sources if other is not source}
        return self

    def handle(self, *, method: str, headers: dict[str, str], query: dict[str, str],
               body: bytes) -> WebhookResponse:
        """GET: the verification handshake. POST: signature, then the entries."""
        if method == "GET":
            if query.get("hub.mode") != "subscribe" or not any(same_secret(
                    source.config.verify_token.get_secret_value(), query.get("hub.verify_token"))
                    for source in self.accounts):
                raise WebhookError(403, "networks.webhook.bad_verify_token")
            return WebhookResponse(200, text=query.get("hub.challenge", ""))
        header = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER, "")
        secrets = dict.fromkeys(source.config.app_secret.get_secret_value() for source in self.accounts)
        signed_by = {secret for secret in secrets if same_secret(signature(secret, body), header)}
        if not signed_by:
            raise WebhookError(401, "networks.webhook.bad_signature", header="X-Hub-Signature-256")
        try:
            payload = json.loads(body)
            if payload.get("object") != self.object_type:
                raise ValueError(f"object is {payload.get('object')!r}, expected {self.object_type!r}")
            messages, unrouted = self.route(payload, signed_by)
            return WebhookResponse(200, {"ok": True}, messages, unrouted=unrouted)
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            message = f"missing field {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
            raise WebhookError(400, "networks.webhook.bad_payload", network=self.name,
                               message=message[:200]) from None
        except DeliveryError as exc:  # a mention's text could not be read: Meta redelivers on 5xx
            raise WebhookError(503, "networks.webhook.upstream", network=self.name, message=str(exc)[:200]) from None

    def route(self, payload: dict, signed_by: set[str]) -> tuple[list[InboundMessage], int]:
        """Each entry parsed by the account it names, when that account's app secret is among those
        that signed the request (`signed_by`); entries for an account not configured are counted
        and reported (`unknown`)."""
        by_id = {source.own_id(): source for source in self.accounts}
        messages, unrouted = [], 0
        for entry in payload["entry"]:
            # An app subscribed to a Page chatops does not have must not make its messages ours;
            # an entry naming no id can only be the one account's.
            source = by_id.get(str(entry.get("id"))) if "id" in entry or len(self.accounts) > 1 else self
            ident = str(entry.get("id"))
            if source is not None and source.config.app_secret.get_secret_value() not in signed_by:
                ident, source = f"{ident} (signed by another app than its own)", None
            if source is None:
                unrouted += 1
                if self.unknown is not None:
                    self.unknown(self.name, ident)
                continue
            messages += source.parse({**payload, "entry": [entry]})
        return messages, unrouted

    def parse(self, payload: dict) -> list[InboundMessage]:
        """The customer messages in a verified payload."""
        raise NotImplementedError
