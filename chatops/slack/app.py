"""The Bolt app, built by a factory per runtime (there is no module-level app)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App
from slack_sdk import WebClient

from chatops.runtime import Runtime
from chatops.slack import listeners
from chatops.slack.surface import SlackSurface, UserGroups

log = logging.getLogger("chatops.slack")


class _QuietTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment and then warns that our client (which carries
    that same token and SLACK_API_URL) wins; that is intended, so the warning is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_bolt_log = logging.getLogger("chatops.slack.bolt")
_bolt_log.addFilter(_QuietTokenNotice())


def make_client(runtime: Runtime) -> WebClient:
    """A Web API client for the bot token, at `SLACK_API_URL` (a local fake in tests)."""
    settings = runtime.settings
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    # No SDK-level retries: its connection-error retry re-sends a chat.postMessage that Slack may
    # have carried out already. The outbox retries instead, and looks before posting again.
    return WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=base_url, timeout=10,
                     retry_handlers=[])


def build_slack_app(runtime: Runtime, *, client: WebClient | None = None,
                    wake: Callable[[], None] = lambda: None) -> App:
    """A Bolt app whose listeners call the runtime's flows. HTTP requests are always checked
    against `SLACK_SIGNING_SECRET` (there is no switch to turn that off); Socket Mode envelopes
    arrive over a connection opened with the app-level token instead."""
    settings = runtime.settings
    if not settings.slack_enabled:
        raise ValueError("SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN) are needed for Slack")
    client = client or make_client(runtime)
    secret = settings.slack_signing_secret
    app = App(
        client=client,
        # Without a secret (Socket Mode only) no HTTP route is mounted, and Bolt refuses every
        # HTTP request it might still be handed: an empty secret matches no signature.
        signing_secret=secret.get_secret_value() if secret else "",
        # auth.test at start would make every start depend on Slack being reachable.
        token_verification_enabled=False,
        # Listeners are short (one flow, maybe views.open); answering after them keeps
        # modal errors in the ack and makes behaviour deterministic. Slow work goes to the outbox.
        process_before_response=True,
        logger=_bolt_log,
    )
    surface = SlackSurface(runtime, client, wake=wake, clock=runtime.flows.clock, groups=UserGroups(client))
    listeners.register(app, surface)
    return app


def start_socket_mode(runtime: Runtime, app: App):
    """Connect to Slack over Socket Mode (SLACK_APP_TOKEN) in background threads; no public URL
    is needed. Returns the handler; call `close()` on shutdown."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, runtime.settings.slack_app_token.get_secret_value(),
                                logger=logging.getLogger("chatops.slack.socket"))
    handler.connect()
    log.info("Slack Socket Mode connected")
    return handler
