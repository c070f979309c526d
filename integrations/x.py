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
- Tokens: an OAuth 2.0 user token lives about two hours. With `X_CLIENT_ID` and
  `X_REFRESH_TOKEN`, chatops refreshes it (`POST /2/oauth2/token`, grant `refresh_token`) shortly
  before it expires or after a 401, and keeps the pair in `integration_state`: X rotates the
  refresh token on every use, so the new one must outlive a restart and be shared by every
  process, and the refresh runs under that row's lock so two processes never spend the same one.
- Idempotency: X takes no idempotency key. A retry first looks at our own recent posts for a
  reply to the same post with the same text; X itself refuses an exact duplicate with 403
  "duplicate content", which we then treat as sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatops.outbox import DeliveryError
from integrations.base import InboundMessage, OutboundReply, WebhookError, WebhookResponse, WebhookSource
from integrations.calls import NetworkAPI
from integrations.network import NetworkSink, Poller, PollResult, same_secret
from integrations.state import StateStore

NAME = "x"
SIGNATURE_HEADER = "x-twitter-webhooks-signature"
TWEET_FIELDS = "created_at,conversation_id,in_reply_to_user_id,lang,author_id,referenced_tweets"


class XConfig(BaseSettings):
    """X_*: API base, tokens, the brand account and the webhook consumer secret."""

    model_config = SettingsConfigDict(env_prefix="X_", env_file=".env", extra="ignore")

    api_url: str = "https://api.x.com"
    bearer_token: SecretStr | None = Field(None, description="app-only token: mentions and search")
    user_token: SecretStr | None = Field(None, description="OAuth 2.0 user-context token: posting")
    user_id: str | None = None
    account: str | None = Field(None, description="the brand handle, e.g. @acme_jp")
    consumer_secret: SecretStr | None = Field(None, description="Account Activity webhook CRC and signature")
    client_id: str | None = Field(None, description="OAuth 2.0 client id: refreshes the user token")
    client_secret: SecretStr | None = Field(None, description="OAuth 2.0 client secret (confidential clients)")
    refresh_token: SecretStr | None = Field(None, description="the first refresh token (offline.access)")
    poll: bool = True
    poll_seconds: float = Field(60.0, ge=5)

    @property
    def refreshes(self) -> bool:
        """The user token is refreshed (client id and a refresh token are set)."""
        return bool(self.client_id and self.refresh_token)

    @property
    def enabled(self) -> bool:
        """Account, user id and a user token (to reply) or the means to refresh one are set."""
        return bool(self.account and self.user_id and (self.user_token or self.refreshes))


class _RefreshRefused(Exception):
    """X refused the refresh token; carries its answer out of the state row's transaction."""

    def __init__(self, response) -> None:
        super().__init__(response.status_code)
        self.response = response


# Refresh this long before X says the token expires, so a call never leaves with a dying token.
EXPIRY_MARGIN = timedelta(minutes=5)


