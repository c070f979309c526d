"""The ticket's parent message and the one-line thread notes that follow each change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chatops.i18n import t
from chatops.rules import Rules
from chatops.slack import ids
from chatops.slack.blocks.common import (
    BUTTON_TEXT_LIMIT,
    FIELD_LIMIT,
    NETWORK_NAMES,
    clip,
    escape,
    field,
    fit,
    link,
    local_time,
    mrkdwn,
    plain,
    priority_label,
    safe_url,
    ticket_fallback,
    user,
)
from chatops.slack.blocks.pages import sla_line
from chatops.tickets.assignment import ASSIGNMENT_ACTOR
from chatops.tickets.delivery import failure_cause
from chatops.views import TicketView

SLA_EMOJI = {"breached": ":rotating_light:", "warning": ":hourglass_flowing_sand:", "ok": ":clock3:",
             "paused": ":double_vertical_bar:", "met": ":white_check_mark:"}
TEXT_LIMIT = 2800
IMAGE_TYPES = ("image", "gif", "sticker")  # media Slack can show itself from a public URL
IMAGES_SHOWN = 4  # image blocks per message; further media are listed as links
IMAGE_URL_LIMIT = 3000  # Slack's image_url length limit
ALT_TEXT_LIMIT = 2000  # Slack's alt_text length limit


def ticket_message(card: TicketView, rules: Rules, lang: str, *, trackers: tuple[str, ...] = ()) -> dict[str, Any]:
    """`chat.postMessage` / `chat.update` arguments (text + attachments) for a ticket's parent:
    the priority colour as the attachment bar, facts as fields, the text, and the buttons
    (`trackers`: the issue trackers configured, offered in the overflow menu)."""
    blocks = [
        {"type": "section", "text": mrkdwn(_headline(card, rules, lang))},
        {"type": "section", "fields": _fields(card, rules, lang)},
        *([{"type": "section", "text": mrkdwn(_quote(card.text))}] if card.text.strip() else []),
        *attachment_blocks(card.attachments, lang),
        *([{"type": "context", "elements": [mrkdwn(t(
            "slack.message_deleted" if card.deleted else "slack.message_edited", lang))]}]
          if card.deleted or card.edited else []),
        ticket_actions(card, rules, lang, trackers=trackers),
        {"type": "context", "elements": [mrkdwn(_context(card, rules, lang))]},
    ]
    return {"text": ticket_fallback(card, rules, lang),
            "attachments": [{"color": rules.priorities[card.priority].color, "blocks": blocks}]}


def _headline(card: TicketView, rules: Rules, lang: str) -> str:
    level = rules.levels[card.level].name.get(lang)
    status = t(f"status.{card.status}", lang)
    title = link(card.url, card.key)
    return (f"*{title}*  {priority_label(rules, card.priority, lang)}  ·  *{card.level}* {escape(level)}"
            f"  ·  {escape(status)}")


def _fields(card: TicketView, rules: Rules, lang: str) -> list[dict]:
    handle = link(card.url, card.customer.label)
    flags = "".join(f" `{escape(flag)}`" for flag in card.customer.flags)
    network = f"{escape(NETWORK_NAMES.get(card.source, card.source))} · {escape(card.account)}"
    also = ""
    if card.customer.linked:  # the same person elsewhere: their history spans those records
        also = "\n" + t("customers.card.linked", lang, keys=fit([escape(k) for k in card.customer.linked],
                                                                 FIELD_LIMIT // 2, lang, ", "),
                         count=card.customer.tickets_all)
    fields = [
        field(f"*{t('slack.field.customer', lang)}*\n{handle}{flags}{also}"),
        field(f"*{t('slack.field.network', lang)}*\n{network}"),
        field(f"*{t('slack.field.assignee', lang)}*\n{user(card.assignee, lang)}"),
        field(f"*{t('slack.field.due', lang)}*\n{_due(card, rules, lang)}"),
    ]
    if card.tags:
        label = f"*{t('slack.field.tags', lang)}*\n"
        fields.append(field(label + fit([f"`{escape(tag)}`" for tag in card.tags], FIELD_LIMIT - len(label), lang)))
    if card.issues:
        label = f"*{t('slack.field.issues', lang)}*\n"
        fields.append(field(label + fit([issue_label(issue, lang) for issue in card.issues],
                                        FIELD_LIMIT - len(label), lang, sep="\n")))
    if card.moderation is not None and (card.moderation.comment or card.moderation.blocked):
        fields.append(field(f"*{t('slack.field.moderation', lang)}*\n{moderation_label(card.moderation, lang)}"))
    return fields


def moderation_label(state, lang: str) -> str:
    """The comment's state on the network (hidden / visible / deleted) and whether its author is blocked."""
    parts = [t(f"moderation.state.{state.comment}", lang)] if state.comment else []
    if state.blocked:
        parts.append(t("moderation.state.blocked", lang))
    return " · ".join(parts)


