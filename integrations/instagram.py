"""Instagram (professional account through its Facebook Page): webhook fields `comments`,
`mentions` and `messages`.

- Comments: `POST /{comment-id}/replies`.
- Mentions (@brand in someone's comment or caption): the webhook carries only ids, so the text
  is read with `GET /{ig-user-id}?fields=mentioned_comment.comment_id(...)` (or
  `mentioned_media.media_id(...)`); replies go to `POST /{ig-user-id}/mentions`.
- DMs: the Send API, `POST /{page-id}/messages` with the Instagram-scoped id.
Handshake, signature, limits and idempotency: integrations.meta.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from chatops.inbound import Attachment
from chatops.outbox import DeliveryError
from integrations import meta_moderation
from integrations.base import InboundMessage, OutboundReply
from integrations.calls import NetworkAPI
from integrations.meta import MetaConfig, MetaWebhook, dm_attachments, graph_error, messaging_type
from integrations.network import NetworkSink

# Graph API errors are read by their code (integrations.meta.graph_error).
classify_error = graph_error

NAME = "instagram"


class InstagramConfig(MetaConfig):
    """META_* as the Instagram account uses them."""

    @property
    def enabled(self) -> bool:
        """The Page and the Instagram user id are configured."""
        return bool(self.page_ready and self.ig_user_id)

    own_fields = ("ig_user_id",)
    routed_by: ClassVar[str] = "ig_user_id"  # webhook entries name their account by it (InstagramWebhook.own_id)

    @classmethod
    def takes(cls, entry: dict) -> bool:
        """A META_ACCOUNTS entry is an Instagram account when it names one (others are Pages only)."""
        return bool(entry.get("ig_user_id"))

    @property
    def account(self) -> str | None:
        """Tickets from Instagram arrive on the username (or id)."""
        return self.ig_username or self.ig_user_id


def _when(value) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
    return datetime.fromisoformat(str(value).replace("+0000", "+00:00"))


class InstagramWebhook(MetaWebhook):
    """`/webhooks/instagram` (object `instagram`)."""

    name = NAME
    object_type = "instagram"

    def own_id(self) -> str | None:
        """Instagram entries carry the professional account's id."""
        return self.config.ig_user_id

    def parse(self, payload: dict) -> list[InboundMessage]:
        """Comments, mentions (text fetched) and DMs to the brand account."""
        messages = []
        for entry in payload["entry"]:
            for change in entry.get("changes", []):
                value = change["value"]
                if change["field"] == "comments":
                    message = self._comment(value, entry.get("time"))
                elif change["field"] == "mentions":
                    message = self._mention(value)
                else:
                    continue
                if message:
                    messages.append(message)
            for event in entry.get("messaging", []):
                message = event.get("message")
                sender = event["sender"]["id"]
                if not message or message.get("is_echo") or self.ours(sender):
                    continue
                # An unsent DM arrives as the same `mid` with `is_deleted`: the stored one is marked.
                deleted = bool(message.get("is_deleted"))
                attachments = [] if deleted else dm_attachments(message)
                if not deleted and not (message.get("text") or "").strip() and not attachments:
                    continue
                messages.append(InboundMessage(
                    source=NAME, account=self.config.account, external_id=message["mid"],
                    conversation_id=f"igdm:{sender}", author={"id": sender},
                    text=message.get("text") or "", created_at=_when(event["timestamp"]), kind="dm",
                    meta={"mode": "dm", "recipient": sender}, attachments=attachments,
                    action="delete" if deleted else "new"))
        return messages

    def _comment(self, value: dict, time) -> InboundMessage | None:
        author = value["from"]
        if self.ours(author["id"]):
            return None
        media = value.get("media") or {}
        # A GIF comment arrives without `text` (and without the GIF's address): still the customer speaking.
        text, meta = value.get("text") or "", {"mode": "comment", "comment_id": value["id"]}
        attachments = [] if text.strip() else [Attachment(type="gif")]
        return InboundMessage(
            source=NAME, account=self.config.account, external_id=value["id"],
            # One conversation per commenter on a post; a reply to another's comment joins theirs.
            conversation_id=f"{media.get('id')}:{author['id']}" if media.get("id") else None,
            in_reply_to=value.get("parent_id"),
            author={"id": author["id"], "handle": "@" + author["username"] if author.get("username") else None},
            text=text, created_at=_when(time or datetime.now(UTC).timestamp()), kind="comment", meta=meta,
            attachments=attachments)

    def _mention(self, value: dict) -> InboundMessage | None:
        """Read a mention's text: the webhook names only the media and the comment."""
        if self.api is None:
            return None
        media_id, comment_id = value["media_id"], value.get("comment_id")
        if comment_id:
            fields = f"mentioned_comment.comment_id({comment_id}){{id,text,timestamp,username,from}}"
        else:
            fields = f"mentioned_media.media_id({media_id}){{id,caption,timestamp,username,permalink,media_type,media_url}}"
        data = self.api.call("GET", self.config.graph(self.config.ig_user_id), params={"fields": fields},
                             headers=self.config.headers()).json()
        found = data.get("mentioned_comment") or data.get("mentioned_media") or {}
        username = found.get("username")
        if not (found.get("text") or found.get("caption") or "").strip() and not found.get("media_url"):
            return None  # a mention that says nothing we can read
        if self.ours((found.get("from") or {}).get("id")):
            return None  # one of the brand's accounts mentioning another in a comment
        return InboundMessage(
            source=NAME, account=self.config.account, external_id=comment_id or f"media:{media_id}",
            conversation_id=media_id, author={"id": (found.get("from") or {}).get("id") or f"ig:{username}",
                                              "handle": f"@{username}" if username else None},
            text=found.get("text") or found.get("caption") or "", url=found.get("permalink"),
            attachments=[Attachment(type="video" if found.get("media_type") == "VIDEO" else "image",
                                    url=found["media_url"])] if found.get("media_url") else [],
            created_at=_when(found.get("timestamp") or datetime.now(UTC).isoformat()), kind="mention",
            meta={"mode": "mention", "media_id": media_id, "comment_id": comment_id})


