"""`/stats [period] [filter] [chart]`: ack at once, then a Bolt lazy listener computes the figures
and answers ephemerally through the command's response_url.

Why lazy + response_url for the text: it is a read for one person, answered within a second,
with nothing to retry after a crash (the person asks again), and the response_url is valid
for 30 minutes only. The chart is an upload (a side effect visible in the channel), so it
goes through the outbox (see `chatops.slack.stats`).
"""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk.errors import SlackClientError

from chatops.errors import DomainError
from chatops.i18n import t
from chatops.slack.stats import stats_blocks
from chatops.slack.surface import SlackSurface
from chatops.stats.digest import TARGET
from chatops.stats.format import title
from chatops.stats.period import parse_query
from chatops.stats.query import compute

log = logging.getLogger("chatops.slack")
COMMAND = "/stats"


def user_language(surface: SlackSurface, user_id: str) -> str:
    """ja or en from the person's Slack locale (users.info), else the workspace language."""
    try:
        locale = (surface.client.users_info(user=user_id, include_locale=True).get("user") or {}).get("locale")
    except SlackClientError as exc:
        log.info("no locale for %s: %s", user_id, exc)
        return surface.lang
    if not locale:
        return surface.lang
    return "ja" if locale.lower().startswith("ja") else "en"


def answer_stats(surface: SlackSurface, body: dict, respond) -> None:
    """Compute and send the figures in the person's language (and queue the chart when asked)."""
    lang = user_language(surface, body["user_id"])
    now = surface.clock()
    try:
        query = parse_query((body.get("text") or "").split(), surface.rules, now)
    except DomainError as exc:
        respond(response_type="ephemeral", text=f":warning: {exc.message(lang)}\n{t('stats.usage', lang)}")
        return
    try:
        figures = surface.desk().read(compute, surface.rules, query, now)
    except Exception as exc:  # the person must hear something, not wait forever
        log.exception("stats failed")
        respond(response_type="ephemeral", text=t("stats.failed", lang, error=type(exc).__name__))
        return
    respond(response_type="ephemeral", replace_original=True, text=render_title(figures, lang),
            blocks=stats_blocks(figures, lang, surface.rules))
    if query.chart:
        surface.desk().queue(
            target=TARGET, kind="chart", dedupe_key=f"stats-chart:{body.get('trigger_id') or now.isoformat()}",
            ordering_key=f"slack:{body.get('channel_id')}",
            payload={"words": (body.get("text") or "").split(), "channel_id": body.get("channel_id"),
                     "user": body.get("user_id"), "lang": lang, "asked_at": now.isoformat()})
        surface.changed()


def render_title(figures: dict, lang: str) -> str:
    """The notification text of the answer (its first line, without mrkdwn)."""
    return title(figures, lang)


def register(app: App, surface: SlackSurface) -> None:
    """Attach `/stats`."""
    def ack_stats(ack, body):
        if not surface.may(body["user_id"], "stats"):
            ack(response_type="ephemeral", text=f":no_entry: {surface.refusal('stats')}")
            return
        ack(response_type="ephemeral", text=t("stats.working", surface.lang))

    def lazy_answer(body, respond):
        if surface.may(body["user_id"], "stats"):
            answer_stats(surface, body, respond)

    app.command(COMMAND)(ack=ack_stats, lazy=[lazy_answer])
