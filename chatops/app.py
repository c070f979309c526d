"""create_app(runtime) -> Flask: health, readiness, metrics and the network webhooks."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from flask import Flask, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chatops import migrate
from chatops.metrics import Metrics
from chatops.outbox import Outbox
from chatops.runtime import Runtime
from chatops.tickets.group_commit import GroupCommit
from chatops.webhooks import WebhookEndpoint, language_of
from integrations.base import WebhookSource
from integrations.media import mount_media
from integrations.registry import networks_of
from integrations.webhook import GenericWebhook, GenericWebhookSink

log = logging.getLogger("chatops.app")


def request_language() -> str:
    """ja or en, from the current request's Accept-Language (English when nothing matches)."""
    return language_of(request.environ)


def webhook_sources(runtime: Runtime) -> dict[str, WebhookSource]:
    """The webhook endpoints this deployment answers, by URL name."""
    secret = runtime.settings.webhook_secret
    sources: dict[str, WebhookSource] = {"generic": GenericWebhook(secret.get_secret_value() if secret else None)}
    sources.update(networks_of(runtime).webhook_sources())
    return sources


def build_outbox(runtime: Runtime) -> Outbox:
    """The outbox with a deliverer for every target this deployment has configured."""
    settings = runtime.settings
    deliverers = {}
    if settings.webhook_reply_url and settings.webhook_secret:
        sink = GenericWebhookSink(settings.webhook_reply_url, settings.webhook_secret.get_secret_value())
        deliverers[sink.target] = sink
    deliverers.update(networks_of(runtime).sinks())
    on_done = {"reply": runtime.flows.reply_delivered}
    on_dead = {"reply": runtime.flows.reply_failed}
    if settings.slack_enabled:
        from chatops.slack.app import make_client
        from chatops.slack.incident import retire_earlier_renders
        from chatops.slack.notifier import SlackDeliverer

        deliverers["slack"] = SlackDeliverer(runtime.session_factory, runtime.rules, make_client(runtime),
                                             lang=runtime.rules.defaults.language,
                                             post_interval=settings.slack_post_interval, clock=runtime.clock)
        on_done["update_incident"] = retire_earlier_renders
        from chatops.slack.stats import SlackStatsDeliverer

        deliverers[SlackStatsDeliverer.target] = SlackStatsDeliverer(
            runtime.session_factory, runtime.rules, make_client(runtime), lang=runtime.rules.defaults.language,
            clock=runtime.clock)
    if _teams_channels(runtime):
        from chatops.teams.notifier import TeamsDeliverer
        from chatops.teams.web import make_links

        deliverers["teams"] = TeamsDeliverer(runtime.session_factory, runtime.rules, links=make_links(runtime),
                                             lang=runtime.rules.defaults.language,
                                             post_interval=settings.teams_post_interval,
                                             timeout=settings.teams_timeout)
    if settings.teams_bot_enabled:
        from chatops.teams.bot.web import make_deliverer

        deliverers["teams_bot"] = make_deliverer(runtime)
    if settings.pagerduty_routing_key is not None:
        from integrations.pagerduty import PagerDutyDeliverer

        deliverers["pagerduty"] = PagerDutyDeliverer(settings.pagerduty_routing_key.get_secret_value(),
                                                     settings.pagerduty_events_url)
    deliverers.update(tracker_deliverers(runtime))
    if deliverers.get("slack") is not None:
        deliverers["slack"].trackers = settings.issue_trackers
    on_done["create_issue"] = runtime.flows.issue_created
    on_dead["create_issue"] = runtime.flows.issue_failed
    on_done["moderate"] = runtime.flows.moderated
    on_dead["moderate"] = runtime.flows.moderation_failed
    def hook_failed(session, row, exc) -> None:
        item = f"T-{row.ticket_id} {row.kind}" if row.ticket_id else f"{row.kind} {row.id}"
        runtime.flows.scheduler_failed(session, "outbox", item[:64], exc, runtime.clock())

    return Outbox(runtime.session_factory, deliverers, on_done=on_done, on_dead=on_dead,
                  wakeup=runtime.outbox_wakeup, lease=timedelta(seconds=settings.outbox_lease_seconds),
                  on_hook_failure=hook_failed)


def tracker_deliverers(runtime: Runtime) -> dict:
    """Outbox deliverers of the configured issue trackers (docs/trackers.md)."""
    settings, lang = runtime.settings, runtime.rules.defaults.language
    deliverers = {}
    if "jira" in settings.issue_trackers:
        from integrations.jira import JiraDeliverer

        deliverers["jira"] = JiraDeliverer(runtime.session_factory, base_url=settings.jira_base_url,
                                           email=settings.jira_email, token=settings.jira_api_token.get_secret_value(),
                                           project=settings.jira_project, issue_type=settings.jira_issue_type,
                                           lang=lang)
    if "github" in settings.issue_trackers:
        from integrations.github import GitHubDeliverer

        deliverers["github"] = GitHubDeliverer(runtime.session_factory, token=settings.github_token.get_secret_value(),
                                               repo=settings.github_repo, api_url=settings.github_api_url, lang=lang)
    return deliverers