class InstagramSink(NetworkSink):
    """Comment replies, mention replies and DMs from the brand's Instagram account."""

    network = NAME

    def __init__(self, config: InstagramConfig, api: NetworkAPI) -> None:
        super().__init__(api)
        self.config = config

    def find_sent(self, reply: OutboundReply) -> str | None:
        """A comment's replies: ours with the same text means an earlier attempt posted it."""
        comment = reply.reply_meta.get("comment_id")
        if reply.reply_meta.get("mode") not in ("comment", "mention") or not comment:
            return None
        data = self.api.call("GET", self.config.graph(f"{comment}/replies"), params={"fields": "text,username,from"},
                             headers=self.config.headers()).json()
        own = {self.config.ig_user_id, self.config.ig_username}
        return next((c["id"] for c in data.get("data", []) if c.get("text") == reply.text and (
            (c.get("from") or {}).get("id") in own or c.get("username") in own)), None)

    def send(self, reply: OutboundReply) -> str | None:
        """The endpoint that fits what the customer wrote: comment, mention or DM."""
        meta, headers = reply.reply_meta, self.config.headers()
        mode = meta.get("mode")
        if mode == "dm":
            body = {"recipient": {"id": meta.get("recipient") or reply.customer_id},
                    **messaging_type(reply, self.config.human_agent), "message": {"text": reply.text}}
            return self.api.call("POST", self.config.graph(f"{self.config.page_id}/messages"), json=body,
                                 headers=headers).json().get("message_id")
        if mode == "mention":
            body = {"media_id": meta["media_id"], "message": reply.text}
            if meta.get("comment_id"):
                body["comment_id"] = meta["comment_id"]
            return self.api.call("POST", self.config.graph(f"{self.config.ig_user_id}/mentions"), json=body,
                                 headers=headers).json().get("id")
        comment = meta.get("comment_id") or reply.in_reply_to
        if not comment:
            raise DeliveryError(f"{reply.ticket_key}: no Instagram comment to reply to", permanent=True, answered=True)
        return self.api.call("POST", self.config.graph(f"{comment}/replies"), json={"message": reply.text},
                             headers=headers).json().get("id")

    def moderate(self, item) -> dict:
        """Hide, unhide or delete a comment; Instagram has no block API (integrations.meta_moderation)."""
        return meta_moderation.moderate(self.api, self.config, NAME, item.payload,
                                        in_doubt=bool(getattr(item, "in_doubt", False)))


def build(config: InstagramConfig, context) -> object:
    """Sink and webhook (mentions' text is read through the same API client)."""
    from integrations.registry import Parts

    api = context.api(NAME, config.account)
    return Parts(sink=InstagramSink(config, api), webhook=InstagramWebhook(config, api))


def probe(config: InstagramConfig, api: NetworkAPI) -> str:
    """`GET /{ig-user-id}?fields=username`."""
    data = api.call("GET", config.graph(config.ig_user_id), params={"fields": "username"},
                    headers=config.headers()).json()
    return "@" + str(data.get("username"))
