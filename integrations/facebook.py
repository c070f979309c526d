"""Facebook Page: webhook fields `feed` (comments on the Page's posts: added, `edited`,
`remove`d; visitor posts), `mention` (the Page @mentioned) and `messages` / `message_edits`
(Messenger); replies to a comment by `POST /{comment-id}/comments` under the customer's own
comment (a visitor post or a mention: comments on it), to a DM by the Send API
`POST /{page-id}/messages` (within Meta's reply window: integrations.meta.messaging_type).
Handshake, signature and limits: integrations.meta.
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

NAME = "facebook"


class FacebookConfig(MetaConfig):
    """META_* as the Facebook Page uses them."""

    routed_by: ClassVar[str] = "page_id"  # webhook entries name their Page by it (FacebookWebhook.own_id)

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


# Feed items a visitor posts on the Page (a visitor post): a status, a photo, a video, a link.
VISITOR_ITEMS = ("status", "post", "photo", "video", "link", "share")
VERBS = {"add": "new", "edited": "edit", "edit": "edit", "remove": "delete"}


def feed_attachments(value: dict) -> list[Attachment]:
    """Media of a feed change: a comment's `photo`/`video` URL, a visitor post's `photos`/`link`."""
    found = [Attachment(type="image", url=value["photo"])] if value.get("photo") else []
    if value.get("video"):
        found.append(Attachment(type="video", url=value["video"]))
    found += [Attachment(type="image", url=url) for url in value.get("photos") or [] if isinstance(url, str)]
    if value.get("link") and value.get("item") == "photo" and not found:  # a photo post's `link` is the photo
        found.append(Attachment(type="image", url=value["link"]))
    elif value.get("link") and value.get("item") in ("link", "share", "status", "post"):
        found.append(Attachment(type="link", url=value["link"]))
    return found


class FacebookWebhook(MetaWebhook):
    """`/webhooks/facebook` (object `page`)."""

    name = NAME
    object_type = "page"

    def own_id(self) -> str | None:
        """Page entries carry the Page id."""
        return self.config.page_id

    def parse(self, payload: dict) -> list[InboundMessage]:
        """Comments by others on the Page's posts (new, edited, removed), visitor posts, Page
        mentions (text read from the Graph API), and Messenger messages and edits to the Page."""
        messages = []
        for entry in payload["entry"]:
            for change in entry.get("changes", []):
                value = change["value"]
                if change["field"] == "feed" and value.get("item") == "comment":
                    message = self._comment(value)
                elif change["field"] == "feed" and value.get("item") in VISITOR_ITEMS:
                    message = self._visitor_post(value)
                elif change["field"] == "mention" and value.get("verb", "add") == "add":
                    message = self._mention(value)
                else:
                    continue
                if message is not None:
                    messages.append(message)
            for event in entry.get("messaging", []):
                message = self._dm(event)
                if message is not None:
                    messages.append(message)
        return messages

    def _comment(self, value: dict) -> InboundMessage | None:
        """A comment, threaded per commenter: each person commenting on a post has their own
        conversation, and a reply to another commenter's comment goes with that comment's ticket."""
        action = VERBS.get(value.get("verb", ""))
        author = value.get("from") or {}
        if action is None or self.ours(author.get("id")):
            return None
        post, comment = value["post_id"], value["comment_id"]
        parent = value.get("parent_id")
        attachments = feed_attachments(value)
        text = value.get("message") or ""
        if action != "delete" and not text.strip() and not attachments:
            return None  # nothing said and nothing attached
        return InboundMessage(
            source=NAME, account=self.config.account, external_id=comment,
            conversation_id=f"{post}:{author.get('id', '?')}", in_reply_to=parent if parent != post else None,
            author={"id": author.get("id") or "unknown", "name": author.get("name")}, text=text,
            url=f"https://www.facebook.com/{comment}", created_at=_when(value["created_time"]), kind="comment",
            meta={"mode": "comment", "comment_id": comment, "post_id": post}, attachments=attachments,
            action=action)

    def _visitor_post(self, value: dict) -> InboundMessage | None:
        """Someone posted on the Page's timeline: a ticket of its own, answered by a comment on it."""
        action = VERBS.get(value.get("verb", ""))
        author = value.get("from") or {}
        if action is None or self.ours(author.get("id")):
            return None
        post = value["post_id"]
        attachments = feed_attachments(value)
        text = value.get("message") or ""
        if action != "delete" and not text.strip() and not attachments:
            return None
        return InboundMessage(
            source=NAME, account=self.config.account, external_id=post, conversation_id=post,
            author={"id": author.get("id") or "unknown", "name": author.get("name")}, text=text,
            url=f"https://www.facebook.com/{post}", created_at=_when(value["created_time"]), kind="mention",
            meta={"mode": "comment", "comment_id": post, "post_id": post}, attachments=attachments,
            action=action)

    def _mention(self, value: dict) -> InboundMessage | None:
        """The Page was @mentioned in a post or comment: the webhook names only ids, so the text,
        author and photo are read with `GET /{id}?fields=...`; the reply comments on it."""
        if self.api is None:
            return None
        target = value.get("comment_id") or value["post_id"]
        fields = "message,from,created_time,permalink_url" + ("" if value.get("comment_id") else ",full_picture")
        data = self.api.call("GET", self.config.graph(target), params={"fields": fields},
                             headers=self.config.headers()).json()
        author = data.get("from") or {"id": value.get("sender_id") or "unknown", "name": value.get("sender_name")}
        if self.ours(author.get("id")):
            return None
        attachments = [Attachment(type="image", url=data["full_picture"])] if data.get("full_picture") else []
        return InboundMessage(
            source=NAME, account=self.config.account, external_id=target,
            conversation_id=f"mention:{target}", author={"id": author["id"], "name": author.get("name")},
            text=data.get("message") or "", url=data.get("permalink_url") or f"https://www.facebook.com/{target}",
            created_at=_when(data.get("created_time") or value.get("created_time") or 0), kind="mention",
            meta={"mode": "comment", "comment_id": target, "post_id": value["post_id"]}, attachments=attachments)

    def _dm(self, event: dict) -> InboundMessage | None:
        """A Messenger message (text and attachments) or an edit of one (`message_edit`)."""
        sender = event["sender"]["id"]
        if self.ours(sender):
            return None
        edit = event.get("message_edit")
        if edit:
            return InboundMessage(
                source=NAME, account=self.config.account, external_id=edit["mid"],
                conversation_id=f"messenger:{sender}", author={"id": sender}, text=edit.get("text") or "",
                created_at=_when(event["timestamp"]), kind="dm", action="edit",
                meta={"mode": "dm", "recipient": sender})
        message = event.get("message")
        if not message or message.get("is_echo"):
            return None
        attachments = dm_attachments(message)
        if not (message.get("text") or "").strip() and not attachments:
            return None
        return InboundMessage(
            source=NAME, account=self.config.account, external_id=message["mid"],
            conversation_id=f"messenger:{sender}", author={"id": sender}, text=message.get("text") or "",
            created_at=_when(event["timestamp"]), kind="dm", meta={"mode": "dm", "recipient": sender},
            attachments=attachments)


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
