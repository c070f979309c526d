"""Bluesky (AT Protocol): mentions, replies and quotes from
`app.bsky.notification.listNotifications`, brand keywords from `app.bsky.feed.searchPosts`,
replies as `app.bsky.feed.post` records with `reply.root` and `reply.parent` (uri + cid: root is
the thread's first post, parent the post answered).

- Session: `com.atproto.server.createSession` is limited to 30 per 5 minutes, so the session
  (access and refresh JWTs) is stored in `integration_state` and refreshed with
  `refreshSession` when the PDS answers `ExpiredToken`; it survives restarts.
- Idempotency: the record key (a TID) is chosen once per outbox item and stored before the
  first attempt; a retry first asks `com.atproto.repo.getRecord` whether that key exists.
- Limits: 300 graphemes per post; 5,000 write points per hour (a create costs 3).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatops.inbound import Attachment
from chatops.outbox import DeliveryError
from integrations.base import InboundMessage, OutboundReply
from integrations.calls import NetworkAPI
from integrations.network import NetworkSink, Poller, PollResult
from integrations.state import StateStore

NAME = "bluesky"
POST = "app.bsky.feed.post"
KINDS = {"mention": "mention", "reply": "reply", "quote": "mention"}
_B32 = "234567abcdefghijklmnopqrstuvwxyz"


class BlueskyConfig(BaseSettings):
    """BLUESKY_*: the PDS, the brand handle and an app password."""

    model_config = SettingsConfigDict(env_prefix="BLUESKY_", env_file=".env", extra="ignore")

    api_url: str = "https://bsky.social"
    handle: str | None = None
    app_password: SecretStr | None = None
    poll_seconds: float = Field(60.0, ge=5)
    accounts: list[Any] = Field(default_factory=list, description="more brand handles: a JSON list of "
                                 "objects with these settings' fields (docs/configuration.md)")

    # What an entry of `accounts` takes from these settings when it does not say (never credentials
    # of an account: each brings its own).
    shared: ClassVar[tuple[str, ...]] = ("api_url", "poll_seconds")

    @property
    def enabled(self) -> bool:
        """Handle and app password are set."""
        return bool(self.handle and self.app_password)

    def missing(self) -> str:
        """The settings `enabled` still needs."""
        return ", ".join(f for f in ("handle", "app_password") if not getattr(self, f))

    @property
    def account(self) -> str | None:
        """Tickets from Bluesky arrive on the handle."""
        return self.handle


def make_tid(micros: int, clock_id: int = 0) -> str:
    """An AT Protocol TID: 53 bits of microseconds and 10 bits of clock id, base32-sortable."""
    value = (micros << 10) | (clock_id & 0x3FF)
    return "".join(_B32[(value >> (60 - 5 * i)) & 31] for i in range(13))


def post_url(uri: str, handle: str) -> str:
    """The bsky.app link of an at:// post uri."""
    return f"https://bsky.app/profile/{handle}/post/{uri.rsplit('/', 1)[-1]}"


CDN = "https://cdn.bsky.app/img/feed_fullsize/plain"  # where the Bluesky app shows a blob image


def _alt(text: str | None) -> str | None:
    return text[:2000] if text else None


def _blob_cid(blob: dict) -> str | None:
    ref = (blob or {}).get("ref")
    return ref.get("$link") if isinstance(ref, dict) else (blob or {}).get("cid")


def post_attachments(post: dict) -> list[Attachment]:
    """Images (with their alt text) and link cards of a post: from the post view's `embed`
    (`app.bsky.embed.images#view`: fullsize URLs) when the feed gives one, else from the record's
    `app.bsky.embed.images` blobs (a notification carries only the record)."""
    found: list[Attachment] = []
    view = post.get("embed") or {}
    view = view.get("media") or view  # recordWithMedia#view
    for image in view.get("images") or []:
        found.append(Attachment(type="image", url=image.get("fullsize") or image.get("thumb"),
                                alt=_alt(image.get("alt"))))
    if found:
        return found
    embed = (post.get("record") or {}).get("embed") or {}
    embed = embed.get("media") or embed  # app.bsky.embed.recordWithMedia
    did = (post.get("author") or {}).get("did")
    for image in embed.get("images") or []:
        cid = _blob_cid(image.get("image"))
        found.append(Attachment(type="image", url=f"{CDN}/{did}/{cid}@jpeg" if cid and did else None,
                                alt=_alt(image.get("alt")), ref=cid))
    if embed.get("$type", "").startswith("app.bsky.embed.video"):
        found.append(Attachment(type="video", alt=_alt(embed.get("alt")), ref=_blob_cid(embed.get("video"))))
    external = embed.get("external") or view.get("external") or {}
    if external.get("uri"):
        found.append(Attachment(type="link", url=external["uri"], alt=_alt(external.get("title"))))
    return found