def issue_label(issue, lang: str) -> str:
    """A linked tracker issue on the card: `Jira ACME-123` linked, struck through once closed."""
    shown = link(issue.url, f"{t(f'tracker.name.{issue.tracker}', lang)} {issue.key}")
    return f"~{shown}~" if issue.state == "closed" else shown


def _due(card: TicketView, rules: Rules, lang: str) -> str:
    if card.status == "resolved" and card.resolved_at:
        return f":white_check_mark: {t('slack.resolved_at', lang, time=local_time(card.resolved_at, rules))}"
    due = card.due
    if due is None:
        return t("slack.no_deadline", lang)
    which, deadline = due
    state = card.sla.state
    label = t(f"slack.deadline.{which}", lang)
    overdue = f" *{t('slack.overdue', lang)}*" if state == "breached" else ""
    return f"{SLA_EMOJI[state]} {label} {local_time(deadline, rules)}{overdue}"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in escape(clip(text, TEXT_LIMIT)).splitlines() or [""])


def _context(card: TicketView, rules: Rules, lang: str) -> str:
    parts = [t("slack.received", lang, time=local_time(card.created_at, rules))]
    if card.matched_rules:
        parts.append(t("slack.matched", lang, rules=", ".join(card.matched_rules[:5])))
    if card.follows:
        parts.append(t("slack.follows", lang, ticket=card.follows))
    return "  ·  ".join(escape(part) for part in parts)


def ticket_actions(card: TicketView, rules: Rules, lang: str, *, trackers: tuple[str, ...] = ()) -> dict:
    """The action row: Claim/Release, Reply, Escalate, Resolve/Reopen and the overflow menu
    (with "Create issue…" when an issue tracker is configured)."""
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
    priorities = [
        {"text": plain(t("slack.menu.priority", lang, label=rules.priorities[name].label.get(lang))),
         "value": f"priority:{name}:{card.key}"}
        for name in rules.priorities if name != card.priority
    ]
    rest = [{"text": plain(t("slack.menu.tags", lang)), "value": f"tags::{card.key}"}]
    if trackers:
        rest.append({"text": plain(t("slack.menu.issue", lang)), "value": f"issue::{card.key}"})
    if card.moderation is not None:  # a comment: the form says what its network offers (docs/slack-usage.md)
        rest.append({"text": plain(t("slack.menu.moderate", lang)), "value": f"moderate::{card.key}"})
    rest.append({"text": plain(t("slack.menu.customer", lang)), "value": f"customer::{card.key}"})
    # Slack shows at most five options: the least urgent priority gives way first (`/ticket priority` remains).
    options += priorities[:max(0, 5 - len(options) - len(rest))] + rest
    elements.append({"type": "overflow", "action_id": ids.MENU, "options": options[:5]})
    return {"type": "actions", "block_id": f"ticket:{card.key}", "elements": elements}


def _auto_line(actor: str, payload: Mapping[str, Any], lang: str) -> str:
    """The line of an automatic assignment: by the scheduler, a hand-on, or asked for by a person."""
    auto, to = payload["auto"], user(payload.get("assignee_to"), lang)
    mode = t(f"assign.mode.{auto.get('mode', 'round_robin')}", lang)
    if auto.get("reassigned_from"):
        return t("slack.line.reassigned_auto", lang, to=to, previous=user(auto["reassigned_from"], lang),
                 minutes=auto.get("after_minutes", 0))
    if actor == ASSIGNMENT_ACTOR:
        return t("slack.line.assigned_auto", lang, to=to, mode=mode)
    return t("slack.line.assigned_auto_by", lang, who=user(actor, lang), to=to, mode=mode)


