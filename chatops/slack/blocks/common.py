"""Shared pieces of the Block Kit builders: escaping, labels, times, limits."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from chatops.i18n import t
from chatops.rules import Rules
from chatops.slack.blocks.text import escape, link  # noqa: F401  (re-exported to the builders)
from chatops.slack.mentions import group_mention
from chatops.views import TicketView

NETWORK_NAMES = {"x": "X", "facebook": "Facebook", "instagram": "Instagram", "line": "LINE",
                 "mastodon": "Mastodon", "bluesky": "Bluesky", "webhook": "Webhook"}
SECTION_LIMIT = 3000  # characters of mrkdwn in one section
BUTTON_TEXT_LIMIT = 75
MODAL_TITLE_LIMIT = 24
OPTION_TEXT_LIMIT = 75


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str, limit: int = OPTION_TEXT_LIMIT) -> dict:
    """A plain_text object within Slack's length limit."""
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def mrkdwn(text: str) -> dict:
    """A mrkdwn text object."""
    return {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}


def user(user_id: str | None, lang: str) -> str:
    """A Slack mention for ids that look like Slack ids and for user groups Slack knows (while a
    deliverer renders, chatops/slack/mentions.py), else the name as given."""
    if not user_id:
        return t("slack.nobody", lang)
    if user_id.startswith("@"):  # bold only for a handle Slack does not know (reported to the channel)
        return group_mention(user_id) or f"*{escape(user_id)}*"
    if user_id[:1] in ("U", "W") and user_id.isalnum():
        return f"<@{user_id}>"
    if user_id.startswith("customer:"):
        return t("slack.customer", lang)
    if user_id.startswith("chatops:"):  # chatops itself (the SLA clock, an integration, rules.yaml)
        return t("slack.system", lang)
    return escape(user_id)


def local_time(moment: datetime, rules: Rules) -> str:
    """A moment in the team's time zone, e.g. `11/20 (Fri) 10:05 JST`."""
    zone = ZoneInfo(rules.business_hours.timezone)
    local = moment.astimezone(zone)
    return f"{local:%m/%d %H:%M} {local.tzname()}"


def priority_label(rules: Rules, priority: str, lang: str) -> str:
    """Emoji and label of a priority, e.g. `:red_circle: 大至急`."""
    definition = rules.priorities[priority]
    return f"{definition.emoji} {definition.label.get(lang)}"


def ticket_fallback(card: TicketView, rules: Rules, lang: str) -> str:
    """The notification text of a ticket message (what phones and screen readers show). Slack
    reads it as mrkdwn too, so customer text is escaped: `<!channel>` must never ping anyone."""
    label = rules.priorities[card.priority].label.get(lang)
    return f"[{label}] {card.key} {NETWORK_NAMES.get(card.source, card.source)}: {escape(clip(card.text, 150))}"
