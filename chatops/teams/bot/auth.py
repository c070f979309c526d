"""Bot Framework authentication: the JWT on every incoming activity, and the bot's own token for
Bot Connector calls.

Why PyJWT and requests rather than an SDK: the Microsoft 365 Agents SDK
(`microsoft-agents-hosting-core`: `JwtTokenValidator`, its connector client) and the Teams SDK
(`microsoft-teams-apps`: `TokenValidator`, its API client) are asyncio libraries (aiohttp, and
FastAPI/uvicorn for the Teams SDK) whose validators are themselves `jwt.PyJWKClient` + `jwt.decode`
with issuer, audience, a 300 s leeway and the `serviceurl` claim; calling them from sync Flask
means an event loop per request and their whole dependency tree for those few lines. This module
does what they do with the same library, and checks expiry against the runtime's clock so that
tests with a hand-moved clock sign and validate real tokens.

- Incoming (`ActivityAuth`): `Authorization: Bearer <JWT>` signed RS256 by a key of the OpenID
  metadata's `jwks_uri` (cached; fetched again for an unknown `kid`, at most every
  `REFETCH_EVERY` seconds), issuer `https://api.botframework.com`, audience = the app id,
  `exp`/`nbf` within `LEEWAY`, the `serviceurl` claim equal to the activity's `serviceUrl`, and,
  when the key lists endorsements, the activity's `channelId` among them.
- Outgoing (`BotToken`): client credentials at TEAMS_TOKEN_URL with scope
  `https://api.botframework.com/.default`, cached until `RENEW_BEFORE` seconds before it expires.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import jwt
import requests

log = logging.getLogger("chatops.teams.bot")

ISSUER = "https://api.botframework.com"
SCOPE = "https://api.botframework.com/.default"
LEEWAY = 300  # seconds of clock skew accepted on exp/nbf, as Microsoft's SDKs do
REFETCH_EVERY = 60.0  # an unknown kid fetches the key set again at most this often
METADATA_TTL = 24 * 3600.0  # the OpenID metadata is read again after this long
RENEW_BEFORE = 300  # seconds before expiry a cached bot token is replaced


class Unauthorized(Exception):
    """An activity whose token does not prove it came from the Bot Framework for this bot."""


class ActivityAuth:
    """Validates the bearer token of incoming activities (see the module docstring)."""

    def __init__(self, app_id: str, openid_url: str, *, clock: Callable[[], datetime],
                 http: requests.Session | None = None, timeout: float = 10.0,
                 refetch_every: float = REFETCH_EVERY) -> None:
        self.app_id = app_id
        self.openid_url = openid_url
        self.refetch_every = refetch_every
        self.clock = clock
        self.http = http or requests.Session()
        self.timeout = timeout
        self._lock = threading.Lock()
        self._jwks_uri: str | None = None
        self._metadata_at = 0.0
        self._keys: dict[str, dict[str, Any]] = {}
        self._keys_at = 0.0

    def check(self, authorization: str | None, activity: dict[str, Any]) -> dict[str, Any]:
        """The token's claims; Unauthorized unless it is valid for this bot and this activity."""
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthorized("no bearer token")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"unreadable token: {exc}") from None
        if header.get("alg") != "RS256":
            raise Unauthorized(f"algorithm {header.get('alg')!r} is not RS256")
        data = self._key(header.get("kid"))
        try:
            claims = jwt.decode(token, jwt.PyJWK(data, algorithm="RS256").key, algorithms=["RS256"],
                                audience=self.app_id, issuer=ISSUER,
                                # exp/nbf are checked below against the runtime's clock.
                                options={"require": ["exp", "iss", "aud"], "verify_exp": False,
                                         "verify_nbf": False, "verify_iat": False})
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"{type(exc).__name__}: {exc}") from None
        now = self.clock().timestamp()
        if not isinstance(claims.get("exp"), int | float) or now > claims["exp"] + LEEWAY:
            raise Unauthorized("token expired")
        if isinstance(claims.get("nbf"), int | float) and now < claims["nbf"] - LEEWAY:
            raise Unauthorized("token not valid yet")
        claimed = _claim(claims, "serviceurl")
        if not isinstance(claimed, str) or claimed.rstrip("/") != str(activity.get("serviceUrl", "")).rstrip("/"):
            raise Unauthorized("serviceUrl claim does not match the activity")
        endorsements = data.get("endorsements")
        if isinstance(endorsements, list) and activity.get("channelId") not in endorsements:
            raise Unauthorized(f"the signing key does not endorse channel {activity.get('channelId')!r}")
        return claims

    def _key(self, kid: str | None) -> dict[str, Any]:
        if not kid:
            raise Unauthorized("token names no key")
        with self._lock:
            if kid not in self._keys and (not self._keys_at or time.monotonic() - self._keys_at >= self.refetch_every):
                self._fetch_keys()
            found = self._keys.get(kid)
        if found is None:
            raise Unauthorized(f"unknown signing key {kid!r}")
        return found

    def _fetch_keys(self) -> None:
        """Read the key set named by the OpenID metadata (the metadata itself once a day)."""
        try:
            if self._jwks_uri is None or time.monotonic() - self._metadata_at >= METADATA_TTL:
                metadata = self.http.get(self.openid_url, timeout=self.timeout)
                metadata.raise_for_status()
                self._jwks_uri = metadata.json()["jwks_uri"]
                self._metadata_at = time.monotonic()
            answer = self.http.get(self._jwks_uri, timeout=self.timeout)
            answer.raise_for_status()
            keys = {key["kid"]: key for key in answer.json().get("keys", []) if key.get("kid")}
        except (requests.RequestException, ValueError, KeyError) as exc:
            log.error("Bot Framework signing keys could not be read from %s: %s", self.openid_url, exc)
            raise Unauthorized("signing keys unavailable") from None
        self._keys, self._keys_at = keys, time.monotonic()