def event_line(kind: str, actor: str, payload: Mapping[str, Any], rules: Rules, lang: str) -> str | None:
    """The short thread line for one ticket event, or None for events that need no line."""
    who = user(actor, lang)
    match kind:
        case "pending" if payload.get("after_reply"):
            return t("slack.line.pending_after_reply", lang)
        case "claimed" | "released" | "pending" | "replied":
            return t(f"slack.line.{kind}", lang, who=who)
        case "assigned" if payload.get("auto"):
            return _auto_line(actor, payload, lang)
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
        case "issue_requested":
            return None  # the thread hears once the tracker has answered
        case "issue_created":
            name = t(f"tracker.name.{payload.get('tracker')}", lang)
            return t("slack.line.issue_created", lang, tracker=name, who=who,
                     issue=link(payload.get("url"), payload.get("issue") or ""))
        case "issue_failed":
            name = t(f"tracker.name.{payload.get('tracker')}", lang)
            return t("slack.line.issue_failed", lang, tracker=name, who=who,
                     reason=escape((payload.get("reason") or "")[:300]))
        case "issue_closed":
            key = "slack.line.issue_closed_reopened" if payload.get("reopened") else "slack.line.issue_closed_open"
            return t(key, lang, issue=link(payload.get("url"), payload.get("issue") or ""),
                     status=escape(payload.get("status") or ""))
        case "issue_reopened":
            return t("slack.line.issue_reopened", lang, issue=link(payload.get("url"), payload.get("issue") or ""),
                     tracker=t(f"tracker.name.{payload.get('tracker')}", lang),
                     status=escape(payload.get("status") or ""))
        case "moderation_requested":
            return None  # the thread hears once the network has answered
        case "comment_moderated":
            action = payload.get("action", "hide")
            if payload.get("rule"):
                return t(f"slack.line.comment_moderated_by_rule.{action}", lang, rule=escape(payload["rule"]),
                         network=escape(NETWORK_NAMES.get(payload.get("network", ""), payload.get("network", ""))))
            return t(f"slack.line.comment_moderated.{action}", lang, who=who,
                     network=escape(NETWORK_NAMES.get(payload.get("network", ""), payload.get("network", ""))))
        case "moderation_failed":
            return t("slack.line.moderation_failed", lang, who=who if not payload.get("rule") else escape(payload["rule"]),
                     action=t(f"moderation.action.{payload.get('action', 'hide')}", lang),
                     network=escape(NETWORK_NAMES.get(payload.get("network", ""), payload.get("network", ""))),
                     reason=escape((payload.get("reason") or "")[:300]))
        case "reopened" if payload.get("issue"):
            return None  # the `issue_closed` line that follows says why
        case "reopened" if not actor.startswith("customer:"):
            return t("slack.line.reopened", lang, who=who)
        case "reopened":
            return t("slack.line.reopened_by_customer", lang)
        case "auto_reply_failed" | "csat_request_failed":
            return t(f"slack.line.{kind}", lang, reason=failure_text(payload.get("reason") or "", lang),
                     network=escape(NETWORK_NAMES.get(payload.get("network", ""), payload.get("network", ""))))
        case "customer_message" if payload.get("priority_to"):
            return t("slack.line.priority_raised", lang,
                     label=priority_label(rules, payload["priority_to"], lang))
        case "message_edited":
            line = f"{t('slack.line.message_edited', lang)}\n{_quote(payload.get('text_to') or '')}"
            if payload.get("priority_to"):  # the new words count, as a follow-up's would
                line += "\n" + t("slack.line.edit_raised_priority", lang,
                                  label=priority_label(rules, payload["priority_to"], lang))
            return line
        case "message_deleted":
            return t("slack.line.message_deleted", lang)
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


