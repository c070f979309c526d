"""Saved views on the Home tab (each with its true count, the one chosen listed) and the modal
that creates or edits one."""

from __future__ import annotations

from collections.abc import Sequence

from chatops.i18n import t
from chatops.rules import Rules
from chatops.slack import ids
from chatops.slack.blocks.common import MODAL_TITLE_LIMIT, clip, escape, mrkdwn, plain
from chatops.slack.blocks.home import ticket_list
from chatops.tickets.models import LEVELS, PRIORITIES, STATUSES
from chatops.tickets.saved_views import ASSIGNEES, NAME_LIMIT, Saved, ViewFilters
from chatops.views import TicketView

OPTIONS_LIMIT = 100  # options of one select menu
VALUE_LIMIT = 150  # characters of an option's value


def _option(text: str, value: str) -> dict:
    return {"text": plain(text), "value": value[:VALUE_LIMIT]}


def summary(filters: ViewFilters, rules: Rules, lang: str) -> str:
    """The filters in one line of plain words (escaped for mrkdwn)."""
    parts = []
    if filters.channels:
        parts.append(", ".join(rules.channels[c].slack if c in rules.channels else c for c in filters.channels))
    if filters.priorities:
        parts.append(", ".join(rules.priorities[p].label.get(lang) if p in rules.priorities else p
                               for p in filters.priorities))
    if filters.levels:
        parts.append(", ".join(filters.levels))
    if filters.statuses:
        parts.append(", ".join(t(f"savedviews.status.{s}", lang) for s in filters.statuses))
    if filters.tags:
        parts.append(" ".join(f"#{tag}" for tag in filters.tags))
    if filters.assignee != "anyone":
        parts.append(t(f"savedviews.assignee.{filters.assignee}", lang))
    if filters.overdue:
        parts.append(t("savedviews.overdue_only", lang))
    return escape(clip(" · ".join(parts) or t("savedviews.everything", lang), 300))


def saved_section(saved: Sequence[Saved], shown: Saved | None, cards: Sequence[TicketView], rules: Rules,
                  lang: str, *, limit: int) -> list[dict]:
    """The agent's views, each a row with its true count and a Show button, a New button, and
    the chosen view's tickets (at most `limit` rows, "and N more" counted from its true count)."""
    blocks: list[dict] = [{"type": "divider"},
                          {"type": "header", "text": plain(t("savedviews.home.title", lang), 150)}]
    for view in saved:
        chosen = shown is not None and view.id == shown.id
        text = t("savedviews.home.row", lang, name=escape(view.name), count=view.count,
                 filters=summary(view.filters, rules, lang))
        if view.stale:
            text += "\n" + t("savedviews.home.stale", lang, channels=escape(", ".join(view.stale)))
        button = {"type": "button", "action_id": ids.SAVED_SHOW, "value": str(view.id),
                  "text": plain(t("savedviews.button.shown" if chosen else "savedviews.button.show", lang))}
        if chosen:
            button["style"] = "primary"
        blocks.append({"type": "section", "text": mrkdwn(("▶ " if chosen else "") + text), "accessory": button})
    blocks.append({"type": "actions", "elements": [
        {"type": "button", "action_id": ids.SAVED_NEW, "value": "new",
         "text": plain(t("savedviews.button.new", lang))}]})
    if shown is not None:
        blocks.append({"type": "divider"})
        blocks.extend(ticket_list(t("savedviews.home.shown", lang, name=shown.name, count=shown.count),
                                  cards, rules, lang, limit=limit, total=shown.count))
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "action_id": ids.SAVED_EDIT, "value": str(shown.id),
             "text": plain(t("savedviews.button.edit", lang))},
            {"type": "button", "action_id": ids.SAVED_DELETE, "value": str(shown.id), "style": "danger",
             "text": plain(t("savedviews.button.delete", lang)),
             "confirm": {"title": plain(t("savedviews.confirm.title", lang), 100),
                         "text": plain(t("savedviews.confirm.text", lang, name=shown.name), 300),
                         "confirm": plain(t("savedviews.button.delete", lang), 30),
                         "deny": plain(t("slack.modal.cancel", lang), 30), "style": "danger"}},
            {"type": "button", "action_id": ids.SAVED_CLOSE, "value": "close",
             "text": plain(t("savedviews.button.close", lang))}]})
    return blocks


