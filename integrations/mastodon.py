"""Mastodon: mentions from `GET /api/v1/notifications?types[]=mention&since_id=`, brand keywords
from hashtag timelines (`GET /api/v1/timelines/tag/:tag`), replies by
`POST /api/v1/statuses` with `in_reply_to_id` and an `Idempotency-Key` header (the server keeps
the key for an hour, so an outbox retry posts once). OAuth bearer token; 300 requests per 5
minutes, announced in `X-RateLimit-*` headers. Reply limit 500 characters (instance setting).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatops.inbound import Attachment
from integrations.base import InboundMessage, OutboundReply
from integrations.calls import NetworkAPI
from integrations.network import NetworkSink, Poller, PollResult, html_to_text

NAME = "mastodon"
_HASHTAG = re.compile(r"^#?(\w+)$")


class MastodonConfig(BaseSettings):
    """MASTODON_*: the instance, the brand account's token and acct."""

    model_config = SettingsConfigDict(env_prefix="MASTODON_", env_file=".env", extra="ignore")

    api_url: str | None = Field(None, description="instance base URL, e.g. https://mastodon.social")
    access_token: SecretStr | None = None
    account: str | None = Field(None, description="the brand account's acct, e.g. acme@mastodon.social")
    poll_seconds: float = Field(60.0, ge=5)
    accounts: list[Any] = Field(default_factory=list, description="more brand accounts (on any instance): a JSON list of "
                                 "objects with these settings' fields (docs/configuration.md)")

    # What an entry of `accounts` takes from these settings when it does not say (never credentials
    # of an account: each brings its own).
    shared: ClassVar[tuple[str, ...]] = ("api_url", "poll_seconds")

    @property
    def enabled(self) -> bool:
        """All of URL, token and account are set."""
        return bool(self.api_url and self.access_token and self.account)

    def missing(self) -> str:
        """The settings `enabled` still needs."""
        return ", ".join(f for f in ("api_url", "access_token", "account") if not getattr(self, f))

    def headers(self) -> dict[str, str]:
        """Authorization for every call."""
        return {"Authorization": f"Bearer {self.access_token.get_secret_value()}"}


_MEDIA = {"image": "image", "gifv": "gif", "video": "video", "audio": "audio"}


def status_attachments(status: dict) -> list[Attachment]:
    """`media_attachments` (url, or remote_url for media not cached, and the description as alt)
    and a link preview `card`."""
    found = [Attachment(type=_MEDIA.get(media.get("type"), "file"), url=media.get("url") or media.get("remote_url"),
                        alt=(media.get("description") or None) and media["description"][:2000])
             for media in status.get("media_attachments") or []]
    card = status.get("card") or {}
    if card.get("url") and not found:
        found.append(Attachment(type="link", url=card["url"], alt=(card.get("title") or None) and card["title"][:2000]))
    return found


def status_message(status: dict, account: str, *, kind: str | None = None, action: str = "new") -> InboundMessage:
    """A Mastodon status (from a notification or a timeline) as an InboundMessage (`action`
    `edit`: the status's new text and media)."""
    author = status["account"]
    if kind is None:
        kind = "dm" if status.get("visibility") == "direct" else ("reply" if status.get("in_reply_to_id")
                                                                 else "mention")
    text = html_to_text(status.get("content", "")) or status.get("spoiler_text") or ""
    return InboundMessage(
        source=NAME, account=account, external_id=str(status["id"]), in_reply_to=status.get("in_reply_to_id"),
        author={"id": str(author["id"]), "handle": "@" + author["acct"], "name": author.get("display_name") or None},
        text=text, url=status.get("url") or status.get("uri"),
        created_at=datetime.fromisoformat(status["created_at"].replace("Z", "+00:00")),
        lang=(status.get("language") or None), kind=kind,
        meta={"acct": author["acct"], "visibility": status.get("visibility", "public")},
        attachments=status_attachments(status), action=action)