def post_message(post: dict, account: str, kind: str) -> InboundMessage:
    """A post view (notification or search hit) as an InboundMessage; meta keeps uri/cid and root."""
    record = post["record"]
    author = post["author"]
    reply = record.get("reply") or {}
    root = reply.get("root") or {"uri": post["uri"], "cid": post["cid"]}
    langs = record.get("langs") or []
    return InboundMessage(
        source=NAME, account=account, external_id=post["uri"], conversation_id=root["uri"],
        in_reply_to=(reply.get("parent") or {}).get("uri"),
        author={"id": author["did"], "handle": "@" + author["handle"], "name": author.get("displayName") or None},
        text=record.get("text") or "", url=post_url(post["uri"], author["handle"]),
        attachments=post_attachments(post),
        created_at=datetime.fromisoformat(record["createdAt"].replace("Z", "+00:00")),
        lang=langs[0][:8] if langs else None, kind=kind,
        meta={"uri": post["uri"], "cid": post["cid"], "root_uri": root["uri"], "root_cid": root["cid"]})


class BlueskyClient:
    """XRPC calls with a stored session, refreshed when it expires."""

    def __init__(self, config: BlueskyConfig, api: NetworkAPI, store: StateStore) -> None:
        self.config, self.api, self.store = config, api, store
        self.base = config.api_url.rstrip("/") + "/xrpc/"
        self.state_name = f"session:{NAME}:{config.handle}"

    def session(self, *, fresh: bool = False) -> dict:
        """The stored session, or a new one from createSession."""
        session = {} if fresh else self.store.get(self.state_name)
        if not session.get("accessJwt"):
            data = self.api.call("POST", self.base + "com.atproto.server.createSession", json={
                "identifier": self.config.handle, "password": self.config.app_password.get_secret_value()}).json()
            session = {k: data[k] for k in ("accessJwt", "refreshJwt", "did", "handle")}
            self.store.merge(self.state_name, **session)
        return session

    def _refresh(self, session: dict) -> dict:
        try:
            data = self.api.call("POST", self.base + "com.atproto.server.refreshSession",
                                 headers={"Authorization": f"Bearer {session['refreshJwt']}"}).json()
        except DeliveryError:
            return self.session(fresh=True)
        session = {**session, **{k: data[k] for k in ("accessJwt", "refreshJwt") if k in data}}
        self.store.merge(self.state_name, **session)
        return session

    def call(self, method: str, nsid: str, **kwargs):
        """One authenticated XRPC call; an expired access token is refreshed once."""
        session = self.session()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {session['accessJwt']}"}
            try:
                return self.api.call(method, self.base + nsid, headers=headers, **kwargs)
            except DeliveryError as exc:
                if attempt == 2 or ("ExpiredToken" not in str(exc) and "401" not in str(exc)):
                    raise
                session = self._refresh(session)
        raise AssertionError("unreachable")