def _multi(block_id: str, label: str, options: list[dict], chosen: Sequence[str], lang: str) -> dict:
    element: dict = {"type": "multi_static_select", "action_id": ids.SAVED_INPUT,
                     "placeholder": plain(t("savedviews.modal.any", lang), 150), "options": options[:OPTIONS_LIMIT]}
    initial = [option for option in element["options"] if option["value"] in chosen]
    if initial:
        element["initial_options"] = initial
    return {"type": "input", "block_id": block_id, "optional": True, "label": plain(label, 2000), "element": element}


def saved_view_modal(rules: Rules, lang: str, *, view_id: int | None = None, name: str = "",
                     filters: ViewFilters | None = None, tags: Sequence[str] = ()) -> dict:
    """Create (view_id None) or edit a saved view. A channel the view names that rules.yaml no
    longer has stays listed (marked), so saving it shows the error next to the field."""
    filters = filters or ViewFilters()
    channels = [_option(f"{ch.slack} — {ch.description.get(lang)}" if ch.description else ch.slack, name_)
                for name_, ch in rules.channels.items()]
    channels += [_option(t("savedviews.modal.gone", lang, channel=gone), gone)
                 for gone in filters.stale_channels(rules)]
    priorities = [_option(rules.priorities[p].label.get(lang), p) for p in PRIORITIES]
    levels = [_option(level, level) for level in LEVELS]
    statuses = [_option(t(f"savedviews.status.{s}", lang), s) for s in STATUSES]
    chosen_tags = [tag for tag in filters.tags if tag in tags]
    tag_options = [_option(tag, tag) for tag in ([*chosen_tags, *[x for x in tags if x not in chosen_tags]])]
    name_element = {"type": "plain_text_input", "action_id": ids.SAVED_NAME_INPUT, "max_length": NAME_LIMIT,
                    "multiline": False}
    if name:
        name_element["initial_value"] = name[:NAME_LIMIT]
    assignee_options = [_option(t(f"savedviews.assignee.{a}", lang), a) for a in ASSIGNEES]
    overdue_option = _option(t("savedviews.overdue_only", lang), "overdue")
    overdue: dict = {"type": "checkboxes", "action_id": ids.SAVED_INPUT, "options": [overdue_option]}
    if filters.overdue:
        overdue["initial_options"] = [overdue_option]
    blocks = [
        {"type": "input", "block_id": ids.SAVED_NAME_BLOCK, "label": plain(t("savedviews.modal.name", lang), 2000),
         "element": name_element},
        _multi(ids.SAVED_CHANNELS_BLOCK, t("savedviews.modal.channels", lang), channels, filters.channels, lang),
        _multi(ids.SAVED_PRIORITIES_BLOCK, t("savedviews.modal.priorities", lang), priorities, filters.priorities,
               lang),
        _multi(ids.SAVED_LEVELS_BLOCK, t("savedviews.modal.levels", lang), levels, filters.levels, lang),
        _multi(ids.SAVED_STATUSES_BLOCK, t("savedviews.modal.statuses", lang), statuses, filters.statuses, lang),
        {"type": "input", "block_id": ids.SAVED_ASSIGNEE_BLOCK, "label": plain(t("savedviews.modal.assignee", lang),
                                                                               2000),
         "element": {"type": "radio_buttons", "action_id": ids.SAVED_INPUT, "options": assignee_options,
                     "initial_option": assignee_options[ASSIGNEES.index(filters.assignee)]
                     if filters.assignee in ASSIGNEES else assignee_options[0]}},
        {"type": "input", "block_id": ids.SAVED_OVERDUE_BLOCK, "optional": True,
         "label": plain(t("savedviews.modal.overdue", lang), 2000), "element": overdue},
    ]
    if tag_options:
        blocks.insert(4, _multi(ids.SAVED_TAGS_BLOCK, t("savedviews.modal.tags", lang), tag_options, filters.tags,
                                lang))
    title = "savedviews.modal.edit_title" if view_id is not None else "savedviews.modal.new_title"
    return {"type": "modal", "callback_id": ids.SAVED_VIEW, "private_metadata": str(view_id or ""),
            "title": plain(t(title, lang), MODAL_TITLE_LIMIT),
            "submit": plain(t("slack.modal.save", lang), MODAL_TITLE_LIMIT),
            "close": plain(t("slack.modal.cancel", lang), MODAL_TITLE_LIMIT), "blocks": blocks}