class MastodonPoller(Poller):
    """Mentions (notifications) and hashtag timelines of the brand keywords."""

    network = NAME

    def __init__(self, config: MastodonConfig, api: NetworkAPI, keywords: list[str]) -> None:
        self.config, self.api, self.account = config, api, config.account
        self.interval = config.poll_seconds
        self.base = config.api_url.rstrip("/")
        self.hashtags = sorted({m.group(1).lower() for k in keywords if (m := _HASHTAG.match(k.strip()))})

    def poll(self, cursors: dict) -> PollResult:
        """New mentions, then new posts under each brand hashtag."""
        result = PollResult()
        # `update`: a status we interacted with (a mention we answered) was edited.
        params: dict = {"types[]": ["mention", "update"], "limit": 40}
        if cursors.get("notifications"):
            params["since_id"] = cursors["notifications"]
        notes = self.api.call("GET", f"{self.base}/api/v1/notifications", params=params,
                              headers=self.config.headers()).json()
        for note in notes:
            if note.get("status") and self._by_brand(note["status"]["account"]["acct"]):
                continue
            if note.get("type") == "mention" and note.get("status"):
                result.messages.append(status_message(note["status"], self.account))
            elif note.get("type") == "update" and note.get("status") and self._mentions_us(note["status"]):
                result.messages.append(status_message(note["status"], self.account, action="edit"))
        result.cursors["notifications"] = max((str(n["id"]) for n in notes), key=int, default=None)
        own = self.account.split("@")[0].lower()
        for tag in self.hashtags:
            feed = f"tag:{tag}"
            params = {"limit": 40, **({"since_id": cursors[feed]} if cursors.get(feed) else {})}
            statuses = self.api.call("GET", f"{self.base}/api/v1/timelines/tag/{tag}", params=params,
                                     headers=self.config.headers()).json()
            for status in statuses:
                author = status["account"]["acct"]
                if author.split("@")[0].lower() != own and not self._by_brand(author):
                    result.messages.append(status_message(status, self.account, kind="keyword"))
            result.cursors[feed] = max((str(s["id"]) for s in statuses), key=int, default=None)
        return result

    def _by_brand(self, acct: str) -> bool:
        """A status by one of the network's brand accounts (a bare acct is local to this instance,
        whose domain is this account's)."""
        acct = acct.lower()
        if "@" not in acct and "@" in self.account:
            acct = f"{acct}@{self.account.split('@', 1)[1].lower()}"
        return acct in {account.lower() for account in self.brand_accounts}

    def _mentions_us(self, status: dict) -> bool:
        """An edited status is the customer's only when it mentions the brand account."""
        own = self.account.split("@")[0].lower()
        return any(m.get("acct", "").split("@")[0].lower() == own for m in status.get("mentions") or [])


class MastodonSink(NetworkSink):
    """Replies as a status in the customer's thread, mentioning them, same visibility."""

    network = NAME

    def __init__(self, config: MastodonConfig, api: NetworkAPI) -> None:
        super().__init__(api)
        self.config = config

    def send(self, reply: OutboundReply) -> str | None:
        """POST /api/v1/statuses with in_reply_to_id and Idempotency-Key."""
        acct = reply.reply_meta.get("acct")
        text = reply.text if not acct or f"@{acct}" in reply.text else f"@{acct} {reply.text}"
        visibility = reply.reply_meta.get("visibility") or "public"
        if visibility not in ("public", "unlisted", "private", "direct"):
            visibility = "public"
        body = {"status": text, "in_reply_to_id": reply.in_reply_to, "visibility": visibility}
        response = self.api.call("POST", f"{self.config.api_url.rstrip('/')}/api/v1/statuses", json=body,
                                 headers={**self.config.headers(), "Idempotency-Key": reply.idempotency_key})
        return str(response.json()["id"])


def build(config: MastodonConfig, context) -> object:
    """Sink and poller for the configured account (no webhook: Mastodon is polled)."""
    from integrations.registry import Parts

    # One API client per thread (outbox, poller): each keeps its own rate-limit pause.
    return Parts(sink=MastodonSink(config, context.api(NAME, config.account)),
                 pollers=[MastodonPoller(config, context.api(NAME, config.account), context.keywords.get(NAME, []))])


def probe(config: MastodonConfig, api: NetworkAPI) -> str:
    """`GET /api/v1/accounts/verify_credentials`: who the token is."""
    data = api.call("GET", f"{config.api_url.rstrip('/')}/api/v1/accounts/verify_credentials",
                    headers=config.headers()).json()
    return f"@{data.get('acct')}"
