"""Modals: reply (canned answers + text), escalate (level, note, assignee), resolve, tags."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from chatops.i18n import t
from chatops.rules import Rules
from chatops.rules.fields import CUSTOMER_TIERS
from chatops.rules.suggest import Suggestion, ordered_replies
from chatops.slack import ids
from chatops.slack.blocks.common import (
    FIELD_LIMIT,
    MODAL_TITLE_LIMIT,
    NETWORK_NAMES,
    SECTION_LIMIT,
    clip,
    clip_mrkdwn,
    escape,
    fit,
    local_time,
    plain,
    user,
)
from chatops.slack.blocks.common import field as section_field
from chatops.slack.blocks.ticket import thread_permalink, ticket_message
from chatops.tickets.collision import RecentReply
from chatops.tickets.issues import SUMMARY_LIMIT, summary_of
from chatops.views import TicketView


def _modal(callback_id: str, key: str, title: str, submit: str, lang: str, blocks: list[dict]) -> dict:
    return {"type": "modal", "callback_id": callback_id, "private_metadata": key,
            "title": plain(title, MODAL_TITLE_LIMIT), "submit": plain(submit, MODAL_TITLE_LIMIT),
            "close": plain(t("slack.modal.cancel", lang), MODAL_TITLE_LIMIT), "blocks": blocks}


PLAIN_INPUT_LIMIT = 3000  # plain_text_input max_length, Slack's own ceiling


def _text_input(block_id: str, action_id: str, label: str, *, optional: bool = False, multiline: bool = True,
                initial: str | None = None, max_length: int | None = None, hint: str | None = None) -> dict:
    element = {"type": "plain_text_input", "action_id": action_id, "multiline": multiline}
    if initial:
        element["initial_value"] = initial
    if max_length:
        element["max_length"] = max_length
    block = {"type": "input", "block_id": block_id, "optional": optional, "label": plain(label, 2000),
             "element": element}
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


@dataclass(frozen=True)
class RecentReplies:
    """What the Reply modal knew when it opened: other agents' recent replies, the moment it
    opened and the newest outbound message id then (the submit checks for anything newer)."""

    opened_at: datetime
    last_id: int | None
    replies: tuple[RecentReply, ...] = field(default=())
    force: bool = False  # "Send anyway" was chosen: the submit skips the check


def reply_metadata(key: str, recent: RecentReplies | None) -> str:
    """The Reply modal's private_metadata: the bare key, or JSON with what the guard needs."""
    if recent is None:
        return key
    meta: dict = {"key": key, "opened_at": recent.opened_at.isoformat(), "last_id": recent.last_id}
    if recent.force:
        meta["force"] = True
    return json.dumps(meta, separators=(",", ":"))


def parse_reply_metadata(private_metadata: str) -> tuple[str, RecentReplies | None]:
    """The ticket key and the guard's state from a modal's private_metadata (a bare key has none)."""
    if not private_metadata.startswith("{"):
        return private_metadata, None
    meta = json.loads(private_metadata)
    return meta["key"], RecentReplies(opened_at=datetime.fromisoformat(meta["opened_at"]),
                                      last_id=meta.get("last_id"), force=bool(meta.get("force")))


def _excerpt(text: str, width: int = 120) -> str:
    line = " ".join(text.split())
    return escape(line if len(line) <= width else line[: width - 1] + "…")


def recent_lines(replies: Sequence[RecentReply], rules: Rules, lang: str) -> str:
    """One line per reply: who, when (team time zone), a one-line excerpt, and 'sending' if queued."""
    lines = []
    for reply in replies:
        state = f" {t('slack.modal.recent_sending', lang)}" if reply.sending else ""
        lines.append(t("slack.modal.recent_line", lang, who=user(reply.author_id, lang),
                       at=local_time(reply.at, rules), text=_excerpt(reply.text)) + state)
    return "\n".join(lines)


def _recent_section(replies: Sequence[RecentReply], rules: Rules, lang: str, title_key: str) -> dict:
    shown = recent_lines(replies[:10], rules, lang)
    if len(replies) > 10:
        shown += "\n" + t("slack.modal.recent_more", lang, count=len(replies) - 10)
    return {"type": "section", "block_id": ids.RECENT_BLOCK,
            "text": {"type": "mrkdwn", "text": clip(f"{t(title_key, lang)}\n{shown}", 3000)}}