class BlueskyPoller(Poller):
    """Notifications (mention, reply, quote) and searchPosts per brand keyword."""

    network = NAME

    def __init__(self, client: BlueskyClient, keywords: list[str]) -> None:
        self.client, self.api, self.account = client, client.api, client.config.handle
        self.interval = client.config.poll_seconds
        self.keywords = keywords

    def poll(self, cursors: dict) -> PollResult:
        """What was indexed after each feed's cursor (an ISO time: Bluesky has no since_id)."""
        result = PollResult()
        seen = cursors.get("notifications")
        data = self.client.call("GET", "app.bsky.notification.listNotifications", params={"limit": 50}).json()
        fresh = [n for n in data.get("notifications", []) if not seen or n["indexedAt"] > seen]
        for note in fresh:
            if note.get("reason") in KINDS and note.get("record", {}).get("$type") == POST \
                    and not self._by_brand(note["author"]):
                result.messages.append(post_message(note, self.account, KINDS[note["reason"]]))
        result.cursors["notifications"] = max((n["indexedAt"] for n in fresh), default=None)
        own = self.client.session().get("did")
        for keyword in self.keywords:
            feed = f"search:{keyword}"
            params = {"q": keyword, "sort": "latest", "limit": 50}
            if cursors.get(feed):
                params["since"] = cursors[feed]
            posts = self.client.call("GET", "app.bsky.feed.searchPosts", params=params).json().get("posts", [])
            fresh = [p for p in posts if (not cursors.get(feed) or p["indexedAt"] > cursors[feed])
                     and p["author"]["did"] != own and not self._by_brand(p["author"])]
            result.messages += [post_message(post, self.account, "keyword") for post in fresh]
            result.cursors[feed] = max((p["indexedAt"] for p in posts), default=None)
        return result

    def _by_brand(self, author: dict) -> bool:
        """A post by one of the network's brand handles (handles are case-insensitive)."""
        return author.get("handle", "").lower() in {handle.lower() for handle in self.brand_accounts}


class BlueskySink(NetworkSink):
    """Replies in the customer's thread (root + parent), from the brand's repo."""

    network = NAME

    def __init__(self, client: BlueskyClient) -> None:
        super().__init__(client.api)
        self.client = client

    def _rkey(self, reply: OutboundReply) -> str:
        """The record key for this reply, chosen once and stored (so a retry reuses it)."""
        name = f"rkey:{NAME}:{reply.idempotency_key}"
        chosen = self.client.store.update(name, lambda value: value if value.get("rkey") else {
            "rkey": make_tid(time.time_ns() // 1000, hash(reply.idempotency_key) & 0x3FF)})
        return chosen["rkey"]

    def find_sent(self, reply: OutboundReply) -> str | None:
        """getRecord on the stored record key: found means an earlier attempt posted it."""
        did = self.client.session()["did"]
        try:
            data = self.client.call("GET", "com.atproto.repo.getRecord", params={
                "repo": did, "collection": POST, "rkey": self._rkey(reply)}).json()
        except DeliveryError as exc:
            if exc.permanent:  # 400 RecordNotFound
                return None
            raise
        return data.get("uri")

    def send(self, reply: OutboundReply) -> str | None:
        """createRecord of an app.bsky.feed.post with reply.root and reply.parent."""
        meta = reply.reply_meta
        if not meta.get("uri") or not meta.get("cid"):
            raise DeliveryError(f"{reply.ticket_key}: the customer's post has no uri/cid to reply to",
                                permanent=True, answered=True)
        session = self.client.session()
        record = {"$type": POST, "text": reply.text,
                  "createdAt": datetime.now().astimezone().isoformat(timespec="milliseconds"),
                  "reply": {"root": {"uri": meta.get("root_uri") or meta["uri"],
                                     "cid": meta.get("root_cid") or meta["cid"]},
                            "parent": {"uri": meta["uri"], "cid": meta["cid"]}}}
        data = self.client.call("POST", "com.atproto.repo.createRecord", json={
            "repo": session["did"], "collection": POST, "rkey": self._rkey(reply), "record": record}).json()
        return data["uri"]


def build(config: BlueskyConfig, context) -> object:
    """Sink and poller for the handle (Bluesky has no webhooks: it is polled)."""
    from integrations.registry import Parts

    # One client per thread (outbox, poller); both share the stored session.
    def client() -> BlueskyClient:
        return BlueskyClient(config, context.api(NAME, config.handle), context.store)

    return Parts(sink=BlueskySink(client()), pollers=[BlueskyPoller(client(), context.keywords.get(NAME, []))])


def probe(config: BlueskyConfig, api: NetworkAPI) -> str:
    """createSession with the app password (does not store it)."""
    data = api.call("POST", config.api_url.rstrip("/") + "/xrpc/com.atproto.server.createSession", json={
        "identifier": config.handle, "password": config.app_password.get_secret_value()}).json()
    return f"{data.get('handle')} {data.get('did')}"
