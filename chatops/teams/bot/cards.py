"""The bot's cards: a ticket card with Universal Actions (`Action.Execute`, refreshed for each
viewer so each sees the buttons their roles allow) and dialog buttons (`Action.Submit` with
`msteams.type = task/fetch`), and a page card with Acknowledge / Resolve.

The card body is the webhook card's (chatops.teams.cards: header in the priority's colour, the
customer's words, the facts of the TicketView); only the actions differ, since a bot's card can
act inside Teams where a webhook card can only open links.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chatops.i18n import t
from chatops.rules import Rules
from chatops.teams import cards
from chatops.teams.bot.context import (
    ACK_PAGE,
    CLAIM,
    CUSTOMER_DIALOG,
    ESCALATE_DIALOG,
    PRIORITY,
    RELEASE,
    REOPEN,
    REPLY_DIALOG,
    RESOLVE,
    RESOLVE_PAGE,
)
from chatops.teams.text import escape, safe_url
from chatops.views import TicketView

REFRESH = "refresh"
MAX_REFRESH_USERS = 60  # Teams refreshes a card automatically for at most 60 listed users
MAX_ACTIONS = 6  # Teams shows at most six top-level card actions
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
# The rules.yaml permission each button needs (chatops.rules `may`).
_NEEDS = {CLAIM: "claim", RELEASE: "release", RESOLVE: "resolve", REOPEN: "reopen", PRIORITY: "priority",
          REPLY_DIALOG: "reply", ESCALATE_DIALOG: "escalate", CUSTOMER_DIALOG: "flag"}
EVERYONE = object()  # the card as posted for the whole channel: every button the ticket's state offers


def ticket_card(view: TicketView, *, rules: Rules, lang: str, viewer: Any = EVERYONE,
                may: Callable[[str, str], bool] | None = None, refresh_ids: Sequence[str] = (),
                line: str | None = None) -> dict[str, Any]:
    """The ticket's card for `viewer` (a rules.yaml user id; None for a Teams person rules.yaml
    does not map, who gets no buttons; EVERYONE for the card as posted in the channel).
    `refresh_ids`: the Teams ids whose clients ask for their own render (`refresh`)."""
    card = cards.ticket_card(view, line=line, quote=escape(view.text), links={}, rules=rules, lang=lang)
    if viewer is None:
        card["body"].append({"type": "TextBlock", "text": t("teamsbot.card.not_mapped", lang), "wrap": True,
                             "isSubtle": True, "size": "Small"})
    actions = _ticket_actions(view, rules, lang, viewer, may)
    url = safe_url(view.url)
    if url and len(actions) < MAX_ACTIONS:
        actions.append({"type": "Action.OpenUrl", "title": t("teams.button.open", lang), "url": url})
    if actions:
        card["actions"] = actions
    ids = list(dict.fromkeys(refresh_ids))[:MAX_REFRESH_USERS]
    if ids:
        card["refresh"] = {"action": {"type": "Action.Execute", "verb": REFRESH, "data": {"ticket": view.key}},
                           "userIds": ids}
    return card


def _ticket_actions(view: TicketView, rules: Rules, lang: str, viewer: Any,
                    may: Callable[[str, str], bool] | None) -> list[dict[str, Any]]:
    if viewer is None:
        return []

    def allowed(button: str) -> bool:
        return viewer is EVERYONE or may is None or may(viewer, _NEEDS[button])

    key, out = view.key, []
    if view.status == "resolved":
        if allowed(REOPEN):
            out.append(_execute(REOPEN, t("teams.button.reopen", lang), key))
    else:
        if view.assignee is None and allowed(CLAIM):
            out.append(_execute(CLAIM, t("teams.button.claim", lang), key, style="positive"))
        elif view.assignee is not None and (viewer is EVERYONE or viewer == view.assignee) and allowed(RELEASE):
            out.append(_execute(RELEASE, t("teamsbot.button.release", lang), key))
        if allowed(REPLY_DIALOG):
            out.append(_dialog(REPLY_DIALOG, t("teamsbot.button.reply", lang), key))
        if allowed(RESOLVE):
            out.append(_execute(RESOLVE, t("teams.button.resolve", lang), key))
        if allowed(ESCALATE_DIALOG):
            out.append(_dialog(ESCALATE_DIALOG, t("teamsbot.button.escalate", lang), key))
        if allowed(PRIORITY):
            out.append(_priorities(view, rules, lang))
    if allowed(CUSTOMER_DIALOG):
        out.append(_dialog(CUSTOMER_DIALOG, t("teamsbot.button.customer", lang), key))
    return out[:MAX_ACTIONS]


def _execute(verb: str, title: str, key: str, style: str | None = None, **data: Any) -> dict[str, Any]:
    action = {"type": "Action.Execute", "title": title, "verb": verb, "data": {"ticket": key, **data}}
    if style:
        action["style"] = style
    return action


def _dialog(dialog: str, title: str, key: str) -> dict[str, Any]:
    """A button opening a dialog (task module): Teams sends `task/fetch` with this data."""
    return {"type": "Action.Submit", "title": title,
            "data": {"msteams": {"type": "task/fetch"}, "dialog": dialog, "ticket": key}}


def _priorities(view: TicketView, rules: Rules, lang: str) -> dict[str, Any]:
    """A drop-down card with one button per priority other than the current one."""
    buttons = [_execute(PRIORITY, cards.priority_label(name, rules, lang), view.key, priority=name)
               for name in rules.priorities if name != view.priority]
    return {"type": "Action.ShowCard", "title": t("teamsbot.button.priority", lang),
            "card": {"type": "AdaptiveCard", "version": cards.CARD_VERSION, "body": [], "actions": buttons}}


def page_card(view: TicketView, *, page: str, status: str, summary: str | None, acknowledged_by: str | None,
              rules: Rules, lang: str) -> dict[str, Any]:
    """A page as the on-call person's chat shows it: the ticket, where the page stands, and
    Acknowledge / Resolve while they still apply."""
    card = cards.ticket_card(view, line=None, quote=escape(summary or view.text), links={}, rules=rules, lang=lang)
    state = t(f"teamsbot.page.{status}", lang, page=page, who=cards.who(acknowledged_by, rules, lang))
    card["body"].insert(1, {"type": "TextBlock", "text": state, "wrap": True, "weight": "Bolder"})
    actions = []
    if status == "triggered":
        actions.append({"type": "Action.Execute", "title": t("teamsbot.button.ack", lang), "verb": ACK_PAGE,
                        "data": {"page": page}, "style": "positive"})
    if status != "resolved":
        actions.append({"type": "Action.Execute", "title": t("teamsbot.button.resolve_page", lang),
                        "verb": RESOLVE_PAGE, "data": {"page": page}})
    if actions:
        card["actions"] = actions
    return card


def card_activity(card: dict[str, Any], *, summary: str | None = None) -> dict[str, Any]:
    """A message activity carrying one Adaptive Card."""
    activity: dict[str, Any] = {"type": "message", "attachments": [{"contentType": CARD_TYPE, "content": card}]}
    if summary:
        activity["summary"] = summary
    return activity


def text_activity(text: str) -> dict[str, Any]:
    """A markdown message activity."""
    return {"type": "message", "text": text, "textFormat": "markdown"}
