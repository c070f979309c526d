"""The ticket's parent message and the one-line thread notes that follow each change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chatops.i18n import t
from chatops.rules import Rules
from chatops.slack import ids
from chatops.slack.blocks.common import (
    BUTTON_TEXT_LIMIT,
    NETWORK_NAMES,
    TicketCard,
    clip,
    escape,
    link,
    local_time,
    mrkdwn,
    plain,
    priority_label,
    ticket_fallback,
    user,
)
from chatops.slack.blocks.pages import sla_line

SLA_EMOJI = {"breached": ":rotating_light:", "warning": ":hourglass_flowing_sand:", "ok": ":clock3:",
             "paused": ":double_vertical_bar:", "met": ":white_check_mark:"}
TEXT_LIMIT = 2800


def ticket_message(card: TicketCard, rules: Rules, lang: str, now: datetime) -> dict[str, Any]:
    """`chat.postMessage` / `chat.update` arguments (text + attachments) for a ticket's parent:
    the priority colour as the attachment bar, facts as fields, the text, and the buttons."""
    blocks = [
        {"type": "section", "text": mrkdwn(_headline(card, rules, lang))},
        {"type": "section", "fields": _fields(card, rules, lang, now)},
        {"type": "section", "text": mrkdwn(_quote(card.text))},
        ticket_actions(card, rules, lang),
        {"type": "context", "elements": [mrkdwn(_context(card, rules, lang))]},
    ]
    return {"text": ticket_fallback(card, rules, lang),
            "attachments": [{"color": rules.priorities[card.priority].color, "blocks": blocks}]}


def _headline(card: TicketCard, rules: Rules, lang: str) -> str:
    level = rules.levels[card.level].name.get(lang)
    status = t(f"status.{card.status}", lang)
    title = link(card.url, card.key)
    return (f"*{title}*  {priority_label(rules, card.priority, lang)}  ·  *{card.level}* {escape(level)}"
            f"  ·  {escape(status)}")


def _fields(card: TicketCard, rules: Rules, lang: str, now: datetime) -> list[dict]:
    handle = link(card.url, card.customer_handle or card.customer_name or "?")
    flags = "".join(f" `{escape(flag)}`" for flag in card.customer_flags)
    network = f"{escape(NETWORK_NAMES.get(card.source, card.source))} · {escape(card.account)}"
    fields = [
        mrkdwn(f"*{t('slack.field.customer', lang)}*\n{handle}{flags}"),
        mrkdwn(f"*{t('slack.field.network', lang)}*\n{network}"),
        mrkdwn(f"*{t('slack.field.assignee', lang)}*\n{user(card.assignee, lang)}"),
        mrkdwn(f"*{t('slack.field.due', lang)}*\n{_due(card, rules, lang, now)}"),
    ]
    if card.tags:
        fields.append(mrkdwn(f"*{t('slack.field.tags', lang)}*\n" + " ".join(f"`{escape(tag)}`" for tag in card.tags)))
    return fields


def _due(card: TicketCard, rules: Rules, lang: str, now: datetime) -> str:
    if card.status == "resolved" and card.resolved_at:
        return f":white_check_mark: {t('slack.resolved_at', lang, time=local_time(card.resolved_at, rules))}"
    due = card.due()
    if due is None:
        return t("slack.no_deadline", lang)
    which, deadline = due
    state = card.sla_state(now, rules.sla.warn_at)
    label = t(f"slack.deadline.{which}", lang)
    overdue = f" *{t('slack.overdue', lang)}*" if state == "breached" else ""
    return f"{SLA_EMOJI[state]} {label} {local_time(deadline, rules)}{overdue}"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in escape(clip(text, TEXT_LIMIT)).splitlines() or [""])


def _context(card: TicketCard, rules: Rules, lang: str) -> str:
    parts = [t("slack.received", lang, time=local_time(card.created_at, rules))]
    if card.matched_rules:
        parts.append(t("slack.matched", lang, rules=", ".join(card.matched_rules[:5])))
    if card.follows:
        parts.append(t("slack.follows", lang, ticket=card.follows))
    return "  ·  ".join(escape(part) for part in parts)


def ticket_actions(card: TicketCard, rules: Rules, lang: str) -> dict:
    """The action row: Claim/Release, Reply, Escalate, Resolve/Reopen and the overflow menu."""
    def button(action_id: str, label_key: str, style: str | None = None) -> dict:
        element = {"type": "button", "action_id": action_id, "value": card.key,
                   "text": plain(t(label_key, lang), BUTTON_TEXT_LIMIT)}
        if style:
            element["style"] = style
        return element

    if card.status == "resolved":
        elements = [button(ids.REOPEN, "slack.button.reopen")]
    else:
        claim = (button(ids.RELEASE, "slack.button.release") if card.assignee
                 else button(ids.CLAIM, "slack.button.claim", "primary"))
        elements = [claim, button(ids.REPLY, "slack.button.reply"),
                    button(ids.ESCALATE, "slack.button.escalate"),
                    button(ids.RESOLVE, "slack.button.resolve", "danger")]
    # Waiting on the customer comes first: Slack shows at most five options.
    options = [{"text": plain(t("slack.menu.pending", lang)), "value": f"pending::{card.key}"}] \
        if card.status in ("new", "open") else []
    options += [
        {"text": plain(t("slack.menu.priority", lang, label=rules.priorities[name].label.get(lang))),
         "value": f"priority:{name}:{card.key}"}
        for name in rules.priorities if name != card.priority
    ]
    options.append({"text": plain(t("slack.menu.tags", lang)), "value": f"tags::{card.key}"})
    options.append({"text": plain(t("slack.menu.customer", lang)), "value": f"customer::{card.key}"})
    elements.append({"type": "overflow", "action_id": ids.MENU, "options": options[:5]})
    return {"type": "actions", "block_id": f"ticket:{card.key}", "elements": elements}


def event_line(kind: str, actor: str, payload: Mapping[str, Any], rules: Rules, lang: str) -> str | None:
    """The short thread line for one ticket event, or None for events that need no line."""
    who = user(actor, lang)
    match kind:
        case "pending" if payload.get("after_reply"):
            return t("slack.line.pending_after_reply", lang)
        case "claimed" | "released" | "pending" | "replied":
            return t(f"slack.line.{kind}", lang, who=who)
        case "assigned":
            return t("slack.line.assigned", lang, who=who, to=user(payload.get("assignee_to"), lang))
        case "tagged":
            changes = [f"+{tag}" for tag in payload.get("added", [])] + [f"-{tag}" for tag in payload.get("removed", [])]
            return t("slack.line.tagged", lang, who=who, tags=escape(" ".join(changes)))
        case "priority_changed":
            return t("slack.line.priority", lang, who=who,
                     label=priority_label(rules, payload["priority_to"], lang))
        case "tier_changed":
            return t("slack.line.tier_changed", lang, who=who, tier=t(f"tier.{payload['tier_to']}", lang))
        case "escalated":
            owners = " ".join(user(owner, lang) for owner in payload.get("notify", []))
            line = t("slack.line.escalated", lang, who=who, level=payload["level_to"],
                     note=escape(payload.get("note", "")))
            return f"{line}\n{t('slack.line.escalated_notify', lang, owners=owners)}" if owners else line
        case "resolved" if payload.get("auto_resolved_after_days") is not None:
            return t("slack.line.auto_resolved", lang, days=payload["auto_resolved_after_days"])
        case "resolved":
            note = payload.get("note")
            return t("slack.line.resolved_note" if note else "slack.line.resolved", lang, who=who,
                     note=escape(note or ""))
        case "reopened" if not actor.startswith("customer:"):
            return t("slack.line.reopened", lang, who=who)
        case "reopened":
            return t("slack.line.reopened_by_customer", lang)
        case "customer_message" if payload.get("priority_to"):
            return t("slack.line.priority_raised", lang,
                     label=priority_label(rules, payload["priority_to"], lang))
        case "created" if payload.get("follows") is not None:
            return linked_ticket_line(kind, payload["follows"], None, lang)
        case "continued" if payload.get("new_ticket_id") is not None:
            return linked_ticket_line(kind, payload["new_ticket_id"], None, lang)
    return sla_line(kind, actor, payload, rules, lang)  # SLA and paging events (blocks/pages.py)


def thread_permalink(channel: str, ts: str) -> str:
    """A link to a thread's parent message (Slack opens it from any workspace member's client)."""
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def linked_ticket_line(kind: str, other_id: int, thread: tuple[str, str] | None, lang: str) -> str:
    """A horizon link: on a `created` ticket, the long-resolved ticket it follows; on the old
    ticket (`continued`), the new one. The key links to that ticket's thread once it is posted."""
    other = link(thread_permalink(*thread) if thread else None, f"T-{other_id}")
    return t("slack.line.follows" if kind == "created" else "slack.line.continued", lang, ticket=other)


def customer_line(handle: str | None, text: str, url: str | None, lang: str) -> str:
    """A customer's follow-up as a thread line: who, the text quoted, a link to the post."""
    who = escape(handle or t("slack.customer", lang))
    post = f"  {link(url, t('slack.open_post', lang))}" if url else ""
    return f":speech_balloon: *{who}*{post}\n{_quote(text)}"


def reply_line(agent: str, text: str, lang: str) -> str:
    """An agent's reply to the customer, echoed in the thread while it is being sent."""
    return f":outbox_tray: {t('slack.line.replied', lang, who=user(agent, lang))}\n{_quote(text)}"


def reply_sent_line(agent: str, lang: str) -> str:
    """The network accepted the agent's reply."""
    return f":white_check_mark: {t('slack.line.reply_sent', lang, who=user(agent, lang))}"


def reply_failed_line(agent: str, reason: str, lang: str) -> str:
    """The network refused the agent's reply for good: mentions the agent and says why."""
    return f":x: {t('slack.line.reply_failed', lang, who=user(agent, lang), reason=escape(reason[:200]))}"
