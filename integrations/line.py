"""LINE Messaging API: message events by webhook, answered with the reply token while it is
valid, by push after.

- Signature: `x-line-signature` = base64(HMAC-SHA256(channel secret, raw body)).
- Redelivery: `deliveryContext.isRedelivery` marks a retry of an event we may have stored; the
  message id (and `webhookEventId`) make it a duplicate. A redelivered event's reply token is
  not used (it has most likely expired).
- Reply token: single use, valid about one minute; `POST /v2/bot/message/reply`. After that (or
  on an outbox retry), `POST /v2/bot/message/push` with `X-Line-Retry-Key` (a UUID fixed per
  outbox item): LINE accepts a key once and answers 409 to a repeat, so retries never
  duplicate a push. A reply token cannot be checked afterwards; a reply whose answer was lost
  and is then retried as a push may arrive twice (LINE offers no lookup).
- Limits: 2,000 requests per second per channel; 5,000 characters per text message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatops.inbound import Attachment
from chatops.outbox import DeliveryError
from integrations.base import InboundMessage, OutboundReply, WebhookError, WebhookResponse, WebhookSource
from integrations.calls import NetworkAPI
from integrations.media import MediaLinks
from integrations.network import NetworkSink, same_secret

NAME = "line"
SIGNATURE_HEADER = "x-line-signature"
REPLY_TOKEN_SECONDS = 50  # LINE says about a minute; keep a margin for the outbox's own delay


class LineConfig(BaseSettings):
    """LINE_*: the channel's secret and access token, and the account name tickets show."""

    model_config = SettingsConfigDict(env_prefix="LINE_", env_file=".env", extra="ignore")

    api_url: str = "https://api.line.me"
    data_url: str = Field("https://api-data.line.me", description="where LINE serves users' media (content API)")
    channel_secret: SecretStr | None = None
    channel_access_token: SecretStr | None = None
    account: str | None = Field(None, description="the official account's basic id, e.g. @acme")
    accounts: list[Any] = Field(default_factory=list, description="more channels (official accounts): a JSON list of "
                                 "objects with these settings' fields (docs/configuration.md)")

    # What an entry of `accounts` takes from these settings when it does not say (never credentials
    # of an account: each brings its own).
    shared: ClassVar[tuple[str, ...]] = ("api_url", "data_url")

    @property
    def enabled(self) -> bool:
        """Secret, token and account are set."""
        return bool(self.channel_secret and self.channel_access_token and self.account)

    def missing(self) -> str:
        """The settings `enabled` still needs."""
        return ", ".join(f for f in ("channel_secret", "channel_access_token", "account") if not getattr(self, f))

    def headers(self) -> dict[str, str]:
        """Bearer channel access token."""
        return {"Authorization": f"Bearer {self.channel_access_token.get_secret_value()}"}


def signature(secret: str, body: bytes) -> str:
    """The x-line-signature value for this body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


_MEDIA = {"image": "image", "video": "video", "audio": "audio", "file": "file", "sticker": "sticker"}


def _text(message: dict) -> str:
    if message["type"] == "text":
        return message["text"]
    if message["type"] == "location":
        return " ".join(str(part) for part in (message.get("title"), message.get("address")) if part) or \
            f"{message.get('latitude')},{message.get('longitude')}"
    # A sticker may carry the text a user typed to find it; media carry none.
    return message.get("text") or ""


def _attachments(message: dict, account: str, media: MediaLinks | None = None) -> list[Attachment]:
    """Media of a message. LINE keeps a user's content behind the channel token, so it is stored
    by reference (the message id: `GET https://api-data.line.me/v2/bot/message/{id}/content`), with
    a signed chatops link that fetches it (integrations.media) when links are on; an `external`
    provider's `originalContentUrl` is public."""
    kind = _MEDIA.get(message["type"])
    if kind is None:
        return []
    if kind == "sticker":
        keywords = " ".join(message.get("keywords", [])[:5]) or None
        return [Attachment(type="sticker", alt=keywords, ref=f"{message.get('packageId')}/{message.get('stickerId')}")]
    provider = message.get("contentProvider") or {}
    url = provider.get("originalContentUrl") if provider.get("type") == "external" else None
    if url:
        return [Attachment(type=kind, url=url, name=message.get("fileName"))]
    return [Attachment(type=kind, url=media.url(NAME, account, message["id"]) if media else None, ref=message["id"],
                       name=message.get("fileName"))]