class XAuth:
    """The Authorization headers for X calls: the app token for reads when there is one, and the
    user token for everything else — refreshed and stored when X_CLIENT_ID/X_REFRESH_TOKEN are set."""

    def __init__(self, config: XConfig, api: NetworkAPI, store: StateStore | None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config, self.api, self.store, self.clock = config, api, store, clock
        self.state_name = f"oauth:{NAME}:{config.account}"
        # The refresh runs inside the state row's transaction: no health bookkeeping (another
        # transaction) may happen in there, so the token call has a client of its own without it.
        self.token_api = NetworkAPI(NAME, config.account or "", api.http, None)

    def read_headers(self) -> dict[str, str]:
        """Bearer for reads: the app token when given, else the user token."""
        if self.config.bearer_token is not None:
            return {"Authorization": f"Bearer {self.config.bearer_token.get_secret_value()}"}
        return self.write_headers()

    def write_headers(self) -> dict[str, str]:
        """Bearer user-context token for posts and DMs."""
        return {"Authorization": f"Bearer {self.user_token()}"}

    def user_token(self, *, after_401: str | None = None) -> str:
        """A live user token. `after_401`: the token X just refused, so a fresh one is needed."""
        if not self.config.refreshes or self.store is None:
            return self.config.user_token.get_secret_value()
        stored = self.store.get(self.state_name)
        if self._usable(stored, after_401):
            return stored["access_token"]
        try:
            return self.store.update(self.state_name, lambda value: self._refreshed(value, after_401))["access_token"]
        except _RefreshRefused as refused:
            raise self.api.auth_failure(refused.response) from None

    def _usable(self, stored: dict, refused: str | None) -> bool:
        expires = stored.get("expires_at")
        return bool(stored.get("access_token") and expires and stored["access_token"] != refused
                    and datetime.fromisoformat(expires) - EXPIRY_MARGIN > self.clock())

    def _refreshed(self, value: dict, refused: str | None) -> dict | None:
        """Under the row lock: another process may have refreshed meanwhile; else spend the
        stored (or first, configured) refresh token and keep what X answers."""
        if self._usable(value, refused):
            return None
        refresh = value.get("refresh_token") or self.config.refresh_token.get_secret_value()
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": self.config.client_id}
        auth = (self.config.client_id, self.config.client_secret.get_secret_value()) if self.config.client_secret \
            else None
        response = self.token_api.call("POST", f"{self.config.api_url.rstrip('/')}/2/oauth2/token", data=form,
                                       auth=auth, refuse=(400, 401))
        if response.status_code in (400, 401):  # invalid_grant: the refresh token was revoked or spent
            raise _RefreshRefused(response)
        data = response.json()
        return {"access_token": data["access_token"], "refresh_token": data.get("refresh_token", refresh),
                "expires_at": (self.clock() + timedelta(seconds=int(data.get("expires_in", 7200)))).isoformat(),
                "scope": data.get("scope")}

    def call(self, method: str, url: str, *, write: bool, refuse: tuple[int, ...] = (), **kwargs):
        """One API call with the right token; a 401 on a refreshed user token refreshes it once
        and retries (X may revoke a token before its stated expiry)."""
        if not write and self.config.bearer_token is not None:
            return self.api.call(method, url, headers=self.read_headers(), refuse=refuse, **kwargs)
        token = self.user_token()
        if not self.config.refreshes or self.store is None:
            return self.api.call(method, url, headers={"Authorization": f"Bearer {token}"}, refuse=refuse, **kwargs)
        response = self.api.call(method, url, headers={"Authorization": f"Bearer {token}"},
                                 refuse=(*refuse, 401), **kwargs)
        if response.status_code == 401 and 401 not in refuse:
            fresh = self.user_token(after_401=token)
            response = self.api.call(method, url, headers={"Authorization": f"Bearer {fresh}"}, refuse=refuse,
                                     **kwargs)
        return response


def signature(secret: str, data: bytes) -> str:
    """`sha256=` + base64 HMAC-SHA256: the CRC response token and the POST signature."""
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), data, hashlib.sha256).digest()).decode()


def tweet_message(tweet: dict, users: dict[str, dict], account: str, user_id: str, kind: str | None = None
                  ) -> InboundMessage:
    """A v2 post (with its expanded author) as an InboundMessage."""
    author = users.get(tweet["author_id"], {"id": tweet["author_id"]})
    replied = next((ref["id"] for ref in tweet.get("referenced_tweets") or [] if ref["type"] == "replied_to"), None)
    if kind is None:
        kind = "reply" if tweet.get("in_reply_to_user_id") == user_id else "mention"
    handle = author.get("username")
    return InboundMessage(
        source=NAME, account=account, external_id=tweet["id"], conversation_id=tweet.get("conversation_id"),
        in_reply_to=replied, author={"id": tweet["author_id"], "handle": f"@{handle}" if handle else None,
                                     "name": author.get("name")},
        text=tweet["text"], url=f"https://x.com/{handle or 'i'}/status/{tweet['id']}",
        created_at=datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00")),
        lang=(tweet.get("lang") if tweet.get("lang") not in (None, "und", "zxx") else None), kind=kind,
        meta={"mode": "post"})


def _users(payload: dict) -> dict[str, dict]:
    return {user["id"]: user for user in (payload.get("includes") or {}).get("users", [])}


