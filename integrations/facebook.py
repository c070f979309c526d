"""Facebook Page: webhook fields `feed` (comments on the Page's posts) and `messages`
(Messenger); replies to a comment by `POST /{comment-id}/comments`, to a DM by the Send API
`POST /{page-id}/messages` (within Meta's reply window: integrations.meta.messaging_type). Handshake, signature and limits: integrations.meta.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chatops.outbox import DeliveryError
from integrations import meta_moderation
from integrations.base import InboundMessage, OutboundReply
from integrations.calls import NetworkAPI
from integrations.meta import MetaConfig, MetaWebhook, attachment_text, messaging_type
from integrations.network import NetworkSink

NAME = "facebook"


class FacebookConfig(MetaConfig):
    """META_* as the Facebook Page uses them."""

    @property
    def enabled(self) -> bool:
        """The Page is configured."""
        return self.page_ready

    @property
    def account(self) -> str | None:
        """Tickets from the Page arrive on its name (or id)."""
        return self.page_name or self.page_id


def _when(value) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
    return datetime.fromisoformat(str(value).replace("+0000", "+00:00"))


class FacebookWebhook(MetaWebhook):
    """`/webhooks/facebook` (object `page`)."""

    name = NAME
    object_type = "page"

    def parse(self, payload: dict) -> list[InboundMessage]:
        """New comments by others on the Page's posts, and Messenger messages to the Page."""
        account, page = self.config.account, self.config.page_id
        messages = []
        for entry in payload["entry"]:
            for change in entry.get("changes", []):
                value = change["value"]
                if change["field"] != "feed" or value.get("item") != "comment" or value.get("verb") != "add":
                    continue
                author = value["from"]
                if author["id"] == page:
                    continue
                # A photo-only comment has no `message`, only `photo` (its URL): still a message.
                text, meta = value.get("message") or "", {"mode": "comment", "comment_id": value["comment_id"]}
                if not text.strip():
                    kind = "photo" if value.get("photo") else "video" if value.get("video") else None
                    if kind is None:
                        continue  # nothing said and nothing attached
                    text, meta["attachment"] = attachment_text(kind, value.get(kind)), kind
                parent = value.get("parent_id")
                messages.append(InboundMessage(
                    source=NAME, account=account, external_id=value["comment_id"],
                    conversation_id=value["post_id"], in_reply_to=parent if parent != value["post_id"] else None,
                    author={"id": author["id"], "name": author.get("name")}, text=text,
                    url=f"https://www.facebook.com/{value['comment_id']}", created_at=_when(value["created_time"]),
                    kind="comment", meta=meta))
            for event in entry.get("messaging", []):
                message = event.get("message")
                if not message or message.get("is_echo") or event["sender"]["id"] == page:
                    continue
                sender = event["sender"]["id"]
                text = message.get("text") or ("(" + ", ".join(a.get("type", "?") for a in message.get(
                    "attachments", [])) + ")")
                messages.append(InboundMessage(
                    source=NAME, account=account, external_id=message["mid"], conversation_id=f"messenger:{sender}",
                    author={"id": sender}, text=text, created_at=_when(event["timestamp"]), kind="dm",
                    meta={"mode": "dm", "recipient": sender}))
        return messages


class FacebookSink(NetworkSink):
    """Comment replies under the customer's comment; DMs through the Send API."""

    network = NAME

    def __init__(self, config: FacebookConfig, api: NetworkAPI) -> None:
        super().__init__(api)
        self.config = config

    def _comment(self, reply: OutboundReply) -> str:
        comment = reply.reply_meta.get("comment_id") or reply.in_reply_to
        if not comment:
            raise DeliveryError(f"{reply.ticket_key}: no Facebook comment to reply to", permanent=True, answered=True)
        return comment

    def find_sent(self, reply: OutboundReply) -> str | None:
        """The comment's replies: ours with the same text means an earlier attempt posted it."""
        if reply.reply_meta.get("mode") != "comment":
            return None
        data = self.api.call("GET", self.config.graph(f"{self._comment(reply)}/comments"),
                             params={"fields": "from,message", "limit": 100}, headers=self.config.headers()).json()
        return next((c["id"] for c in data.get("data", [])
                     if (c.get("from") or {}).get("id") == self.config.page_id and c.get("message") == reply.text),
                    None)

    def send(self, reply: OutboundReply) -> str | None:
        """POST /{comment-id}/comments, or the Send API for Messenger."""
        if reply.reply_meta.get("mode") == "dm":
            body = {"recipient": {"id": reply.reply_meta.get("recipient") or reply.customer_id},
                    **messaging_type(reply, self.config.human_agent), "message": {"text": reply.text}}
            data = self.api.call("POST", self.config.graph(f"{self.config.page_id}/messages"), json=body,
                                 headers=self.config.headers()).json()
            return data.get("message_id")
        data = self.api.call("POST", self.config.graph(f"{self._comment(reply)}/comments"),
                             json={"message": reply.text}, headers=self.config.headers()).json()
        return data.get("id")

    def moderate(self, item) -> dict:
        """Hide, unhide or delete a comment, or block its author from the Page (integrations.meta_moderation)."""
        return meta_moderation.moderate(self.api, self.config, NAME, item.payload,
                                        in_doubt=bool(getattr(item, "in_doubt", False)))


def build(config: FacebookConfig, context) -> object:
    """Sink and webhook (Pages push by webhook; nothing is polled)."""
    from integrations.registry import Parts

    api = context.api(NAME, config.account)
    return Parts(sink=FacebookSink(config, api), webhook=FacebookWebhook(config, api))


def probe(config: FacebookConfig, api: NetworkAPI) -> str:
    """`GET /{page-id}?fields=name` with the Page token."""
    data = api.call("GET", config.graph(config.page_id), params={"fields": "name"}, headers=config.headers()).json()
    return str(data.get("name"))