def reply_modal(key: str, rules: Rules, lang: str, *, network: str, limit: int | None, account: str,
                text: str | None = None, version: int = 0, recent: RecentReplies | None = None,
                suggestions: Sequence[Suggestion] = (), warning: str | None = None) -> dict:
    """The Reply modal. Choosing a canned answer refills the text box (a new block id per
    refill, since Slack keeps what was typed in a block it already shows). The canned replies
    suggested for the ticket come first, each with its reason. With `recent`, it lists other
    agents' replies of the last minutes and carries the guard's state."""
    blocks: list[dict] = [{"type": "context", "elements": [{
        "type": "mrkdwn", "text": clip(t("slack.modal.reply_from", lang, key=key,
                                         network=NETWORK_NAMES.get(network, network),
                                         account=escape(account)), 3000)}]}]
    if warning:  # the network may refuse what is about to be written: say so before, not after
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(
            "⚠️ " + t(f"slack.modal.warning.{warning}", lang, account=escape(account)), 3000)}]})
    canned = _canned_section(rules, lang, list(suggestions))
    if canned is not None:
        blocks.append(canned)
    hint = t("slack.modal.limit", lang, limit=limit) if limit else None
    if recent is not None and recent.replies:
        blocks.insert(1, _recent_section(recent.replies, rules, lang, "slack.modal.recent_title"))
    blocks.append(_text_input(f"{ids.TEXT_BLOCK}.{version}", ids.TEXT_INPUT, t("slack.modal.reply_text", lang),
                              initial=text, max_length=min(limit or 3000, 3000), hint=hint))
    view = _modal(ids.REPLY_VIEW, key, t("slack.modal.reply_title", lang, key=key),
                  t("slack.modal.send", lang), lang, blocks)
    view["private_metadata"] = reply_metadata(key, recent)
    return view


def _canned_section(rules: Rules, lang: str, suggestions: list[Suggestion]) -> dict | None:
    """The canned-reply picker: suggested replies first (the reason under each option and listed
    in the section, which every client shows), then the rest; None without canned replies."""
    ordered = ordered_replies(rules, suggestions)[:100]
    if not ordered:
        return None
    options = []
    for reply, suggestion in ordered:
        option = {"text": plain(reply.title.get(lang)), "value": reply.id}
        if suggestion is not None:
            option["description"] = plain(suggestion.describe(lang))
        options.append(option)
    text = t("slack.modal.canned", lang)
    suggested = [(reply, suggestion) for reply, suggestion in ordered if suggestion is not None]
    if suggested:
        text += "\n" + t("slack.modal.canned_suggested", lang) + "".join(
            f"\n• *{escape(reply.title.get(lang))}*  _{escape(suggestion.describe(lang))}_"
            for reply, suggestion in suggested[:10])
    return {"type": "section", "block_id": ids.CANNED_BLOCK, "text": {"type": "mrkdwn", "text": clip(text, 3000)},
            "accessory": {"type": "static_select", "action_id": ids.CANNED_SELECT,
                          "placeholder": plain(t("slack.modal.canned_pick", lang)), "options": options}}


def reply_confirm_modal(key: str, rules: Rules, lang: str, *, network: str, limit: int | None, account: str,
                        text: str, version: int, others: Sequence[RecentReply], recent: RecentReplies,
                        suggestions: Sequence[Suggestion] = (), warning: str | None = None) -> dict:
    """The Reply modal again after someone else replied while it was open: their reply shown
    first, the typed text kept, and "Send anyway" submitting with the check skipped."""
    forced = RecentReplies(opened_at=recent.opened_at, last_id=recent.last_id, force=True)
    view = reply_modal(key, rules, lang, network=network, limit=limit, account=account, text=text,
                       version=version, recent=forced, suggestions=suggestions, warning=warning)
    view["blocks"].insert(0, _recent_section(others, rules, lang, "slack.modal.collision_title"))
    view["blocks"][0]["block_id"] = ids.COLLISION_BLOCK
    view["submit"] = plain(t("slack.modal.send_anyway", lang), MODAL_TITLE_LIMIT)
    return view