def customer_line(handle: str | None, text: str, url: str | None, lang: str,
                  attachments: Sequence[Mapping[str, Any]] = ()) -> str:
    """A customer's follow-up as a thread line: who, the text quoted, a link to the post, and a
    line per attachment (a link when it has a public address)."""
    head = _customer_head(handle, text, url, lang, quote_blank=not attachments)
    return "\n".join([head, *(attachment_link(item, lang) for item in attachments)])


def _customer_head(handle: str | None, text: str, url: str | None, lang: str, *, quote_blank: bool) -> str:
    who = escape(handle or t("slack.customer", lang))
    post = f"  {link(url, t('slack.open_post', lang))}" if url else ""
    return f":speech_balloon: *{who}*{post}" + (f"\n{_quote(text)}" if text.strip() or quote_blank else "")


def attachment_label(item: Mapping[str, Any], lang: str) -> str:
    """How an attachment is named in plain text: its kind, then its alt text or file name."""
    kind = t(f"slack.attachment.{item.get('type', 'other')}", lang)
    described = item.get("alt") or item.get("name")
    return f"{kind}: {described}" if described else kind


def attachment_link(item: Mapping[str, Any], lang: str) -> str:
    """An attachment as one mrkdwn line: a link to its address, else its label and the
    network's content id (media only our credentials can fetch, e.g. LINE's)."""
    label = attachment_label(item, lang)
    if safe_url(item.get("url")):
        return f":paperclip: {link(item['url'], label)}"
    # A sticker's ref names the sticker, not content to fetch.
    ref = f" ({t('slack.attachment.ref', lang, ref=item['ref'])})" if item.get("ref") and item.get("type") != "sticker" \
        else ""
    return f":paperclip: {escape(label)}{escape(ref)}"


def attachment_blocks(attachments: Sequence[Mapping[str, Any]], lang: str) -> list[dict]:
    """An image block (with its alt text) for each of the first images that have a public
    http(s) address, and one context of links for the other attachments (and "+N more")."""
    blocks: list[dict] = []
    others: list[str] = []
    for item in attachments:
        url = (item.get("url") or "").strip()
        if item.get("type") in IMAGE_TYPES and safe_url(url) and len(url) <= IMAGE_URL_LIMIT \
                and len(blocks) < IMAGES_SHOWN:
            blocks.append({"type": "image", "image_url": url,
                           "alt_text": clip(attachment_label(item, lang), ALT_TEXT_LIMIT)})
        else:
            others.append(attachment_link(item, lang))
    if others:
        # A context takes at most ten elements: the links go in one mrkdwn text, clipped whole.
        blocks.append({"type": "context", "elements": [mrkdwn(fit(others, FIELD_LIMIT, lang, sep="\n"))]})
    return blocks


def has_images(message: Mapping[str, Any]) -> bool:
    """Whether a message's blocks (or its attachments' blocks) show an image."""
    return any(block.get("type") == "image" for block in _all_blocks(message))


def images_as_links(message: Mapping[str, Any]) -> dict[str, Any]:
    """The same message with each image block turned into a link to the image (for when Slack
    cannot download it: expired or private media)."""
    def relinked(blocks: list[dict]) -> list[dict]:
        return [{"type": "context", "elements": [mrkdwn(f":frame_with_picture: {link(b['image_url'], b['alt_text'])}")]}
                if b.get("type") == "image" else b for b in blocks]

    out = dict(message)
    if isinstance(out.get("blocks"), list):
        out["blocks"] = relinked(out["blocks"])
    if isinstance(out.get("attachments"), list):
        out["attachments"] = [{**a, "blocks": relinked(a["blocks"])} if "blocks" in a else a
                              for a in out["attachments"]]
    return out


def _all_blocks(message: Mapping[str, Any]) -> list[dict]:
    found = list(message.get("blocks") or [])
    for attachment in message.get("attachments") or []:
        found += attachment.get("blocks") or []
    return found