class LineWebhook(WebhookSource):
    """`POST /webhooks/line`: signed events; message events become InboundMessages."""

    name = NAME

    def __init__(self, config: LineConfig, media: MediaLinks | None = None) -> None:
        self.config = config
        self.media = media
        self.accounts = [self]

    def for_accounts(self, sources: list[WebhookSource], unknown) -> WebhookSource:
        """Several channels on one URL: each channel signs with its own secret, so the secret that
        verifies a request names its channel."""
        self.accounts = sources
        return self

    def handle(self, *, method: str, headers: dict[str, str], query: dict[str, str],
               body: bytes) -> WebhookResponse:
        """Check the signature (whose channel it is), then parse the events as that channel's."""
        if method != "POST":
            raise WebhookError(405, "webhook.bad_json", message="use POST")
        header = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER, "")
        channel = next((source for source in self.accounts if same_secret(
            signature(source.config.channel_secret.get_secret_value(), body), header)), None)
        if channel is None:
            raise WebhookError(401, "networks.webhook.bad_signature", header=SIGNATURE_HEADER)
        try:
            return WebhookResponse(200, {"ok": True}, channel.parse(json.loads(body)))
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            message = f"missing field {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
            raise WebhookError(400, "networks.webhook.bad_payload", network="line", message=message[:200]) from None

    def parse(self, payload: dict) -> list[InboundMessage]:
        """Message events from users, groups and rooms, and `unsend` (a user took a message
        back: the stored one is marked deleted); others, e.g. follow, are acknowledged."""
        messages = []
        for event in payload["events"]:
            if event["type"] == "unsend":
                messages.append(self._unsend(event))
                continue
            if event["type"] != "message":
                continue
            source, message = event["source"], event["message"]
            user = source.get("userId") or "unknown"
            chat = source.get("groupId") or source.get("roomId") or user
            sent = datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC)
            redelivery = bool((event.get("deliveryContext") or {}).get("isRedelivery"))
            meta: dict = {"to": chat, "event_id": event.get("webhookEventId"), "redelivery": redelivery}
            if event.get("replyToken") and not redelivery:
                meta["reply_token"] = event["replyToken"]
                meta["reply_token_until"] = event["timestamp"] / 1000 + REPLY_TOKEN_SECONDS
            messages.append(InboundMessage(
                source=NAME, account=self.config.account, external_id=message["id"], conversation_id=f"line:{chat}",
                author={"id": user}, text=_text(message), created_at=sent, kind="dm", meta=meta,
                attachments=_attachments(message, self.config.account, self.media)))
        return messages

    def _unsend(self, event: dict) -> InboundMessage:
        source = event["source"]
        user = source.get("userId") or "unknown"
        chat = source.get("groupId") or source.get("roomId") or user
        return InboundMessage(
            source=NAME, account=self.config.account, external_id=event["unsend"]["messageId"],
            conversation_id=f"line:{chat}", author={"id": user}, text="",
            created_at=datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC), kind="dm", action="delete",
            meta={"to": chat, "event_id": event.get("webhookEventId")})


class LineSink(NetworkSink):
    """Reply token first (free, threaded to the event), push with a retry key otherwise."""

    network = NAME

    def __init__(self, config: LineConfig, api: NetworkAPI, clock=time.time) -> None:
        super().__init__(api)
        self.config = config
        self.base = config.api_url.rstrip("/")
        self.clock = clock
        self.retrying = False

    def __call__(self, item):
        self.retrying = item.attempts > 1  # attempts count from 1, when the item is taken
        return super().__call__(item)

    def send(self, reply: OutboundReply) -> str | None:
        """POST /v2/bot/message/reply while the token is fresh, else /v2/bot/message/push."""
        meta = reply.reply_meta
        messages = [{"type": "text", "text": reply.text}]
        token, until = meta.get("reply_token"), float(meta.get("reply_token_until") or 0)
        if token and not self.retrying and self.clock() < until:
            response = self.api.call("POST", f"{self.base}/v2/bot/message/reply", refuse=(400,),
                                     json={"replyToken": token, "messages": messages}, headers=self.config.headers())
            if response.status_code == 200:
                return _sent_id(response)
            # 400 "Invalid reply token": used or expired; the push below reaches the customer.
        to = meta.get("to") or reply.customer_id
        if not to:
            raise DeliveryError(f"{reply.ticket_key}: no LINE user or group to push to", permanent=True, answered=True)
        retry_key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"chatops:{reply.idempotency_key}"))
        response = self.api.call("POST", f"{self.base}/v2/bot/message/push", refuse=(409,),
                                 json={"to": to, "messages": messages},
                                 headers={**self.config.headers(), "X-Line-Retry-Key": retry_key})
        if response.status_code == 409:  # this retry key was accepted before: already sent
            return response.headers.get("x-line-accepted-request-id") or "accepted"
        return _sent_id(response)


def _sent_id(response) -> str | None:
    sent = (response.json() or {}).get("sentMessages") or []
    return sent[0].get("id") if sent else response.headers.get("x-line-request-id")


def build(config: LineConfig, context) -> object:
    """Sink and webhook (LINE has no feed to poll)."""
    from integrations.registry import Parts

    api = context.api(NAME, config.account)
    return Parts(sink=LineSink(config, api), webhook=LineWebhook(config, context.media))


def fetch_media(config: LineConfig, api: NetworkAPI, ref: str):
    """`GET /v2/bot/message/{id}/content` with the channel token, streamed (404: LINE no longer
    has it; 202: a video or audio file is still being prepared)."""
    return api.call("GET", f"{config.data_url.rstrip('/')}/v2/bot/message/{ref}/content", refuse=(404,),
                    headers=config.headers(), stream=True)


def probe(config: LineConfig, api: NetworkAPI) -> str:
    """`GET /v2/bot/info`: the bot's basic id and name."""
    data = api.call("GET", f"{config.api_url.rstrip('/')}/v2/bot/info", headers=config.headers()).json()
    return f"{data.get('basicId')} {data.get('displayName')}"
