"""Settings from the environment (and a `.env` file), validated once and passed down.

Secrets are `SecretStr`, so `repr()`, logs and error messages show `**********`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///chatops.db"


class Settings(BaseSettings):
    """Everything chatops reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="CHATOPS_DATABASE_URL")
    rules_path: Path = Field(Path("rules.yaml"), validation_alias="CHATOPS_RULES")
    webhook_secret: SecretStr | None = Field(None, validation_alias="CHATOPS_WEBHOOK_SECRET")
    webhook_reply_url: str | None = Field(None, validation_alias="CHATOPS_WEBHOOK_REPLY_URL")
    max_body_bytes: int = Field(256 * 1024, validation_alias="CHATOPS_MAX_BODY_BYTES", gt=0)
    log_level: str = Field("INFO", validation_alias="CHATOPS_LOG_LEVEL")
    log_format: Literal["text", "json"] = Field("text", validation_alias="CHATOPS_LOG_FORMAT")
    host: str = Field("127.0.0.1", validation_alias="CHATOPS_HOST")
    port: int = Field(8080, validation_alias="CHATOPS_PORT", ge=0, le=65535)

    # How long a taken outbox item stays reserved for its process; a crashed process's items are
    # retried after it. Longer than any remote call's timeout (10 s), so live work is never doubled.
    outbox_lease_seconds: float = Field(120.0, validation_alias="CHATOPS_OUTBOX_LEASE_SECONDS", ge=11, le=3600)

    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    # Seconds a channel rests between our posts (Slack: about one message per second per channel).
    slack_post_interval: float = Field(1.0, validation_alias="SLACK_POST_INTERVAL", ge=0, le=60)
    # `auto`: `chatops serve` without Slack credentials runs the browser sandbox (chatops/sandbox).
    sandbox: Literal["auto", "off"] = Field("auto", validation_alias="CHATOPS_SANDBOX")

    # The deployment's public address and the key that signs media links: customers' media that
    # only the account's credentials can fetch (LINE's) reach agents through `/media/...`.
    public_url: str | None = Field(None, validation_alias="CHATOPS_PUBLIC_URL", pattern=r"^https?://\S+$")
    media_secret: SecretStr | None = Field(None, validation_alias="CHATOPS_MEDIA_SECRET", min_length=16)

    # Microsoft Teams (see docs/teams.md): channels' webhook URLs live in rules.yaml.
    teams_public_url: str | None = Field(None, validation_alias="TEAMS_PUBLIC_URL", pattern=r"^https?://\S+$")
    teams_link_secret: SecretStr | None = Field(None, validation_alias="TEAMS_LINK_SECRET", min_length=16)
    teams_link_ttl: int = Field(3 * 24 * 3600, validation_alias="TEAMS_LINK_TTL", ge=60)
    teams_outgoing_token: SecretStr | None = Field(None, validation_alias="TEAMS_OUTGOING_TOKEN")
    # Seconds a Teams webhook rests between our posts (Workflows: about 4 requests per second).
    teams_post_interval: float = Field(0.25, validation_alias="TEAMS_POST_INTERVAL", ge=0, le=60)
    teams_timeout: float = Field(10.0, validation_alias="TEAMS_TIMEOUT", gt=0, le=60)
    # The Teams bot (docs/teams.md): with TEAMS_APP_ID set, `POST /api/messages` takes Bot
    # Framework activities and the bot posts cards through the Bot Connector.
    teams_app_id: str | None = Field(None, validation_alias="TEAMS_APP_ID", min_length=1)
    teams_app_password: SecretStr | None = Field(None, validation_alias="TEAMS_APP_PASSWORD")
    teams_tenant_id: str | None = Field(None, validation_alias="TEAMS_TENANT_ID", min_length=1)
    teams_openid_url: str = Field("https://login.botframework.com/v1/.well-known/openidconfiguration",
                                  validation_alias="TEAMS_OPENID_URL", pattern=r"^https?://\S+$")
    # None: https://login.microsoftonline.com/<TEAMS_TENANT_ID or botframework.com>/oauth2/v2.0/token
    teams_token_url: str | None = Field(None, validation_alias="TEAMS_TOKEN_URL", pattern=r"^https?://\S+$")

    # SLA and paging scheduler (one leader among replicas; see chatops/scheduler.py).
    scheduler_enabled: bool = Field(True, validation_alias="CHATOPS_SCHEDULER")
    scheduler_interval: float = Field(10.0, validation_alias="CHATOPS_SCHEDULER_INTERVAL", gt=0, le=300)
    pagerduty_routing_key: SecretStr | None = Field(None, validation_alias="PAGERDUTY_ROUTING_KEY")
    pagerduty_events_url: str = Field("https://events.pagerduty.com", validation_alias="PAGERDUTY_EVENTS_URL")
    pagerduty_webhook_secret: SecretStr | None = Field(None, validation_alias="PAGERDUTY_WEBHOOK_SECRET")
    # How long the scheduler's and Socket Mode's leader leases last: a replica that died is
    # replaced within this time, and the holder renews well before it runs out.
    lease_seconds: float = Field(30.0, validation_alias="CHATOPS_LEASE_SECONDS", ge=1, le=3600)

    # Issue trackers (see docs/trackers.md): issues created from tickets, closed by signed webhooks.
    jira_base_url: str | None = Field(None, validation_alias="JIRA_BASE_URL", pattern=r"^https?://\S+$")
    jira_email: str | None = Field(None, validation_alias="JIRA_EMAIL")
    jira_api_token: SecretStr | None = Field(None, validation_alias="JIRA_API_TOKEN")
    jira_project: str | None = Field(None, validation_alias="JIRA_PROJECT", pattern=r"^[A-Z][A-Z0-9_]{1,99}$")
    jira_issue_type: str = Field("Task", validation_alias="JIRA_ISSUE_TYPE", min_length=1)
    jira_webhook_secret: SecretStr | None = Field(None, validation_alias="JIRA_WEBHOOK_SECRET")
    github_api_url: str = Field("https://api.github.com", validation_alias="GITHUB_API_URL", pattern=r"^https?://\S+$")
    github_token: SecretStr | None = Field(None, validation_alias="GITHUB_TOKEN")
    github_repo: str | None = Field(None, validation_alias="GITHUB_REPO", pattern=r"^[\w.-]+/[\w.-]+$")
    github_webhook_secret: SecretStr | None = Field(None, validation_alias="GITHUB_WEBHOOK_SECRET")

    @property
    def issue_trackers(self) -> tuple[str, ...]:
        """The trackers issues can be created in: `jira` when its site, account, token and
        project are set, `github` when its token and repository are."""
        jira = all(v is not None for v in (self.jira_base_url, self.jira_email, self.jira_api_token,
                                           self.jira_project))
        github = self.github_token is not None and self.github_repo is not None
        return tuple(name for name, on in (("jira", jira), ("github", github)) if on)

    @property
    def teams_links_enabled(self) -> bool:
        """True when cards can carry signed action links (public URL and link secret set)."""
        return self.teams_public_url is not None and self.teams_link_secret is not None

    @property
    def teams_bot_enabled(self) -> bool:
        """True when the Teams bot is configured (an app id; its password signs outgoing calls)."""
        return self.teams_app_id is not None

    @property
    def teams_bot_token_url(self) -> str:
        """Where the bot gets its token for Bot Connector calls (client credentials)."""
        tenant = self.teams_tenant_id or "botframework.com"
        return self.teams_token_url or f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"

    @property
    def slack_enabled(self) -> bool:
        """True when the Slack app is configured: a bot token, and a signing secret (HTTP) or an
        app-level token (Socket Mode)."""
        return self.slack_bot_token is not None and (self.slack_signing_secret is not None
                                                     or self.slack_app_token is not None)

    @property
    def slack_socket_mode(self) -> bool:
        """True when Slack events arrive over Socket Mode (SLACK_APP_TOKEN) instead of HTTP."""
        return self.slack_enabled and self.slack_app_token is not None

    @field_validator("slack_bot_token", "slack_app_token")
    @classmethod
    def _slack_token_kind(cls, value: SecretStr | None, info) -> SecretStr | None:
        prefix = {"slack_bot_token": "xoxb-", "slack_app_token": "xapp-"}[info.field_name]
        if value is not None and not value.get_secret_value().startswith(prefix):
            raise ValueError(f"must start with {prefix} (copy it from the app's settings page)")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_rounds(self) -> Settings:
        # The leader renews its lease once a round: a shorter lease would lapse between rounds.
        if self.scheduler_enabled and self.lease_seconds <= self.scheduler_interval:
            raise ValueError(f"CHATOPS_LEASE_SECONDS ({self.lease_seconds:g}) must be longer than "
                             f"CHATOPS_SCHEDULER_INTERVAL ({self.scheduler_interval:g})")
        return self

    @model_validator(mode="after")
    def _slack_complete(self) -> Settings:
        if self.slack_bot_token is not None and not self.slack_enabled:
            raise ValueError("SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP) nor "
                             "SLACK_APP_TOKEN (Socket Mode) is")
        if self.slack_bot_token is None and (self.slack_signing_secret or self.slack_app_token):
            raise ValueError("SLACK_SIGNING_SECRET / SLACK_APP_TOKEN are set but SLACK_BOT_TOKEN is not")
        return self

    @model_validator(mode="after")
    def _teams_bot_complete(self) -> Settings:
        if self.teams_app_id is not None and self.teams_app_password is None:
            raise ValueError("TEAMS_APP_ID is set but TEAMS_APP_PASSWORD is not (the bot's client secret)")
        return self

    @model_validator(mode="after")
    def _trackers_complete(self) -> Settings:
        for names in (("jira_base_url", "jira_email", "jira_api_token", "jira_project"), ("github_token", "github_repo")):
            given = [name for name in names if getattr(self, name) is not None]
            if given and len(given) < len(names):
                missing = ", ".join(name.upper() for name in names if name not in given)
                raise ValueError(f"{', '.join(n.upper() for n in given)} set but not {missing} (see docs/trackers.md)")
        return self

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("CHATOPS_DATABASE_URL must be a sqlite:// or postgresql:// URL")
        if value.startswith("postgresql://"):
            # SQLAlchemy's bare postgresql:// means psycopg2, which we do not ship; use psycopg 3.
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("teams_outgoing_token")
    @classmethod
    def _base64_token(cls, value: SecretStr | None) -> SecretStr | None:
        import base64
        import binascii

        if value is not None:
            try:
                base64.b64decode(value.get_secret_value(), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("TEAMS_OUTGOING_TOKEN must be the base64 security token Teams shows") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("CHATOPS_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return value

    def safe_database_url(self) -> str:
        """The database URL with any password replaced, for logs and messages."""
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).render_as_string(hide_password=True)

    def database_password(self) -> str | None:
        """The database URL's password, if any (so logs can redact it)."""
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).password


def load_settings(**overrides) -> Settings:
    """Read and validate settings once; `overrides` win over the environment (tests, CLI flags)."""
    return Settings(**overrides)