class XPoller(Poller):
    """Mentions and recent search for the brand keywords, each with its own since_id."""

    network = NAME

    def __init__(self, config: XConfig, api: NetworkAPI, keywords: list[str], auth: XAuth | None = None) -> None:
        self.config, self.api, self.account = config, api, config.account
        self.auth = auth or XAuth(config, api, None)
        self.interval = config.poll_seconds
        self.base = config.api_url.rstrip("/")
        terms = [f'"{k}"' if " " in k else k for k in keywords]
        handle = config.account.lstrip("@")
        self.query = f"({' OR '.join(terms)}) -from:{handle} -is:retweet" if terms else None

    def _fetch(self, path: str, params: dict, since_id: str | None) -> dict:
        params = {**params, "tweet.fields": TWEET_FIELDS, "expansions": "author_id", "user.fields": "username,name",
                  "max_results": 100}
        if since_id:
            params["since_id"] = since_id
        return self.auth.call("GET", f"{self.base}{path}", write=False, params=params).json()

    def poll(self, cursors: dict) -> PollResult:
        """New mentions, then new keyword matches."""
        result = PollResult()
        data = self._fetch(f"/2/users/{self.config.user_id}/mentions", {}, cursors.get("mentions"))
        users = _users(data)
        result.messages += [tweet_message(t, users, self.account, self.config.user_id) for t in data.get("data", [])]
        result.cursors["mentions"] = (data.get("meta") or {}).get("newest_id")
        if self.query:
            data = self._fetch("/2/tweets/search/recent", {"query": self.query}, cursors.get("search"))
            users = _users(data)
            result.messages += [tweet_message(t, users, self.account, self.config.user_id, "keyword")
                                for t in data.get("data", [])]
            result.cursors["search"] = (data.get("meta") or {}).get("newest_id")
        return result


class XWebhook(WebhookSource):
    """Account Activity API: CRC handshake and signed tweet/DM events for the brand account."""

    name = NAME

    def __init__(self, config: XConfig) -> None:
        self.config = config

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
            return WebhookResponse(200, {"ok": True}, self.parse(json.loads(body)))
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise WebhookError(400, "networks.webhook.bad_payload", network="x", message=_problem(exc)) from None

    def parse(self, payload: dict) -> list[InboundMessage]:
        """Tweets that mention or answer us, and DMs to us (our own posts are skipped)."""
        own = payload.get("for_user_id") or self.config.user_id
        messages = []
        for tweet in payload.get("tweet_create_events", []):
            user = tweet["user"]
            if user["id_str"] == own or "retweeted_status" in tweet:
                continue
            text = (tweet.get("extended_tweet") or {}).get("full_text") or tweet.get("full_text") or tweet["text"]
            kind = "reply" if tweet.get("in_reply_to_user_id_str") == own else "mention"
            messages.append(InboundMessage(
                source=NAME, account=self.config.account, external_id=tweet["id_str"],
                in_reply_to=tweet.get("in_reply_to_status_id_str"),
                author={"id": user["id_str"], "handle": "@" + user["screen_name"], "name": user.get("name")},
                text=text, url=f"https://x.com/{user['screen_name']}/status/{tweet['id_str']}",
                created_at=parsedate_to_datetime(tweet["created_at"]),
                lang=tweet.get("lang") if tweet.get("lang") not in (None, "und") else None, kind=kind,
                meta={"mode": "post"}))
        users = payload.get("users", {})
        for event in payload.get("direct_message_events", []):
            if event.get("type") != "message_create":
                continue
            sender = event["message_create"]["sender_id"]
            if sender == own:
                continue
            user = users.get(sender, {})
            messages.append(InboundMessage(
                source=NAME, account=self.config.account, external_id=f"dm:{event['id']}",
                conversation_id=f"dm:{sender}",
                author={"id": sender, "handle": "@" + user["screen_name"] if user.get("screen_name") else None,
                        "name": user.get("name")},
                text=event["message_create"]["message_data"]["text"],
                created_at=datetime.fromtimestamp(int(event["created_timestamp"]) / 1000).astimezone(),
                kind="dm", meta={"mode": "dm"}))
        return messages


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
