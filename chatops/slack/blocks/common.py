"""Shared pieces of the Block Kit builders: escaping, labels, times, limits."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from chatops.i18n import t
from chatops.inbound import NETWORK_NAMES  # noqa: F401  (re-exported to the builders)
from chatops.rules import Rules
from chatops.slack.blocks.text import escape, link, safe_url  # noqa: F401  (re-exported to the builders)
from chatops.slack.mentions import group_mention
from chatops.views import TicketView

SECTION_LIMIT = 3000  # characters of mrkdwn in one section
FIELD_LIMIT = 2000  # characters of one section field (Slack's @slack/types documents it)
BUTTON_TEXT_LIMIT = 75
MODAL_TITLE_LIMIT = 24
OPTION_TEXT_LIMIT = 75


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_mrkdwn(text: str, limit: int) -> str:
    """Escaped mrkdwn cut to `limit` characters with an ellipsis, never inside an entity or a link."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # A cut `&amp;` or `<url|label>` would show broken markup, so back off to before it.
    for opener, closer in (("&", ";"), ("<", ">")):
        start = cut.rfind(opener)
        if start != -1 and closer not in cut[start:]:
            cut = cut[:start]
    return cut + "…"


def fit(items: list[str], limit: int, lang: str, sep: str = " ") -> str:
    """As many whole `items` as fit in `limit` characters, then "+N more" for the rest."""
    shown: list[str] = []
    for index, item in enumerate(items):
        rest = len(items) - index - 1
        tail = len(sep) + len(t("slack.more", lang, count=rest)) if rest else 0
        if len(sep.join([*shown, item])) + tail > limit:
            more = t("slack.more", lang, count=len(items) - index)
            return clip_mrkdwn(sep.join([*shown, more]), limit)
        shown.append(item)
    return sep.join(shown)


def field(text: str) -> dict:
    """A mrkdwn section field within Slack's field limit."""
    return {"type": "mrkdwn", "text": clip_mrkdwn(text, FIELD_LIMIT)}


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
    if user_id.startswith("pagerduty:"):  # someone who acted in PagerDuty, by their PagerDuty name
        return t("slack.pagerduty_person", lang, name=escape(user_id.removeprefix("pagerduty:")))
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
    return f"[{label}] {card.key} {NETWORK_NAMES.get(card.source, card.source)}: {escape(clip(said(card, lang), 150))}"


def said(card: TicketView, lang: str) -> str:
    """The customer's first words, or for media alone the kinds of its attachments, so a
    photo-only comment is never a blank notification or list row."""
    return card.text.strip() or " ".join(t(f"slack.attachment.{item.get('type', 'other')}", lang)
                                         for item in card.attachments)
