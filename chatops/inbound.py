"""InboundMessage: what any network delivers, in the one shape the ticket flows understand.

It lives in the core (not in `integrations/`) so flows never import an adapter; integrations
build it from their network's payloads and `integrations.base` re-exports it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

SOURCES = ("x", "facebook", "instagram", "line", "mastodon", "bluesky", "webhook")
# How every surface writes each network's name (brand names: the same in Japanese).
NETWORK_NAMES = {"x": "X", "facebook": "Facebook", "instagram": "Instagram", "line": "LINE",
                 "mastodon": "Mastodon", "bluesky": "Bluesky", "webhook": "Webhook"}
KINDS = ("mention", "reply", "dm", "comment", "keyword")

Source = Literal["x", "facebook", "instagram", "line", "mastodon", "bluesky", "webhook"]
Kind = Literal["mention", "reply", "dm", "comment", "keyword"]
ACTIONS = ("new", "edit", "delete")
Action = Literal["new", "edit", "delete"]
ATTACHMENT_TYPES = ("image", "gif", "video", "audio", "sticker", "file", "link", "other")
AttachmentType = Literal["image", "gif", "video", "audio", "sticker", "file", "link", "other"]


class Author(BaseModel):
    """The customer as the network knows them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=255)
    handle: str | None = Field(None, max_length=255)
    name: str | None = Field(None, max_length=255)
    # The sender's own view of the customer's tier (a CRM behind the generic webhook), optional.
    tier: Literal["standard", "premium"] | None = None


class Attachment(BaseModel):
    """A photo, GIF, video, sticker or file that came with a message: where it is and what it shows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: AttachmentType
    # A public http(s) address of the media, when the network gives one.
    url: str | None = Field(None, max_length=2048)
    # The author's description of the media (alt text), for people who cannot see it.
    alt: str | None = Field(None, max_length=2000)
    # The network's id of media that is only fetched with our credentials (LINE's content API).
    ref: str | None = Field(None, max_length=255)
    name: str | None = Field(None, max_length=255)


class InboundMessage(BaseModel):
    """One message a customer wrote about the brand, normalised across networks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Source
    # Declared before `text`, whose check reads them: media alone is a message, a deletion has no text.
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    # `edit` and `delete` change the stored message `target_id` (default: `external_id`) instead
    # of adding one; the text of an edit is the message's new text, its attachments (when it has
    # any) the message's new media.
    action: Action = "new"
    account: str = Field(min_length=1, max_length=255)
    external_id: str = Field(min_length=1, max_length=255)
    conversation_id: str | None = Field(None, max_length=255)
    in_reply_to: str | None = Field(None, max_length=255)
    author: Author
    text: str = Field(max_length=40_000)
    url: str | None = Field(None, max_length=2048)
    created_at: AwareDatetime
    lang: str | None = Field(None, max_length=8)
    kind: Kind = "mention"
    # What a reply to this message needs that the fields above don't carry (a LINE reply
    # token and its expiry, a Bluesky uri/cid and thread root, a Facebook comment vs. DM id).
    meta: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    target_id: str | None = Field(None, max_length=255)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str, info: ValidationInfo) -> str:
        # A photo- or GIF-only message is still the customer speaking; a deletion carries nothing.
        if not value.strip() and not info.data.get("attachments") and info.data.get("action") != "delete":
            raise ValueError("text is empty")
        return value

    @property
    def target(self) -> str:
        """The network id of the stored message an edit or deletion is about."""
        return self.target_id or self.external_id

    @property
    def summary(self) -> str:
        """The text, or for media alone the kinds of its attachments (a ticket's subject is never blank)."""
        return self.text if self.text.strip() else " ".join(f"[{item.type}]" for item in self.attachments)

    @property
    def thread_id(self) -> str:
        """The conversation this message belongs to (its own id when it starts one)."""
        return self.conversation_id or self.external_id
