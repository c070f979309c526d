"""X (API v2): mentions (`GET /2/users/:id/mentions`) and brand keywords
(`GET /2/tweets/search/recent`, last 7 days) polled with `since_id` cursors, or pushed by the
Account Activity webhook; replies by `POST /2/tweets` with `reply.in_reply_to_tweet_id`, DMs by
`POST /2/dm_conversations/with/:id/messages`.

- Webhook: `GET ?crc_token=` must answer `{"response_token": "sha256=" + b64(HMAC-SHA256(
  consumer secret, crc_token))}`; every POST carries `x-twitter-webhooks-signature:
  sha256=b64(HMAC-SHA256(consumer secret, raw body))`.
- Limits: 450 requests / 15 min per app on mentions and search; `x-rate-limit-*` headers and
  no Retry-After (see integrations.calls). Replies weigh 280 (twitter-text weights).
- Self-serve tiers may reply only when the author mentioned or engaged us: X answers 403 with
  a reason; that is a refusal of this reply (permanent), not a credentials problem.
- Settings and tokens (refreshed OAuth 2.0 user tokens): integrations.x_auth.
- Idempotency: X takes no idempotency key. A retry first looks at our own recent posts for a
  reply to the same post with the same text; X itself refuses an exact duplicate with 403
  "duplicate content", which we then treat as sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from pydantic import ValidationError

from chatops.inbound import Attachment
from chatops.outbox import DeliveryError
from integrations.base import InboundMessage, OutboundReply, WebhookError, WebhookResponse, WebhookSource
from integrations.calls import NetworkAPI
from integrations.network import NetworkSink, Poller, PollResult, same_secret
from integrations.x_auth import NAME, XAuth, XConfig

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
TWEET_FIELDS = "created_at,conversation_id,in_reply_to_user_id,lang,author_id,referenced_tweets,attachments,entities"
MEDIA_FIELDS = "type,url,preview_image_url,alt_text"
_MEDIA = {"photo": "image", "animated_gif": "gif", "video": "video"}


def signature(secret: str, data: bytes) -> str:
    """`sha256=` + base64 HMAC-SHA256: the CRC response token and the POST signature."""
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), data, hashlib.sha256).digest()).decode()


def v2_attachments(tweet: dict, media: dict[str, dict]) -> list[Attachment]:
    """A v2 post's media from `includes.media` by `attachments.media_keys` (a photo's `url`, a
    video's or GIF's `preview_image_url`, and `alt_text`)."""
    found = []
    for key in (tweet.get("attachments") or {}).get("media_keys") or []:
        item = media.get(key) or {}
        found.append(Attachment(type=_MEDIA.get(item.get("type"), "other"),
                                url=item.get("url") or item.get("preview_image_url"),
                                alt=(item.get("alt_text") or None) and item["alt_text"][:2000], ref=key))
    return found


def v1_attachments(tweet: dict) -> list[Attachment]:
    """An Account Activity (v1.1) post's `extended_entities.media` (`media_url_https`, `ext_alt_text`)."""
    entities = (tweet.get("extended_tweet") or {}).get("extended_entities") or tweet.get("extended_entities") or {}
    return [Attachment(type=_MEDIA.get(item.get("type"), "other"), url=item.get("media_url_https"),
                       alt=(item.get("ext_alt_text") or None) and item["ext_alt_text"][:2000],
                       ref=item.get("id_str"))
            for item in entities.get("media") or []]


def _dm_media(media: dict) -> Attachment:
    """A DM's media: its ton.twitter.com address opens only with the account's OAuth credentials,
    so it is kept as the reference, not as a public URL."""
    return Attachment(type=_MEDIA.get(media.get("type"), "other"), ref=(media.get("media_url_https") or "")[:255] or None)


def _without_media_links(text: str, tweet: dict) -> str:
    """The post's text without the t.co links X appends for its media (the media are attachments)."""
    entities = (tweet.get("extended_tweet") or {}).get("extended_entities") or tweet.get("extended_entities") or {}
    for item in entities.get("media") or []:
        if item.get("url"):
            text = text.replace(item["url"], "")
    return text.strip()


