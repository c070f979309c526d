"""X's settings and credentials: `X_*` (XConfig) and the Authorization headers of every X call
(XAuth): the app token for reads when there is one, else the OAuth 2.0 user token.

An OAuth 2.0 user token lives about two hours. With `X_CLIENT_ID` and
`X_REFRESH_TOKEN`, chatops refreshes it (`POST /2/oauth2/token`, grant `refresh_token`) shortly
before it expires or after a 401, and keeps the pair in `integration_state`: X rotates the
refresh token on every use, so the new one must outlive a restart and be shared by every
process, and the refresh runs under that row's lock so two processes never spend the same one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from integrations.calls import NetworkAPI
from integrations.state import StateStore

NAME = "x"


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
    accounts: list[Any] = Field(default_factory=list, description="more brand accounts of the same X app: a "
                                 "JSON list of objects with these settings' fields (docs/configuration.md)")

    # What an entry of `accounts` takes from these settings when it does not say (never credentials
    # of an account: each brings its own).
    shared: ClassVar[tuple[str, ...]] = ("api_url", "bearer_token", "consumer_secret", "client_id", "client_secret",
                                         "poll", "poll_seconds")
    # Webhook events name their account by it (`for_user_id`, `filter.user_id`: XWebhook.route).
    routed_by: ClassVar[str] = "user_id"

    @property
    def refreshes(self) -> bool:
        """The user token is refreshed (client id and a refresh token are set)."""
        return bool(self.client_id and self.refresh_token)

    @property
    def enabled(self) -> bool:
        """Account, user id and a user token (to reply) or the means to refresh one are set."""
        return bool(self.account and self.user_id and (self.user_token or self.refreshes))

    def missing(self) -> str:
        """The settings `enabled` still needs."""
        absent = [f for f in ("account", "user_id") if not getattr(self, f)]
        if not (self.user_token or self.refreshes):
            absent.append("user_token (or client_id and refresh_token)")
        return ", ".join(absent)


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
