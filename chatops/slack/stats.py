"""Slack side of stats: the `/stats` answer blocks and the outbox deliverer for charts and the digest.

Charts and the digest go through the outbox (target `slack-stats`): a PNG upload or a channel
post is a side effect that must survive a 429 or a restart and never be sent twice. Both are
rendered at delivery, from the rollups, so the row only carries the query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import utcnow
from chatops.i18n import t
from chatops.outbox import DeliveryError
from chatops.rules import Rules
from chatops.slack.blocks.text import escape
from chatops.slack.notifier import _delivery_error, is_slack_user
from chatops.stats.chart import chart_png, daily_series
from chatops.stats.digest import TARGET
from chatops.stats.format import labelled, render_lines
from chatops.stats.period import parse_query
from chatops.stats.query import compute


def mention(user_id: str) -> str:
    """A Slack mention for Slack member ids; anything else (a Teams or API actor) escaped."""
    return f"<@{user_id}>" if is_slack_user(user_id) else escape(user_id)


def _inert(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures with the words people typed or tagged (filter values, tag and keyword names)
    escaped, so a `<!channel>` tag cannot ping from a digest."""
    safe = {**figures, "filter": {name: escape(str(value)) for name, value in figures["filter"].items()}}
    for key in ("top_tags", "top_keywords"):
        safe[key] = [{**item, "name": escape(str(item["name"]))} for item in figures[key]]
    return safe


def stats_blocks(figures: dict[str, Any], lang: str, rules: Rules | None = None) -> list[dict]:
    """The figures as Block Kit: a header line and one section per figure group, priorities and
    tiers by the names in `rules` (ids when no rules are given)."""
    shown = labelled(figures, rules, lang) if rules is not None else figures
    lines = render_lines(_inert(shown), lang, who=mention, strong=lambda text: f"*{text}*")
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": lines[0]}}, {"type": "divider"}]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": line[:3000]}} for line in lines[1:]]
    return blocks


class SlackStatsDeliverer:
    """Outbox deliverer for target `slack-stats`: kinds `chart`, `digest` and `alert`."""

    target = TARGET

    def __init__(self, session_factory: sessionmaker[Session], rules: Rules, client: WebClient, *, lang: str,
                 clock=utcnow) -> None:
        self.session_factory = session_factory
        self.rules = rules
        self.client = client
        self.lang = lang
        self.clock = clock

    def pace(self, item) -> float:
        """Channel posts rest one second (Slack's per-channel pace)."""
        return 1.0

    def __call__(self, item) -> dict[str, Any]:
        try:
            if item.kind == "chart":
                return self._chart(item.payload)
            if item.kind == "digest":
                return self._digest(item.payload)
            if item.kind == "alert":
                return self._alert(item.payload)
        except SlackApiError as exc:
            raise _delivery_error(exc) from exc
        except SlackClientError as exc:
            raise DeliveryError(f"slack client error: {exc}") from exc
        raise DeliveryError(f"unknown slack-stats item kind {item.kind!r}", permanent=True)

    def _query(self, words: list[str], now: datetime):
        return parse_query(words, self.rules, now)

    def _chart(self, payload: dict[str, Any]) -> dict[str, Any]:
        now = datetime.fromisoformat(payload["asked_at"])
        query = self._query(payload["words"], now)
        lang = payload.get("lang") or self.lang
        with self.session_factory() as session:
            png = chart_png(daily_series(session, self.rules, query), lang)
        title = t("stats.chart.title", lang, start=query.period.start, end=query.period.end)
        response = self.client.files_upload_v2(channel=payload["channel_id"], content=png, filename="stats.png",
                                               title=title, initial_comment=f"<@{payload['user']}> {title}")
        return {"file": (response.get("file") or {}).get("id")}

    def _alert(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A bilingual operational alert (a scheduler pass or item that failed) to a channel."""
        response = self.client.chat_postMessage(channel=self.rules.channels[payload["channel"]].slack,
                                                text=payload["text"])
        return {"channel": response["channel"], "ts": response["ts"]}

    def _digest(self, payload: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        query = self._query(payload["words"], now)
        with self.session_factory() as session:
            figures = compute(session, self.rules, query, now)
        channel = self.rules.channels[payload["channel"]].slack
        blocks = [{"type": "header", "text": {"type": "plain_text", "text": t("stats.digest.title", self.lang)
                                              .replace(":bar_chart: ", "")}}] + stats_blocks(figures, self.lang, self.rules)
        response = self.client.chat_postMessage(channel=channel, text=t("stats.digest.title", self.lang),
                                                blocks=blocks)
        return {"channel": response["channel"], "ts": response["ts"]}