def tweet_message(tweet: dict, users: dict[str, dict], account: str, user_id: str, kind: str | None = None,
                  media: dict[str, dict] | None = None) -> InboundMessage:
    """A v2 post (with its expanded author and media) as an InboundMessage."""
    author = users.get(tweet["author_id"], {"id": tweet["author_id"]})
    replied = next((ref["id"] for ref in tweet.get("referenced_tweets") or [] if ref["type"] == "replied_to"), None)
    if kind is None:
        kind = "reply" if tweet.get("in_reply_to_user_id") == user_id else "mention"
    handle = author.get("username")
    attachments = v2_attachments(tweet, media or {})
    text = tweet["text"]
    for link in ((tweet.get("entities") or {}).get("urls") or []) if attachments else []:
        if link.get("media_key") and link.get("url"):  # the media's own t.co link: the media are attachments
            text = text.replace(link["url"], "").strip()
    return InboundMessage(
        source=NAME, account=account, external_id=tweet["id"], conversation_id=tweet.get("conversation_id"),
        in_reply_to=replied, author={"id": tweet["author_id"], "handle": f"@{handle}" if handle else None,
                                     "name": author.get("name")},
        text=text, url=f"https://x.com/{handle or 'i'}/status/{tweet['id']}",
        created_at=datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00")),
        lang=(tweet.get("lang") if tweet.get("lang") not in (None, "und", "zxx") else None), kind=kind,
        meta={"mode": "post"}, attachments=attachments)


def _users(payload: dict) -> dict[str, dict]:
    return {user["id"]: user for user in (payload.get("includes") or {}).get("users", [])}


def _media(payload: dict) -> dict[str, dict]:
    return {item["media_key"]: item for item in (payload.get("includes") or {}).get("media", [])}


class XPoller(Poller):
    """Mentions and recent search for the brand keywords, each with its own since_id."""

    network = NAME

    def __init__(self, config: XConfig, api: NetworkAPI, keywords: list[str], auth: XAuth | None = None) -> None:
        self.config, self.api, self.account = config, api, config.account
        self.auth = auth or XAuth(config, api, None)
        self.interval = config.poll_seconds
        self.base = config.api_url.rstrip("/")
        self.terms = [f'"{k}"' if " " in k else k for k in keywords]
        self.siblings: set[str] = set()  # the user ids of the brand's other accounts
        self.query = self._search([config.account])

    def _search(self, handles: list[str]) -> str | None:
        """The keyword search, without the posts of the brand's own accounts."""
        if not self.terms:
            return None
        return f"({' OR '.join(self.terms)}) {' '.join('-from:' + h.lstrip('@') for h in handles)} -is:retweet"

    def for_accounts(self, pollers: list[Poller]) -> None:
        """The other brand accounts' posts are no customer's: left out of the search and the mentions."""
        super().for_accounts(pollers)
        others = [p for p in pollers if isinstance(p, XPoller) and p is not self]
        self.siblings = {p.config.user_id for p in others}
        self.query = self._search([self.config.account] + [p.config.account for p in others])

    def _fetch(self, path: str, params: dict, since_id: str | None) -> dict:
        params = {**params, "tweet.fields": TWEET_FIELDS, "expansions": "author_id,attachments.media_keys",
                  "user.fields": "username,name", "media.fields": MEDIA_FIELDS, "max_results": 100}
        if since_id:
            params["since_id"] = since_id
        return self.auth.call("GET", f"{self.base}{path}", write=False, params=params).json()

    def poll(self, cursors: dict) -> PollResult:
        """New mentions, then new keyword matches."""
        result = PollResult()
        data = self._fetch(f"/2/users/{self.config.user_id}/mentions", {}, cursors.get("mentions"))
        users, media = _users(data), _media(data)
        result.messages += [tweet_message(t, users, self.account, self.config.user_id, media=media)
                            for t in data.get("data", []) if t.get("author_id") not in self.siblings]
        result.cursors["mentions"] = (data.get("meta") or {}).get("newest_id")
        if self.query:
            data = self._fetch("/2/tweets/search/recent", {"query": self.query}, cursors.get("search"))
            users, media = _users(data), _media(data)
            result.messages += [tweet_message(t, users, self.account, self.config.user_id, "keyword", media)
                                for t in data.get("data", []) if t.get("author_id") not in self.siblings]
            result.cursors["search"] = (data.get("meta") or {}).get("newest_id")
        return result