def escalate_modal(key: str, rules: Rules, lang: str, *, current_level: str) -> dict:
    """The Escalate modal: a higher level, a required hand-off note and an optional assignee."""
    rank = rules.levels[current_level].rank
    higher = [(name, level) for name, level in rules.levels.items() if level.rank > rank]
    options = [{"text": plain(f"{name} {level.name.get(lang)}"), "value": name} for name, level in higher]
    level_select = {"type": "static_select", "action_id": ids.LEVEL_SELECT, "options": options,
                    "placeholder": plain(t("slack.modal.level_pick", lang))}
    if options:
        level_select["initial_option"] = options[0]
    blocks = [
        {"type": "input", "block_id": ids.LEVEL_BLOCK, "label": plain(t("slack.modal.level", lang)),
         "element": level_select},
        _text_input(ids.NOTE_BLOCK, ids.NOTE_INPUT, t("slack.modal.handoff", lang), max_length=2000,
                    hint=t("slack.modal.handoff_hint", lang)),
        {"type": "input", "block_id": ids.ASSIGNEE_BLOCK, "optional": True,
         "label": plain(t("slack.modal.assignee", lang)),
         "element": {"type": "users_select", "action_id": ids.ASSIGNEE_SELECT,
                     "placeholder": plain(t("slack.modal.assignee_pick", lang))}},
    ]
    return _modal(ids.ESCALATE_VIEW, key, t("slack.modal.escalate_title", lang, key=key),
                  t("slack.modal.escalate", lang), lang, blocks)


def resolve_modal(key: str, lang: str) -> dict:
    """The Resolve modal with an optional resolution note."""
    return _modal(ids.RESOLVE_VIEW, key, t("slack.modal.resolve_title", lang, key=key),
                  t("slack.modal.resolve", lang), lang,
                  [_text_input(ids.NOTE_BLOCK, ids.NOTE_INPUT, t("slack.modal.resolution", lang), optional=True,
                               max_length=2000)])


def tags_modal(key: str, lang: str, *, tags: list[str]) -> dict:
    """Edit a ticket's tags as one space-separated line. The box takes Slack's most (3,000), since
    Slack refuses to open a view whose initial value is longer than the box allows — 46 tags of
    the longest kind (64 characters) fit."""
    return _modal(ids.TAGS_VIEW, key, t("slack.modal.tags_title", lang, key=key), t("slack.modal.save", lang),
                  lang, [_text_input(ids.TAGS_BLOCK, ids.TAGS_INPUT, t("slack.modal.tags", lang), optional=True,
                                     multiline=False, initial=" ".join(tags), max_length=PLAIN_INPUT_LIMIT,
                                     hint=t("slack.modal.tags_hint", lang))])