def _claim(claims: dict[str, Any], name: str) -> Any:
    """A claim by case-insensitive name (the Bot Framework writes `serviceurl`, its docs `serviceUrl`)."""
    return next((value for key, value in claims.items() if key.lower() == name), None)


class BotToken:
    """The bot's access token for the Bot Connector, from the client-credentials grant."""

    def __init__(self, app_id: str, password: str, token_url: str, *, clock: Callable[[], datetime],
                 http: requests.Session | None = None, timeout: float = 10.0) -> None:
        self.app_id = app_id
        self.password = password
        self.token_url = token_url
        self.clock = clock
        self.http = http or requests.Session()
        self.timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._until: datetime | None = None

    def get(self) -> str:
        """A valid token, fetched when none is cached or the cached one is about to expire.
        Raises requests exceptions or TokenError."""
        with self._lock:
            now = self.clock()
            if self._token is None or self._until is None or now >= self._until:
                self._token, self._until = self._fetch(now)
            return self._token

    def forget(self) -> None:
        """Drop the cached token (the connector refused it)."""
        with self._lock:
            self._token = self._until = None

    def _fetch(self, now: datetime) -> tuple[str, datetime]:
        answer = self.http.post(self.token_url, timeout=self.timeout, data={
            "grant_type": "client_credentials", "client_id": self.app_id, "client_secret": self.password,
            "scope": SCOPE})
        if answer.status_code != 200:
            # The token endpoint's error body names the problem (AADSTS…), never the secret.
            raise TokenError(answer.status_code, answer.text[:300])
        body = answer.json()
        lifetime = float(body.get("expires_in", 3600))
        return body["access_token"], now + timedelta(seconds=max(lifetime - RENEW_BEFORE, lifetime / 2))


class TokenError(Exception):
    """The token endpoint refused the bot's credentials (or is failing)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"token endpoint answered HTTP {status}: {text}")
        self.status = status
