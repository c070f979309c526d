"""A flood incident's parent message (the live count) and its thread digest lines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatops.i18n import t
from chatops.rules import Rules
from chatops.slack.blocks.common import (
    clip,
    escape,
    link,
    local_time,
    mrkdwn,
    priority_label,
    user,
)
from chatops.slack.blocks.ticket import TEXT_LIMIT, ticket_actions
from chatops.views import TicketView

DIGEST_SHOWN = 5  # newest messages quoted in one digest line
SNIPPET = 120


def incident_message(card: TicketView, stats, rules: Rules, lang: str) -> dict[str, Any]:
    """`chat.postMessage` / `chat.update` arguments for an incident's parent: the 炎上 look in the
    priority colour, the live figures as fields, what floods, the first message, the buttons."""
    label = t("flood.label_ended" if stats.closed_at else "flood.label", lang)
    title = link(card.url, card.key)
    status = t(f"status.{card.status}", lang)
    fields = [
        mrkdwn(f"*{t('flood.field.messages', lang)}*\n{stats.count:,}"),
        mrkdwn(f"*{t('flood.field.authors', lang)}*\n{stats.authors:,}"),
        mrkdwn(f"*{t('flood.field.negative', lang)}*\n{stats.negative_share:.0%}"),
        mrkdwn(f"*{t('flood.field.rate', lang)}*\n{t('flood.rate', lang, rate=stats.rate_per_min)}"),
        mrkdwn(f"*{t('flood.field.since', lang)}*\n{local_time(stats.since, rules)}"),
        mrkdwn(f"*{t('slack.field.assignee', lang)}*\n{user(card.assignee, lang)}"),
    ]
    quote = "\n".join(f"> {line}" for line in escape(clip(card.text, TEXT_LIMIT)).splitlines() or [""])
    blocks = [
        {"type": "section", "text": mrkdwn(f":fire: *{label}*  *{title}*  {priority_label(rules, card.priority, lang)}"
                                           f"  ·  {escape(status)}")},
        {"type": "section", "fields": fields},
        {"type": "context", "elements": [mrkdwn(escape(key_text(stats.key, rules, lang)))]},
        {"type": "section", "text": mrkdwn(quote)},
        ticket_actions(card, rules, lang),
    ]
    headline = t("flood.fallback", lang, count=stats.count, authors=stats.authors)
    return {"text": f"[{rules.priorities[card.priority].label.get(lang)}] {card.key} :fire: {headline}",
            "attachments": [{"color": rules.priorities[card.priority].color, "blocks": blocks}]}


def key_text(key: str, rules: Rules, lang: str) -> str:
    """What floods, in words: one post's replies, or one topic (the keyword rule's description)."""
    kind, _, rest = key.partition(":")
    if kind == "post":
        return t("flood.key.post", lang, post=rest.rsplit(":", 1)[-1])
    rule = next((r for r in rules.keyword_rules if r.id == rest), None)
    return t("flood.key.topic", lang, topic=rule.description.get(lang) if rule and rule.description else rest)


def opened_line(payload: dict, rules: Rules, lang: str) -> str:
    """The thread line saying the ticket became an incident, and why."""
    window = _minutes(rules.flood.window.total_seconds())
    return ":fire: " + t("flood.line.opened", lang, count=payload.get("count", 0), authors=payload.get("authors", 0),
                         window=window, share=f"{payload.get('negative_share', 0):.0%}")


def digest_line(count: int, newest: Sequence, lang: str) -> str:
    """One batched thread line: how many arrived, the newest few (handle + snippet), "+K more"."""
    lines = [f":speech_balloon: *{t('flood.digest.head', lang, count=count)}*"]
    for row in newest[:DIGEST_SHOWN]:
        who = escape(row.author_handle or row.author_name or "?")
        lines.append(f"• *{who}*: {escape(clip(' '.join(row.text.split()), SNIPPET))}")
    shown = min(len(newest), DIGEST_SHOWN)
    if count > shown:
        lines.append(t("flood.digest.more", lang, more=count - shown))
    return "\n".join(lines)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m" if seconds >= 60 else f"{int(seconds)}s"