def tracker_webhooks(runtime: Runtime, metrics: Metrics) -> dict[str, WebhookSource]:
    """`/webhooks/jira` and `/webhooks/github` where the tracker or its webhook secret is set."""
    from integrations.github import GitHubWebhook
    from integrations.jira import JiraWebhook

    settings = runtime.settings
    count = metrics.tracker_webhooks.labels
    sources: dict[str, WebhookSource] = {}
    for cls, secret in ((JiraWebhook, settings.jira_webhook_secret), (GitHubWebhook, settings.github_webhook_secret)):
        if cls.name in settings.issue_trackers or secret is not None:
            sources[cls.name] = cls(secret.get_secret_value() if secret else None, runtime.flows,
                                    lambda tracker, outcome: count(tracker, outcome).inc())
    return sources


def create_app(runtime: Runtime) -> Flask:
    """The web app over an assembled runtime; no module-level state."""
    app = Flask("chatops")
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.max_body_bytes
    app.json.ensure_ascii = False
    metrics = Metrics(runtime.session_factory)
    sources = webhook_sources(runtime)
    sources.update(tracker_webhooks(runtime, metrics))
    committer = GroupCommit(runtime.flows)
    app.extensions["chatops"] = runtime
    app.extensions["chatops.metrics"] = metrics

    @app.get("/healthz")
    def healthz():
        return jsonify(ok=True)

    head = migrate.head_revision(runtime.engine)

    @app.get("/readyz")
    def readyz():
        try:
            current = migrate.current_revision(runtime.engine)
        except Exception as exc:  # any driver error means "not ready"
            log.warning("readiness check failed: %s", type(exc).__name__)
            return jsonify(ok=False, database="unreachable"), 503
        if current != head:  # e.g. a replica with newer code before `chatops db upgrade`
            return jsonify(ok=False, database="schema behind", schema=current, expected=head), 503
        return jsonify(ok=True, database="ok")

    @app.get("/metrics")
    def metrics_endpoint():
        return Response(generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST)

    if runtime.settings.slack_enabled:
        _mount_slack(app, runtime)
    if _teams_channels(runtime) or runtime.settings.teams_outgoing_token is not None:
        from chatops.teams.web import mount_teams

        mount_teams(app, runtime)
    if runtime.settings.teams_bot_enabled:
        from chatops.teams.bot.web import mount_bot

        mount_bot(app, runtime)

    mount_media(app, runtime, networks_of(runtime), metrics)  # only when media links are on

    if runtime.settings.pagerduty_webhook_secret is not None:
        from integrations.pagerduty_web import mount_pagerduty

        mount_pagerduty(app, runtime, metrics)

    # Compact JSON in the app's settings (sorted keys, non-ASCII as is), as `jsonify` writes it.
    dumps = partial(app.json.dumps, separators=(",", ":"))
    endpoint = WebhookEndpoint(sources, committer, metrics, max_body=runtime.settings.max_body_bytes,
                               wake=runtime.outbox_wakeup.set, dumps=dumps)

    @app.route("/webhooks/<network>", methods=["GET", "POST"])
    def webhook(network: str):  # GETs (handshakes); POSTs are answered by `endpoint.wsgi` below
        reply = endpoint.handle(network, method=request.method, headers=dict(request.headers),
                                query=request.args.to_dict(), length=request.content_length,
                                body=lambda: request.get_data(cache=False), lang=request_language)
        data, content_type = reply.encode(dumps)
        return Response(data, status=reply.status, content_type=content_type, headers=list(reply.headers))

    app.wsgi_app = endpoint.wsgi(app.wsgi_app)  # type: ignore[method-assign]
    return app


def _mount_slack(app: Flask, runtime: Runtime) -> None:
    """The Bolt app (kept for Socket Mode in `app.extensions["chatops.slack"]`) and, when a signing
    secret is set, `POST /slack/events` for events, interactivity and slash commands over HTTP."""
    from slack_bolt.adapter.flask import SlackRequestHandler

    from chatops.slack.app import build_slack_app

    bolt = build_slack_app(runtime, wake=runtime.outbox_wakeup.set)
    app.extensions["chatops.slack"] = bolt
    if runtime.settings.slack_signing_secret is None:
        return
    handler = SlackRequestHandler(bolt)
    app.add_url_rule("/slack/events", "slack_events", lambda: handler.handle(request), methods=["POST"])


def _teams_channels(runtime: Runtime) -> bool:
    """True when a rules.yaml channel also posts to Microsoft Teams."""
    return any(channel.teams_webhook for channel in runtime.rules.channels.values())