def customer_line_blocks(handle: str | None, text: str, url: str | None, attachments: Sequence[Mapping[str, Any]],
                         lang: str, *, extra: str | None = None) -> list[dict] | None:
    """Blocks of a customer's thread line when it carries media: who and the text (after `extra`,
    an event's own line), then the images and the links of the rest; None when there are no media."""
    if not attachments:
        return None
    head = _customer_head(handle, text, url, lang, quote_blank=False)
    return [{"type": "section", "text": mrkdwn(f"{extra}\n{head}" if extra else head)},
            *attachment_blocks(attachments, lang)]


def reply_line(agent: str, text: str, lang: str, *, attempt: int = 0) -> str:
    """An agent's reply to the customer, echoed in the thread while it is being sent
    (`attempt` > 0: sent again after a failure)."""
    who = user(agent, lang)
    head = t("slack.line.replied_again", lang, who=who, attempt=attempt) if attempt else \
        t("slack.line.replied", lang, who=who)
    return f":outbox_tray: {head}\n{_quote(text)}"


def reply_sent_line(agent: str, lang: str, text: str | None = None) -> str:
    """The network accepted the agent's reply (quoted when `text` is given)."""
    line = f":white_check_mark: {t('slack.line.reply_sent', lang, who=user(agent, lang))}"
    return f"{line}\n{_quote(text)}" if text is not None else line


def reply_failed_line(agent: str, reason: str, lang: str, text: str | None = None, *,
                      answered: bool = False) -> str:
    """The network refused the agent's reply for good: mentions the agent, says why and which
    deadline keeps running (the first response until one reply was accepted)."""
    key = "slack.line.reply_failed_answered" if answered else "slack.line.reply_failed"
    line = f":x: {t(key, lang, who=user(agent, lang), reason=failure_text(reason, lang))}"
    return f"{line}\n{_quote(text)}" if text is not None else line


def failure_text(reason: str, lang: str) -> str:
    """Why a delivery gave up: its kind in `lang`, then the integration's own words, escaped."""
    cause = t(f"slack.cause.{failure_cause(reason)}", lang)
    return f"{cause} ({escape(reason[:200])})" if reason else cause


def failed_reply_actions(key: str, message_id: int, lang: str) -> dict:
    """Retry (the same text again) and Edit (the Reply modal, prefilled) for a failed reply."""
    value = f"{key}:{message_id}"
    return {"type": "actions", "block_id": f"failed:{value}", "elements": [
        {"type": "button", "action_id": ids.REPLY_RETRY, "value": value, "style": "primary",
         "text": plain(t("slack.button.retry", lang), BUTTON_TEXT_LIMIT)},
        {"type": "button", "action_id": ids.REPLY_EDIT, "value": value,
         "text": plain(t("slack.button.edit", lang), BUTTON_TEXT_LIMIT)}]}


def reply_state_message(key: str, message_id: int, agent: str, text: str, state: str | None, lang: str, *,
                        reason: str = "", answered: bool = False, attempt: int = 0) -> dict[str, Any]:
    """`chat.postMessage` / `chat.update` arguments (text + blocks) of the one thread line of an
    agent's reply, as its delivery stands: sending, sent, or failed with Retry and Edit."""
    if state == "sent":
        line, actions = reply_sent_line(agent, lang, text), []
    elif state == "failed":
        line = reply_failed_line(agent, reason, lang, text, answered=answered)
        actions = [failed_reply_actions(key, message_id, lang)]
    else:
        line, actions = reply_line(agent, text, lang, attempt=attempt), []
    return {"text": line, "blocks": [{"type": "section", "text": mrkdwn(clip(line, 3000))}, *actions]}


def issue_failed_message(line: str, ticket_id: int, payload: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """The thread line of a refused issue creation (text + blocks) with "Try again", which opens
    the issue form for the same tracker."""
    value = f"T-{ticket_id}:{payload.get('tracker', '')}"
    return {"text": line, "blocks": [
        {"type": "section", "text": mrkdwn(clip(line, 3000))},
        {"type": "actions", "block_id": f"issue_failed:{value}", "elements": [
            {"type": "button", "action_id": ids.ISSUE_RETRY, "value": value,
             "text": plain(t("slack.button.issue_retry", lang), BUTTON_TEXT_LIMIT)}]}]}
