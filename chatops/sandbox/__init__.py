"""Sandbox mode: chatops without Slack. When no Slack credentials are set, `chatops serve` runs
an embedded Slack-compatible Web API (`/sandbox/api/`) that the real Bolt app calls through
SLACK_API_URL, and a browser page (`/sandbox`) showing the channels, threads, modals, App Home
and a customer panel. Clicks on the page become the signed payloads Slack would send to
`/slack/events`; customers' messages go through the signed generic webhook; agents' replies come
back through the outbox to `/sandbox/network/<network>/reply`.

The sandbox is a surface like Slack or Teams: the core never imports it."""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from chatops.rules import Rules
from chatops.settings import DEFAULT_DATABASE_URL, Settings

# The database of a sandbox started without CHATOPS_DATABASE_URL: emptied at every start, since
# the embedded workspace (like a fresh Slack workspace) starts empty too.
SANDBOX_DATABASE = Path("chatops-sandbox.db")
SAMPLE_POST_INTERVAL = 0.2


def wanted(settings: Settings, rules: Rules | None = None) -> bool:
    """True when `serve` should start in sandbox mode: no Slack credentials, no Teams surface (a
    real deployment, whose people must not be impersonated from a web page), not turned off."""
    if settings.sandbox == "off" or settings.slack_enabled or settings.slack_bot_token is not None:
        return False
    if settings.teams_public_url or settings.teams_outgoing_token or settings.teams_app_id:
        return False
    return not (rules is not None and any(channel.teams_webhook for channel in rules.channels.values()))


def rules_or_none(settings: Settings) -> Rules | None:
    """The rules file, or None when it is broken (serve reports that itself, next)."""
    from chatops.rules import RulesError, load_rules

    try:
        return load_rules(settings.rules_path)
    except (RulesError, OSError):
        return None


def is_loopback(host: str) -> bool:
    """True when only this machine can reach `host`."""
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


def base_url(host: str, port: int) -> str:
    """Where this process can reach itself (and where a browser on this machine opens it)."""
    if host in ("", "0.0.0.0", "::", "localhost"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def free_port(host: str) -> int:
    """A port nobody listens on (so the sandbox knows its own URL before serving)."""
    with socket.socket() as sock:
        sock.bind((host if host not in ("", "::") else "127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class SandboxConfig:
    """This process's sandbox: its URL and the secrets it made up (never shown to the browser)."""

    base_url: str
    bot_token: str
    signing_secret: str
    webhook_secret: str

    def overrides(self, settings: Settings) -> dict:
        """Settings that point the Slack surface and the reply webhook at the sandbox."""
        changes = {"slack_bot_token": self.bot_token, "slack_signing_secret": self.signing_secret,
                   "slack_api_url": f"{self.base_url}/sandbox/api/", "webhook_secret": self.webhook_secret}
        if settings.webhook_reply_url is None:
            changes["webhook_reply_url"] = f"{self.base_url}/sandbox/network/webhook/reply"
        if "slack_post_interval" not in settings.model_fields_set:
            changes["slack_post_interval"] = SAMPLE_POST_INTERVAL
        if "database_url" not in settings.model_fields_set and settings.database_url == DEFAULT_DATABASE_URL:
            changes["database_url"] = f"sqlite:///{SANDBOX_DATABASE}"
        return changes


def prepare(settings: Settings) -> tuple[SandboxConfig, dict]:
    """Made-up credentials for this process, and the settings overrides (port included) that put
    the app in sandbox mode. Removes the previous run's sandbox database when it is the default."""
    port = settings.port or free_port(settings.host)
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else secrets.token_hex(16)
    config = SandboxConfig(base_url(settings.host, port), f"xoxb-sandbox-{secrets.token_hex(12)}",
                           secrets.token_hex(16), secret)
    overrides = {"port": port, **config.overrides(settings)}
    if overrides.get("database_url") == f"sqlite:///{SANDBOX_DATABASE}":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SANDBOX_DATABASE}{suffix}").unlink(missing_ok=True)
    return config, overrides