# X Activity API post events for the brand account and the kind of message each is.
ACTIVITY_POSTS = {"post.mention.create": "mention", "post.reply.create": "reply", "post.quote.create": "mention"}


def _activity_users(users: dict) -> dict[str, dict]:
    """The X Activity API's DM `users` map (`{id: {"data": v2 user}}`) in the Account Activity
    shape the DM parser reads (`screen_name`, `name`)."""
    found = {}
    for user_id, entry in (users or {}).items():
        data = entry.get("data", entry) if isinstance(entry, dict) else {}
        found[user_id] = {"screen_name": data.get("username") or data.get("screen_name"), "name": data.get("name")}
    return found


class XWebhook(WebhookSource):
    """Account Activity API: CRC handshake and signed tweet/DM events for the brand account."""

    name = NAME

    def __init__(self, config: XConfig) -> None:
        self.config = config
        self.accounts: dict[str, XWebhook] = {}
        self.unknown = None
        self.siblings: set[str] = set()  # the other brand accounts on this webhook (their user ids)

    def for_accounts(self, sources: list[WebhookSource], unknown) -> WebhookSource:
        """Several brand accounts subscribed to one app's webhook: every event names the account
        it is for (`for_user_id`, or the Activity API's `filter.user_id`). The app's consumer
        secret answers the CRC and signs every request, so the accounts share it."""
        secrets = {source.config.consumer_secret.get_secret_value() if source.config.consumer_secret else None
                   for source in sources}
        if len(secrets) > 1:
            raise ValueError("the X accounts share one webhook URL, so they must be of one X app with one "
                             "consumer_secret (X_CONSUMER_SECRET); accounts of different apps are polled "
                             "instead (leave their consumer_secret out)")
        self.accounts, self.unknown = {source.config.user_id: source for source in sources}, unknown
        for source in sources:
            source.siblings = set(self.accounts) - {source.config.user_id}
        return self

    def _ours(self, user_id: str | None, own: str | None) -> bool:
        """Written by this account (`own`) or another of the brand's accounts: no customer's message."""
        return user_id == own or user_id in self.siblings

    def _account(self, user_id: str | None) -> XWebhook | None:
        """The account an event is for; an event naming no account can only be a single account's."""
        if not self.accounts or (not user_id and len(self.accounts) == 1):
            return self
        source = self.accounts.get(str(user_id)) if user_id else None
        if source is None and self.unknown is not None:
            self.unknown(NAME, str(user_id))
        return source

    def route(self, payload: dict) -> tuple[list[InboundMessage], int]:
        """The messages of a verified request, each parsed by the account it is for."""
        if isinstance(payload.get("data"), dict | list):
            events = payload["data"] if isinstance(payload["data"], list) else [payload["data"]]
            messages, unrouted = [], 0
            for event in events:
                source = self._account((event.get("filter") or {}).get("user_id"))
                if source is None:
                    unrouted += 1
                    continue
                messages += source.parse_activity(event)
            return messages, unrouted
        source = self._account(payload.get("for_user_id"))
        return (source.parse(payload), 0) if source is not None else ([], 1)

    def handle(self, *, method: str, headers: dict[str, str], query: dict[str, str],
               body: bytes) -> WebhookResponse:
        """CRC on GET; signature check, then tweets and DMs on POST."""
        if not self.config.consumer_secret:
            raise WebhookError(503, "webhook.not_configured")
        secret = self.config.consumer_secret.get_secret_value()
        if method == "GET":
            token = query.get("crc_token")
            if not token:
                raise WebhookError(400, "networks.webhook.no_crc_token")
            return WebhookResponse(200, {"response_token": signature(secret, token.encode())})
        header = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER, "")
        if not same_secret(signature(secret, body), header):
            raise WebhookError(401, "networks.webhook.bad_signature", header=SIGNATURE_HEADER)
        try:
            messages, unrouted = self.route(json.loads(body))
            return WebhookResponse(200, {"ok": True}, messages, unrouted=unrouted)
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise WebhookError(400, "networks.webhook.bad_payload", network="x", message=_problem(exc)) from None

    def parse(self, payload: dict) -> list[InboundMessage]:
        """Tweets that mention or answer us, their deletions (`tweet_delete_events`), and DMs to
        us, in the Account Activity format (posts of any brand account are skipped); `route` takes
        the X Activity API's envelope (`{"data": {"event_type", "payload", "includes"}}`) apart."""
        own = payload.get("for_user_id") or self.config.user_id
        messages = []
        for deleted in payload.get("tweet_delete_events", []):
            status = deleted["status"]
            if self._ours(status.get("user_id"), own):
                continue
            messages.append(InboundMessage(
                source=NAME, account=self.config.account, external_id=status["id"], author={"id": status["user_id"]},
                text="", created_at=datetime.fromtimestamp(int(deleted["timestamp_ms"]) / 1000, tz=UTC),
                action="delete"))
        for tweet in payload.get("tweet_create_events", []):
            user = tweet["user"]
            if self._ours(user["id_str"], own) or "retweeted_status" in tweet:
                continue
            text = (tweet.get("extended_tweet") or {}).get("full_text") or tweet.get("full_text") or tweet["text"]
            attachments = v1_attachments(tweet)
            if attachments:
                text = _without_media_links(text, tweet)
            kind = "reply" if tweet.get("in_reply_to_user_id_str") == own else "mention"
            messages.append(InboundMessage(
                source=NAME, account=self.config.account, external_id=tweet["id_str"],
                in_reply_to=tweet.get("in_reply_to_status_id_str"),
                author={"id": user["id_str"], "handle": "@" + user["screen_name"], "name": user.get("name")},
                text=text, url=f"https://x.com/{user['screen_name']}/status/{tweet['id_str']}",
                created_at=parsedate_to_datetime(tweet["created_at"]),
                lang=tweet.get("lang") if tweet.get("lang") not in (None, "und") else None, kind=kind,
                meta={"mode": "post"}, attachments=attachments))
        users = payload.get("users", {})
        for event in payload.get("direct_message_events", []):
            if event.get("type") != "message_create":
                continue
            sender = event["message_create"]["sender_id"]
            if self._ours(sender, own):
                continue
            user = users.get(sender, {})
            data = event["message_create"]["message_data"]
            media = (data.get("attachment") or {}).get("media") if (data.get("attachment") or {}).get("type") == "media" \
                else None
            messages.append(InboundMessage(
                source=NAME, account=self.config.account, external_id=f"dm:{event['id']}",
                conversation_id=f"dm:{sender}",
                author={"id": sender, "handle": "@" + user["screen_name"] if user.get("screen_name") else None,
                        "name": user.get("name")},
                text=_without_media_links(data["text"], {"extended_entities": {"media": [media]}}) if media
                else data["text"], attachments=[_dm_media(media)] if media else [],
                created_at=datetime.fromtimestamp(int(event["created_timestamp"]) / 1000).astimezone(),
                kind="dm", meta={"mode": "dm"}))
        return messages


    def parse_activity(self, event: dict) -> list[InboundMessage]:
        """One X Activity API event: mentions, replies and quotes of the brand as posts (a v2 Post
        with its `includes`), `dm.received` as DMs; other event types carry nothing to answer."""
        kind = ACTIVITY_POSTS.get(event["event_type"])
        own = (event.get("filter") or {}).get("user_id") or self.config.user_id
        if kind is not None:
            post = event["payload"]
            if self._ours(post.get("author_id"), own):
                return []
            includes = {"includes": event.get("includes") or {}}
            return [tweet_message(post, _users(includes), self.config.account, own, kind, media=_media(includes))]
        if event["event_type"] == "dm.received":
            payload = event["payload"]
            return self.parse({"for_user_id": own, "direct_message_events": payload.get("direct_message_events", []),
                               "users": _activity_users(payload.get("users"))})
        return []