def message_modal(title: str, text: str, lang: str) -> dict:
    """A read-only modal (e.g. a refusal shown where an ephemeral message cannot go)."""
    return {"type": "modal", "title": plain(title, MODAL_TITLE_LIMIT),
            "close": plain(t("slack.modal.close", lang), MODAL_TITLE_LIMIT),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": clip(text, 3000)}}]}


def ticket_modal(card: TicketView, rules: Rules, lang: str) -> dict:
    """A ticket shown in a modal (from the Home tab or `/ticket show`), with a link to its thread."""
    body = ticket_message(card, rules, lang)["attachments"][0]["blocks"]
    thread = card.thread("slack")
    if thread:
        link = thread_permalink(thread.channel, thread.ts)
        body.append({"type": "context", "elements": [{"type": "mrkdwn",
                                                      "text": f"<{link}|{t('slack.open_thread', lang)}>"}]})
    return {"type": "modal", "title": plain(card.key, MODAL_TITLE_LIMIT),
            "close": plain(t("slack.modal.close", lang), MODAL_TITLE_LIMIT), "blocks": body}


@dataclass(frozen=True)
class CustomerSummary:
    """A customer and their history, as the Customer modal shows them."""

    handle: str | None
    name: str | None
    source: str
    tier: str
    flags: tuple[str, ...]
    first_seen_at: datetime
    tickets: tuple[tuple[str, str, str, datetime], ...]  # key, status, priority, created
    csat: float | None
    key: str | None = None  # the ticket the modal was opened from (flag buttons act through it)
    handles: tuple[str, ...] = ()  # the same person on other networks (linked customers)
    stored_only: int = 0  # messages kept without a ticket (while blocked)
    last_seen_at: datetime | None = None
    customer_id: int | None = None  # the record the modal is about (link and unlink act on it)
    linked: tuple[tuple[int, str], ...] = ()  # (record id, `network:handle`) of the linked records


def _linked_records(summary: CustomerSummary, lang: str) -> list[dict]:
    """The linked records, each with an Unlink button, and the field to link another record
    (`network:handle`, sent with the modal's Link button): both need the `link` role, checked on use."""
    body: list[dict] = [{"type": "header", "text": plain(t("customers.modal.linked", lang), 150)}]
    for other_id, other_key in summary.linked[:20]:
        body.append({"type": "section", "text": {"type": "mrkdwn", "text": clip_mrkdwn(escape(other_key), 3000)},
                     "accessory": {"type": "button", "action_id": f"{ids.CUSTOMER_UNLINK}.{other_id}",
                                   "text": plain(t("customers.modal.unlink", lang), 75),
                                   "value": f"{summary.customer_id}:{other_id}:{summary.key}"}})
    if not summary.linked:
        body.append({"type": "context", "elements": [{"type": "mrkdwn",
                                                       "text": t("customers.modal.none_linked", lang)}]})
    body.append({"type": "input", "block_id": ids.CUSTOMER_LINK_BLOCK, "optional": True,
                 "label": plain(t("customers.modal.link_label", lang), 2000),
                 "hint": plain(t("customers.modal.link_hint", lang), 2000),
                 "element": {"type": "plain_text_input", "action_id": ids.CUSTOMER_LINK,
                             "placeholder": plain(t("customers.modal.link_placeholder", lang), 150)}})
    return body


def _tier_select(key: str, tier: str, lang: str) -> dict:
    """The tier control: picking a tier re-prices the customer's open tickets (`/ticket tier`)."""
    options = [{"text": plain(t(f"tier.{name}", lang)), "value": f"{name}:{key}"} for name in CUSTOMER_TIERS]
    select = {"type": "static_select", "action_id": ids.CUSTOMER_TIER, "options": options,
              "placeholder": plain(t("slack.modal.tier_pick", lang))}
    current = next((option for option in options if option["value"] == f"{tier}:{key}"), None)
    if current:
        select["initial_option"] = current
    return {"type": "section", "block_id": ids.CUSTOMER_TIER_BLOCK,
            "text": {"type": "mrkdwn", "text": t("slack.modal.tier", lang)}, "accessory": select}


def customer_modal(summary: CustomerSummary, rules: Rules, lang: str) -> dict:
    """Who the customer is: handle(s), tier, flags, first seen, past tickets with outcomes, CSAT,
    and buttons that set or clear each flag."""
    # Facts are customer-supplied and unbounded (handles across networks, flags): each field is fitted.
    flags = fit([f"`{escape(flag)}`" for flag in summary.flags], FIELD_LIMIT - 40, lang) or t("slack.none", lang)
    handles = fit([escape(h) for h in (summary.handle or summary.name or "?", *summary.handles)], FIELD_LIMIT - 40,
                  lang, " · ")
    tier = t(f"tier.{summary.tier}", lang) if summary.tier in CUSTOMER_TIERS else summary.tier
    facts = [
        f"*{t('slack.field.customer', lang)}*\n{handles}",
        f"*{t('slack.field.network', lang)}*\n{escape(NETWORK_NAMES.get(summary.source, summary.source))}",
        f"*{t('slack.field.tier', lang)}*\n{escape(tier)}",
        f"*{t('slack.field.flags', lang)}*\n{flags}",
        f"*{t('slack.field.first_seen', lang)}*\n{local_time(summary.first_seen_at, rules)}",
        f"*CSAT*\n{f'{summary.csat:.1f}' if summary.csat is not None else t('networks.customer.no_csat', lang)}",
    ]
    if summary.last_seen_at:
        facts.append(f"*{t('networks.customer.last_seen', lang)}*\n{local_time(summary.last_seen_at, rules)}")
    history = "\n".join(
        f"{rules.priorities[priority].emoji} *{key}* {t(f'status.{status}', lang)} · {local_time(created, rules)}"
        for key, status, priority, created in summary.tickets[:20]) or t("slack.list.empty", lang)
    if summary.stored_only:
        history += "\n" + t("networks.customer.stored_only", lang, count=summary.stored_only)
    body = [{"type": "section", "fields": [section_field(fact) for fact in facts]},
            {"type": "header", "text": plain(t("networks.customer.history", lang), 150)},
            {"type": "section", "text": {"type": "mrkdwn", "text": clip_mrkdwn(history, SECTION_LIMIT)}}]
    linking = bool(summary.key) and summary.customer_id is not None
    if linking:  # before the tier and flags, which stay the modal's last controls
        body.extend(_linked_records(summary, lang))
    if summary.key:
        body.append(_tier_select(summary.key, summary.tier, lang))
        buttons = []
        for flag in ("vip", "troll", "blocked"):
            on = flag not in summary.flags
            button = {"type": "button", "action_id": f"{ids.CUSTOMER_FLAG}.{flag}",
                      "text": plain(t(f"networks.customer.{'set' if on else 'clear'}_{flag}", lang), 75),
                      "value": f"{flag}:{'on' if on else 'off'}:{summary.key}"}
            if flag == "blocked" and on:
                button["style"] = "danger"
            buttons.append(button)
        body.append({"type": "actions", "block_id": ids.CUSTOMER_FLAG_BLOCK, "elements": buttons})
    view = {"type": "modal", "callback_id": ids.CUSTOMER_VIEW, "private_metadata": summary.key or "",
            "title": plain(t("slack.modal.customer_title", lang), MODAL_TITLE_LIMIT),
            "close": plain(t("slack.modal.close", lang), MODAL_TITLE_LIMIT), "blocks": body}
    if linking:  # a modal with an input block needs a submit button: it links the typed record
        view["submit"] = plain(t("customers.modal.link_submit", lang), MODAL_TITLE_LIMIT)
    return view


def issue_modal(key: str, summary: str, trackers: Sequence[str], lang: str, *, tracker: str | None = None) -> dict:
    """The "Create an issue" modal: the summary prefilled (clipped to what trackers take) and,
    when more than one tracker is configured, which one (`tracker` chosen beforehand)."""
    chosen = tracker if tracker in trackers else trackers[0]
    blocks = [{"type": "context", "elements": [{"type": "mrkdwn", "text": clip(escape(
                  t("slack.modal.issue_context", lang, key=key)), 3000)}]},
              _text_input(ids.ISSUE_SUMMARY_BLOCK, ids.ISSUE_SUMMARY_INPUT, t("slack.modal.issue_summary", lang),
                          multiline=False, initial=summary_of(summary), max_length=SUMMARY_LIMIT)]
    if len(trackers) > 1:
        options = [{"text": plain(t(f"tracker.name.{name}", lang)), "value": name} for name in trackers]
        blocks.append({"type": "input", "block_id": ids.ISSUE_TRACKER_BLOCK,
                       "label": plain(t("slack.modal.issue_tracker", lang), 2000),
                       "element": {"type": "static_select", "action_id": ids.ISSUE_TRACKER_SELECT,
                                   "options": options,
                                   "initial_option": next(o for o in options if o["value"] == chosen)}})
    title = f"{t('slack.modal.issue_title', lang)}" if len(trackers) > 1 else \
        f"{t(f'tracker.name.{chosen}', lang)}: {t('slack.modal.issue_title', lang)}"
    view = _modal(ids.ISSUE_VIEW, key, title, t("slack.modal.issue_submit", lang), lang, blocks)
    view["private_metadata"] = json.dumps({"key": key, "tracker": chosen})
    return view


def moderate_modal(key: str, network: str, actions: Sequence[str], lang: str) -> dict:
    """The "Moderate…" modal: what to do to the ticket's comment (only what `network` offers:
    Instagram has no block), and a confirmation that deleting and blocking need."""
    name = NETWORK_NAMES.get(network, network)
    # Selects, not radio buttons and checkboxes: the sandbox renders the same elements Slack does.
    options = [{"text": plain(t(f"moderation.action.{action}", lang)), "value": action} for action in actions]
    about = "\n".join(f"• *{t(f'moderation.action.{action}', lang)}*: {t(f'slack.cmd.about.{action}', lang)}"
                      for action in actions)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": clip(about, 3000)}},
              {"type": "input", "block_id": ids.MODERATE_ACTION_BLOCK,
               "label": plain(t("slack.modal.moderate_action", lang, network=name), 2000),
               "element": {"type": "static_select", "action_id": ids.MODERATE_ACTION_SELECT, "options": options}},
              {"type": "input", "block_id": ids.MODERATE_CONFIRM_BLOCK, "optional": True,
               "label": plain(t("slack.modal.moderate_confirm", lang), 2000),
               "element": {"type": "static_select", "action_id": ids.MODERATE_CONFIRM_INPUT, "options": [
                   {"text": plain(t("slack.modal.moderate_confirm_yes", lang)), "value": "yes"}]}}]
    if "block" not in actions:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(escape(
            t("slack.modal.moderate_no_block", lang)), 3000)}]})
    view = _modal(ids.MODERATE_VIEW, key, f"{key}: {t('slack.modal.moderate_title', lang)}",
                  t("slack.modal.moderate_submit", lang), lang, blocks)
    view["private_metadata"] = json.dumps({"key": key, "network": network})
    return view
