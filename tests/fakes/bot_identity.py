"""A local Bot Framework identity service on 127.0.0.1: the OpenID metadata document, its JWKS
(with `endorsements`, as the real one has), and the Microsoft identity platform's token endpoint
(client credentials). It signs activities' tokens with a test RSA key through PyJWT, and can make
the bad ones a forger or a misconfiguration would send: expired, wrong audience, wrong issuer,
signed by a key it does not publish, or naming another serviceUrl."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.http_recorder import Answer, JsonServer, Recorded

ISSUER = "https://api.botframework.com"
OPENID_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"
TOKEN_PATH = "/botframework.com/oauth2/v2.0/token"


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class BotIdentity(JsonServer):
    """OpenID metadata + JWKS + token endpoint; `sign(activity)` gives the Authorization header."""

    def __init__(self, *, app_id: str, password: str, clock: Callable[[], datetime]) -> None:
        self.app_id = app_id
        self.password = password
        self.clock = clock
        self.key_id = f"test-{uuid.uuid4().hex[:8]}"
        self.key = _new_key()
        self.published: dict[str, rsa.RSAPrivateKey] = {self.key_id: self.key}
        self.requests: list[Recorded] = []
        self.issued: set[str] = set()  # bot tokens handed out (the fake connector accepts these)
        self.token_lifetime = 3600
        self.start_server()

    # -- the service ------------------------------------------------------------------------

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        self.requests.append(Recorded(method, path, headers, body))
        if method == "GET" and path == OPENID_PATH:
            return Answer(200, {"issuer": ISSUER, "authorization_endpoint": "https://invalid.example/auth",
                                "jwks_uri": self.url + KEYS_PATH,
                                "id_token_signing_alg_values_supported": ["RS256"],
                                "token_endpoint_auth_methods_supported": ["private_key_jwt"]})
        if method == "GET" and path == KEYS_PATH:
            keys = []
            for kid, key in self.published.items():
                data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
                keys.append({**data, "kid": kid, "use": "sig", "endorsements": ["msteams", "emulator"]})
            return Answer(200, {"keys": keys})
        if method == "POST" and path == TOKEN_PATH:
            form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
            if form.get("grant_type") != "client_credentials" or form.get("scope") != f"{ISSUER}/.default":
                return Answer(400, {"error": "invalid_request", "error_description": "AADSTS900144"})
            if form.get("client_id") != self.app_id or form.get("client_secret") != self.password:
                return Answer(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret"})
            token = f"bot-token-{uuid.uuid4().hex}"
            self.issued.add(token)
            return Answer(200, {"token_type": "Bearer", "expires_in": self.token_lifetime,
                                "ext_expires_in": self.token_lifetime, "access_token": token})
        return Answer(404, {"error": "not found"})

    @property
    def openid_url(self) -> str:
        """TEAMS_OPENID_URL for the app under test."""
        return self.url + OPENID_PATH

    @property
    def token_url(self) -> str:
        """TEAMS_TOKEN_URL for the app under test."""
        return self.url + TOKEN_PATH

    def token_requests(self) -> list[Recorded]:
        """Client-credentials requests the bot made."""
        return [r for r in self.requests if r.path == TOKEN_PATH]

    # -- signing activities -----------------------------------------------------------------

    def rotate(self) -> None:
        """Publish a new key and sign with it from now on (the old one stays published)."""
        self.key_id, self.key = f"test-{uuid.uuid4().hex[:8]}", _new_key()
        self.published[self.key_id] = self.key

    def token(self, activity: dict, *, audience: str | None = None, issuer: str = ISSUER,
              service_url: str | None = None, expires_in: timedelta = timedelta(minutes=60),
              issued_ago: timedelta = timedelta(0), key: rsa.RSAPrivateKey | None = None,
              kid: str | None = None) -> str:
        """A Bot Framework token for `activity` (good unless an argument says otherwise)."""
        now = self.clock() - issued_ago
        claims = {"iss": issuer, "aud": audience or self.app_id, "serviceurl": service_url or activity["serviceUrl"],
                  "nbf": int(now.timestamp()), "iat": int(now.timestamp()),
                  "exp": int((now + expires_in).timestamp())}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.key_id})

    def sign(self, activity: dict, **bad) -> str:
        """The `Authorization` header the Bot Framework sends with `activity`."""
        return f"Bearer {self.token(activity, **bad)}"

    def expired(self, activity: dict) -> str:
        """Issued two hours ago for one hour: past the validator's leeway."""
        return self.sign(activity, issued_ago=timedelta(hours=2), expires_in=timedelta(hours=1))

    def wrong_key(self, activity: dict) -> str:
        """Signed by a key the metadata does not publish, under the published key's id."""
        return self.sign(activity, key=_new_key())

    def unknown_key(self, activity: dict) -> str:
        """Signed by an unpublished key under an id the key set does not have."""
        return self.sign(activity, key=_new_key(), kid="not-published")