def _problem(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc).splitlines()[0][:200]


class XSink(NetworkSink):
    """Replies as the brand account: threaded posts, or DMs for DM tickets."""

    network = NAME

    def __init__(self, config: XConfig, api: NetworkAPI, auth: XAuth | None = None) -> None:
        super().__init__(api)
        self.config = config
        self.auth = auth or XAuth(config, api, None)
        self.base = config.api_url.rstrip("/")

    def find_sent(self, reply: OutboundReply) -> str | None:
        """Our recent posts: one replying to the same post with the same text was sent already."""
        if reply.reply_meta.get("mode") == "dm" or not reply.in_reply_to:
            return None
        data = self.auth.call("GET", f"{self.base}/2/users/{self.config.user_id}/tweets", write=False, params={
            "since_id": reply.in_reply_to, "max_results": 100, "tweet.fields": "referenced_tweets"}).json()
        for tweet in data.get("data", []):
            refs = {(ref["type"], ref["id"]) for ref in tweet.get("referenced_tweets") or []}
            if ("replied_to", reply.in_reply_to) in refs and tweet.get("text", "").endswith(reply.text):
                return tweet["id"]
        return None

    def send(self, reply: OutboundReply) -> str | None:
        """POST /2/tweets (reply) or the DM endpoint; 403 reasons are told apart."""
        if reply.reply_meta.get("mode") == "dm":
            url = f"{self.base}/2/dm_conversations/with/{reply.customer_id}/messages"
            body: dict = {"text": reply.text}
        else:
            url = f"{self.base}/2/tweets"
            body = {"text": reply.text, "reply": {"in_reply_to_tweet_id": reply.in_reply_to}}
        response = self.auth.call("POST", url, write=True, json=body, refuse=(403,))
        if response.status_code == 403:
            detail = response.text
            if "duplicate content" in detail:
                return self.find_sent(reply) or "duplicate"
            if "not allowed" in detail or "mentioned" in detail:
                raise DeliveryError(f"x refused this reply: {detail[:300]}", permanent=True, answered=True)
            raise self.api.auth_failure(response)
        data = response.json().get("data") or {}
        return data.get("id") or data.get("dm_event_id")


def build(config: XConfig, context) -> object:
    """Sink, pollers (unless X_POLL=false, e.g. when the webhook delivers) and the webhook."""
    from integrations.registry import Parts

    # One API client per thread (outbox, poller): each keeps its own rate-limit pause; the user
    # token they share lives in integration_state.
    poll_api, send_api = context.api(NAME, config.account), context.api(NAME, config.account)
    pollers = [XPoller(config, poll_api, context.keywords.get(NAME, []), XAuth(config, poll_api, context.store))] \
        if config.poll else []
    return Parts(sink=XSink(config, send_api, XAuth(config, send_api, context.store)), pollers=pollers,
                 webhook=XWebhook(config))


def probe(config: XConfig, api: NetworkAPI, context=None) -> str:
    """`GET /2/users/me` with the user token (refreshed and stored like the sink's)."""
    auth = XAuth(config, api, context.store if context is not None else None)
    data = auth.call("GET", f"{config.api_url.rstrip('/')}/2/users/me", write=True).json()
    return "@" + (data.get("data") or {}).get("username", "?")
