"""SLA and paging in Slack: thread lines for warnings, breaches, pages and auto-replies; the
page DM with Acknowledge / Resolve buttons; the DM / channel notices of warnings and breaches."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chatops.i18n import t
from chatops.rules import Rules
from chatops.slack.blocks.common import (
    BUTTON_TEXT_LIMIT,
    clip,
    escape,
    local_time,
    mrkdwn,
    plain,
    priority_label,
    user,
)
from chatops.views import TicketView

PAGE_ACK = "page.ack"          # value: the page key (P-7)
PAGE_RESOLVE = "page.resolve"  # value: the page key
ONCALL_COMMAND = "/oncall"


def _due(payload: Mapping[str, Any], rules: Rules) -> str:
    return local_time(datetime.fromisoformat(payload["due_at"]), rules)


def sla_line(kind: str, actor: str, payload: Mapping[str, Any], rules: Rules, lang: str) -> str | None:
    """The thread line of an SLA or paging event, or None when `kind` is not one."""
    match kind:
        case "sla_warning":
            return t("sla.line.warning", lang, deadline=t(f"sla.deadline.{payload['deadline']}", lang),
                     due=_due(payload, rules), who=user(payload.get("assignee"), lang))
        case "sla_breached":
            leads = " ".join(user(lead, lang) for lead in payload.get("notify", []))
            return t("sla.line.breached", lang, deadline=t(f"sla.deadline.{payload['deadline']}", lang),
                     due=_due(payload, rules), leads=leads).rstrip()
        case "auto_replied":
            return t("sla.line.auto_replied", lang, back=local_time(datetime.fromisoformat(payload["back_at"]), rules))
        case "paged":
            return t("sla.line.paged", lang, who=user(payload.get("target"), lang), page=payload["page"],
                     step=payload["step"], round=payload["round"])
        case "page_acknowledged" | "page_resolved":
            return t(f"sla.line.{kind}", lang, who=user(actor, lang), page=payload["page"])
        case "page_exhausted":
            return t("sla.line.page_exhausted", lang, page=payload["page"])
    return None


def sla_notice(kind: str, card: TicketView, payload: Mapping[str, Any], rules: Rules, lang: str) -> str:
    """The text of a warning (to the assignee or the channel) or a breach (to the level's lead)."""
    deadline = t(f"sla.deadline.{payload['deadline']}", lang)
    params = {"key": card.key, "deadline": deadline, "due": _due(payload, rules), "level": card.level}
    text = t("sla.dm.warning" if kind == "sla_warning" else "sla.dm.breached", lang, **params)
    return f"{text}\n> {escape(clip(card.text, 300))}"


def page_message(card: TicketView, payload: Mapping[str, Any], rules: Rules, lang: str,
                 thread_link: str | None = None) -> dict[str, Any]:
    """`chat.postMessage` arguments of a page DM: what, how urgent, and the two buttons."""
    page = payload["page"]
    headline = t("sla.dm.page", lang, page=page, key=card.key, priority=priority_label(rules, card.priority, lang),
                 summary=escape(clip(card.text, 500)))
    context = t("sla.dm.page_context", lang, step=payload["step"], round=payload["round"])
    if thread_link:
        context += f"  ·  <{thread_link}|{t('sla.dm.open_thread', lang)}>"
    blocks = [
        {"type": "section", "text": mrkdwn(headline)},
        {"type": "context", "elements": [mrkdwn(context)]},
        {"type": "actions", "block_id": f"page:{page}", "elements": [
            {"type": "button", "action_id": PAGE_ACK, "value": page, "style": "primary",
             "text": plain(t("sla.button.ack", lang), BUTTON_TEXT_LIMIT)},
            {"type": "button", "action_id": PAGE_RESOLVE, "value": page, "style": "danger",
             "text": plain(t("sla.button.resolve", lang), BUTTON_TEXT_LIMIT)},
        ]},
    ]
    fallback = t("sla.dm.page", lang, page=page, key=card.key, priority=rules.priorities[card.priority].label.get(lang),
                 summary=escape(clip(card.text, 150)))
    return {"text": fallback, "blocks": blocks}


def settled_message(page: str, to: str, who: str, lang: str) -> dict[str, Any]:
    """What the page DM turns into once someone acknowledged or resolved it (no buttons)."""
    text = t(f"sla.page.{to}", lang, page=page, who=user(who, lang))
    return {"text": text, "blocks": [{"type": "section", "text": mrkdwn(text)}]}
