"""The App Home tab and ticket lists (also used by `/ticket mine|queue|search`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from chatops.i18n import t
from chatops.rules import Rules
from chatops.slack import ids
from chatops.slack.blocks.common import (
    NETWORK_NAMES,
    clip,
    escape,
    local_time,
    mrkdwn,
    plain,
    said,
    user,
)
from chatops.slack.blocks.ticket import SLA_EMOJI, failed_reply_actions, failure_text
from chatops.views import TicketView

HOME_BLOCK_LIMIT = 100
FAILED_SHOWN = 5  # failed replies listed on Home (three blocks each); the rest are counted


@dataclass(frozen=True)
class FailedReply:
    """A ticket's latest agent reply the network refused, not followed by a delivered one."""

    view: TicketView
    message_id: int
    author: str | None
    reason: str


def ticket_row(card: TicketView, rules: Rules, lang: str, *, button: bool = True) -> dict:
    """One ticket as a list row: SLA state, priority, key, customer, first words."""
    due = card.due
    when = f"  {SLA_EMOJI[card.sla.state]} {local_time(due[1], rules)}" if due else ""
    who = escape(card.customer.label)
    text = (f"{rules.priorities[card.priority].emoji} *{card.key}* {card.level} · "
            f"{escape(NETWORK_NAMES.get(card.source, card.source))} {who} · {user(card.assignee, lang)}{when}\n"
            f"{escape(clip(' '.join(said(card, lang).split()), 140))}")
    row = {"type": "section", "text": mrkdwn(text)}
    if button:
        row["accessory"] = {"type": "button", "action_id": ids.OPEN_TICKET, "value": card.key,
                            "text": plain(t("slack.button.open", lang))}
    return row


def ticket_list(title: str, cards: Sequence[TicketView], rules: Rules, lang: str, *, limit: int = 20, total: int | None = None) -> list[dict]:
    """A titled list of ticket rows, or an 'empty' line; `total` (all matching tickets, when the
    caller counted them) makes "and N more" true beyond the cards it loaded."""
    blocks: list[dict] = [{"type": "header", "text": plain(title, 150)}]
    if not cards:
        blocks.append({"type": "context", "elements": [mrkdwn(t("slack.list.empty", lang))]})
    shown = cards[:limit]
    blocks.extend(ticket_row(card, rules, lang) for card in shown)
    rest = max(total if total is not None else len(cards), len(cards)) - len(shown)
    if rest > 0:
        blocks.append({"type": "context", "elements": [mrkdwn(t("slack.list.more", lang, count=rest))]})
    return blocks


def failed_section(failed: Sequence[FailedReply], rules: Rules, lang: str) -> list[dict]:
    """"Replies that failed": each ticket, why its reply was refused, Retry and Edit."""
    blocks: list[dict] = [{"type": "divider"},
                          {"type": "header", "text": plain(t("slack.home.failed", lang, count=len(failed)), 150)}]
    for entry in failed[:FAILED_SHOWN]:
        why = t("slack.home.failed_reason", lang, who=user(entry.author, lang), reason=failure_text(entry.reason, lang))
        blocks += [ticket_row(entry.view, rules, lang),
                   {"type": "context", "elements": [mrkdwn(why)]},
                   failed_reply_actions(entry.view.key, entry.message_id, lang)]
    if len(failed) > FAILED_SHOWN:
        blocks.append({"type": "context", "elements": [
            mrkdwn(t("slack.list.more", lang, count=len(failed) - FAILED_SHOWN))]})
    return blocks


def home_view(*, user_id: str, overdue: Sequence[TicketView], mine: Sequence[TicketView],
              unassigned: Sequence[TicketView], rules: Rules, lang: str, now: datetime,
              counts: Mapping[str, int] | None = None, failed: Sequence[FailedReply] = (),
              saved: Sequence[dict] = ()) -> dict:
    """The Home tab: replies that failed (when any) first, then overdue, my tickets and the
    unassigned queue (≤ 100 blocks). `counts` ("overdue", "mine", "unassigned") are the true
    totals the headers show; the lists stay limited and end with "and N more" when cut.
    `saved` (the agent's saved views, chatops/slack/blocks/saved_views.py) follows the failed replies."""
    intro = t("slack.home.intro", lang, who=f"<@{user_id}>", time=local_time(now, rules))
    blocks = [{"type": "section", "text": mrkdwn(intro)}]
    if failed:  # a customer who was promised an answer and did not get it comes first
        blocks.extend(failed_section(failed, rules, lang))
    blocks.extend(saved)
    sections = [("overdue", overdue), ("mine", mine), ("unassigned", unassigned)]
    budget = HOME_BLOCK_LIMIT - len(blocks) - 3 * 4
    per_section = max(3, budget // 3)
    for name, cards in sections:
        total = max((counts or {}).get(name, len(cards)), len(cards))
        blocks.append({"type": "divider"})
        blocks.extend(ticket_list(t(f"slack.home.{name}", lang, count=total), cards, rules, lang,
                                  limit=per_section, total=total))
    return {"type": "home", "blocks": blocks[:HOME_BLOCK_LIMIT]}
