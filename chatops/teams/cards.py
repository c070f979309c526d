"""Teams cards, built only here: pure functions from a TicketView to Adaptive Card 1.4 dicts
(Workflows webhooks) or pymsteams MessageCards (legacy connectors).

Platform facts (PLATFORMS.md): Workflows webhooks take Adaptive Cards up to version 1.4 and
28 KB per message; webhook cards cannot use `Action.Submit`, so every button is an
`Action.OpenUrl` (signed links to our server, see `links.py`). MessageCard buttons no longer
render in Workflows, so a MessageCard also names the links in its text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pymsteams

from chatops.i18n import t
from chatops.rules import Rules
from chatops.teams.text import escape, safe_url
from chatops.tickets.delivery import failure_cause
from chatops.views import TicketView

CARD_VERSION = "1.4"
MAX_MESSAGE_BYTES = 28 * 1024  # Workflows webhook limit per message
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
_STYLE = {"red": "attention", "orange": "warning", "green": "good"}
_DOT = {"red": "🔴", "orange": "🟠", "green": "🟢"}
# Text lengths tried, longest first, until the message fits MAX_MESSAGE_BYTES.
TEXT_BUDGETS = (3000, 1000, 300, 80)


def who(actor: str | None, rules: Rules, lang: str) -> str:
    """A person as a card shows them: their Teams name when rules.yaml has one, else the id."""
    if not actor:
        return t("teams.nobody", lang)
    if actor.startswith("customer:"):
        return t("teams.customer", lang)
    if actor in ("system", "scheduler") or actor.startswith(("system", "chatops:")):  # chatops itself
        return t("teams.system", lang)
    if actor.startswith("pagerduty:"):  # someone who acted in PagerDuty, by their PagerDuty name
        return t("teams.pagerduty_person", lang, name=escape(actor.removeprefix("pagerduty:")))
    for person in rules.teams.people:
        if person.user == actor and person.name:
            return escape(person.name)
    return escape(actor)


def mentions(people: list[str], rules: Rules) -> list[dict[str, Any]]:
    """Adaptive Card mention entities of the people among `people` whom rules.yaml `teams.people`
    maps to a Teams identity (sign-in e-mail, else AAD object id); others cannot be mentioned."""
    out, seen = [], set()
    for user in people:
        person = next((p for p in rules.teams.people if p.user == user), None)
        identity = person and (person.upn or person.aad)
        if not identity or identity in seen:
            continue
        seen.add(identity)
        name = person.name or person.upn or user
        out.append({"type": "mention", "text": f"<at>{escape(name)}</at>",
                    "mentioned": {"id": identity, "name": name}})
    return out


def notified(kind: str, actor: str, payload: Mapping[str, Any]) -> list[str]:
    """Who an event is meant for (the people a card mentions): a new assignee, the next level's
    owners, a keyword rule's notify list, the leads of a breach, the author of a failed reply."""
    people: list[str] = []
    if kind == "assigned":
        people.append(payload.get("assignee_to") or "")
    elif kind == "escalated":
        people.extend(payload.get("notify") or [])
        people.append(payload.get("assignee") or "")
    elif kind == "created":
        people.extend((payload.get("triage") or {}).get("notify") or [])
    elif kind in ("sla_breached", "sla_warning"):
        people.extend(payload.get("notify") or [])
        people.append(payload.get("assignee") or "")
    elif kind == "reply_failed":
        people.append(actor)
    return [person for person in dict.fromkeys(people) if person]


def addressed_line(entities: list[dict[str, Any]], lang: str) -> str:
    """`宛先: <at>Sato</at> <at>Lead</at>` — the TextBlock the mention entities point into."""
    return t("teams.line.for", lang, who=" ".join(entity["text"] for entity in entities))


def event_line(kind: str, actor: str, payload: Mapping[str, Any], rules: Rules, lang: str) -> str:
    """One sentence saying what happened, in `lang`; unknown kinds get a generic sentence."""
    name = who(actor, rules, lang)
    params: dict[str, Any] = {"who": name, "kind": kind}
    if kind == "escalated":
        params.update(level=payload.get("level_to", ""), note=escape(payload.get("note", "")))
    elif kind == "assigned":
        params["to"] = who(payload.get("assignee_to"), rules, lang)
        if payload.get("auto"):  # rules.yaml `assignment:` picked (docs/assignment.md)
            auto = payload["auto"]
            kind = "reassigned_auto" if auto.get("reassigned_from") else "assigned_auto"
            params.update(mode=t(f"assign.mode.{auto.get('mode', 'round_robin')}", lang),
                          previous=who(auto.get("reassigned_from"), rules, lang), minutes=auto.get("after_minutes", 0))
    elif kind == "priority_changed":
        params["label"] = priority_label(payload.get("priority_to", ""), rules, lang)
    elif kind == "tagged":
        params["tags"] = escape(" ".join([f"+{x}" for x in payload.get("added", [])] +
                                         [f"-{x}" for x in payload.get("removed", [])]))
    elif kind == "resolved" and payload.get("note"):
        kind = "resolved_note"
        params["note"] = escape(payload["note"])
    elif kind == "reopened" and actor.startswith("customer:"):
        kind = "reopened_by_customer"
    elif kind in ("reply_failed", "auto_reply_failed", "csat_request_failed"):
        reason = payload.get("reason") or ""
        params["reason"] = f"{t('teams.cause.' + failure_cause(reason), lang)} ({escape(reason[:200])})"
    elif kind == "tier_changed":
        params["tier"] = t(f"tier.{payload.get('tier_to', 'standard')}", lang)
    elif kind == "page_exhausted":
        params["page"] = payload.get("page", "")
    elif kind in ("sla_warning", "sla_breached") and payload.get("deadline"):
        kind = f"{kind}_named"
        params["deadline"] = t(f"sla.deadline.{payload['deadline']}", lang)
    elif kind == "reopened" and payload.get("reason"):
        kind = "reopened_reason"
        params["reason"] = escape(payload["reason"])
    elif kind == "created" and payload.get("follows") is not None:
        kind = "created_follows"
        params["ticket"] = f"T-{payload['follows']}"
    elif kind == "message_edited":
        params["text"] = escape(_clip(payload.get("text_to") or "", 500))
        if payload.get("priority_to"):  # the new words count, as a follow-up's would
            kind = "message_edited_raised"
            params["label"] = priority_label(payload["priority_to"], rules, lang)
    elif kind == "continued":
        params["ticket"] = f"T-{payload.get('new_ticket_id', '?')}"
    elif kind.startswith("issue_") or (kind == "reopened" and payload.get("issue")):
        # Tracker issues (docs/trackers.md): the closing line says why a reopened ticket reopened.
        if kind == "issue_closed":
            kind = "issue_closed_reopened" if payload.get("reopened") else "issue_closed_open"
        params.update(issue=escape(payload.get("issue") or ""), status=escape(payload.get("status") or ""),
                      tracker=t(f"tracker.name.{payload.get('tracker', 'jira')}", lang),
                      reason=escape((payload.get("reason") or "")[:200]))
    elif kind in ("moderation_requested", "comment_moderated", "moderation_failed"):
        params.update(action=t(f"moderation.action.{payload.get('action', 'hide')}", lang),
                      reason=escape((payload.get("reason") or "")[:200]))
    key = f"teams.line.{kind}"
    try:
        return t(key, lang, **params)
    except KeyError:
        return t("teams.line.other", lang, **params)


def priority_label(priority: str, rules: Rules, lang: str) -> str:
    definition = rules.priorities.get(priority)
    return f"{_DOT.get(priority, '')} {definition.label.get(lang) if definition else priority}".strip()


def _clip(text: str, budget: int) -> str:
    return text if len(text) <= budget else text[: max(budget - 1, 0)] + "…"


def _when(value: datetime | None, rules: Rules, lang: str) -> str:
    if value is None:
        return t("teams.none", lang)
    return value.astimezone(rules.business_hours.tz).strftime("%Y-%m-%d %H:%M")


def facts(view: TicketView, rules: Rules, lang: str) -> list[tuple[str, str]]:
    """(title, value) pairs a card lists under the ticket; the due fact carries the view's SLA
    state (read from the stored moments, the same truth as Slack)."""
    sla = view.sla
    rows = [
        (t("teams.field.status", lang), t(f"teams.status.{view.status}", lang)),
        (t("teams.field.customer", lang), f"{escape(view.customer.label)} ({escape(view.source)} {escape(view.account)})"),
        (t("teams.field.assignee", lang), who(view.assignee, rules, lang)),
        (t("teams.field.level", lang), f"{view.level} {rules.levels[view.level].name.get(lang)}"),
    ]
    if view.status != "resolved":
        when = _when(sla.due_at, rules, lang)
        if sla.deadline is not None:
            when = f"{when} ({t(f'sla.state.{sla.state}', lang)})"
        rows.append((t("teams.field.due", lang), when))
    if view.tags:
        rows.append((t("teams.field.tags", lang), " ".join(f"#{escape(tag)}" for tag in view.tags)))
    return rows


IMAGE_TYPES = ("image", "gif", "sticker")  # media an Adaptive Card Image can show from a public URL
IMAGES_SHOWN = 4


def attachment_label(item: Mapping[str, Any], lang: str) -> str:
    """An attachment named in plain text: its kind, then its alt text or file name."""
    kind = t(f"teams.attachment.{item.get('type', 'other')}", lang)
    described = item.get("alt") or item.get("name")
    return f"{kind}: {described}" if described else kind


def attachment_markdown(item: Mapping[str, Any], lang: str) -> str:
    """An attachment as a Teams markdown line: a link when it has a web address, else its label
    and the network's content id."""
    label = escape(attachment_label(item, lang))
    url = safe_url(item.get("url"))
    if url:
        return f"📎 [{label}]({url})"
    ref = f" ({t('teams.attachment.ref', lang, ref=escape(item['ref']))})" \
        if item.get("ref") and item.get("type") != "sticker" else ""  # a sticker's ref names the sticker
    return f"📎 {label}{ref}"


def attachment_elements(attachments: Sequence[Mapping[str, Any]], lang: str, budget: int) -> list[dict[str, Any]]:
    """An Image (with altText) for each of the first images with a web address, and one
    TextBlock of links for the other attachments."""
    images, others = [], []
    for item in attachments:
        url = safe_url(item.get("url"))
        if item.get("type") in IMAGE_TYPES and url and len(images) < IMAGES_SHOWN:
            images.append({"type": "Image", "url": url, "altText": _clip(attachment_label(item, lang), 1000),
                           "size": "Large"})
        else:
            others.append(attachment_markdown(item, lang))
    if others:
        images.append({"type": "TextBlock", "text": _clip("\n\n".join(others), budget), "wrap": True,
                       "spacing": "Small"})
    return images


def header(view: TicketView, rules: Rules, lang: str) -> str:
    """`🔴 大至急 · T-12 · L3`."""
    return f"{priority_label(view.priority, rules, lang)} · {view.key} · {view.level}"


def ticket_card(view: TicketView, *, line: str | None, quote: str | None, links: Mapping[str, str],
                rules: Rules, lang: str, text_budget: int = TEXT_BUDGETS[0],
                mentioned: list[dict[str, Any]] | None = None,
                attachments: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """An Adaptive Card (1.4) for the ticket: header in its priority's colour, what happened
    (`line`), who it is for (`mentioned` entities, see `mentions`), the customer's words
    (`quote`) and their media (`attachments`: images, else links), facts, and link buttons
    (`links`: action → URL)."""
    body: list[dict[str, Any]] = [{
        "type": "Container", "style": _STYLE.get(view.priority, "default"), "bleed": True,
        "items": [{"type": "TextBlock", "text": header(view, rules, lang), "weight": "Bolder",
                   "size": "Medium", "wrap": True}],
    }]
    if line:
        body.append({"type": "TextBlock", "text": _clip(line, text_budget), "wrap": True})
    if mentioned:  # never clipped: each entity's text must appear whole in the card
        body.append({"type": "TextBlock", "text": addressed_line(mentioned, lang), "wrap": True, "spacing": "Small"})
    if quote:
        body.append({"type": "TextBlock", "text": _clip(quote, text_budget), "wrap": True, "isSubtle": True,
                     "spacing": "Small"})
    body.extend(attachment_elements(attachments, lang, text_budget))
    body.append({"type": "FactSet", "facts": [{"title": title, "value": _clip(value, text_budget)}
                                              for title, value in facts(view, rules, lang)]})
    actions = [{"type": "Action.OpenUrl", "title": t(f"teams.button.{action}", lang), "url": url}
               for action, url in links.items()]
    card: dict[str, Any] = {"type": "AdaptiveCard", "$schema": CARD_SCHEMA, "version": CARD_VERSION,
                            "msteams": {"width": "Full", **({"entities": list(mentioned)} if mentioned else {})},
                            "body": body}
    if actions:
        card["actions"] = actions
    return card


def workflows_message(card: Mapping[str, Any]) -> dict[str, Any]:
    """The body a Workflows webhook takes: one message with the card as its attachment."""
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": dict(card)}]}


def message_body(message: Mapping[str, Any]) -> bytes:
    """The message as it goes on the wire: compact UTF-8 JSON (no \\uXXXX escapes, which would
    take up to twelve bytes per emoji against the 28 KB limit)."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def message_size(message: Mapping[str, Any]) -> int:
    """Bytes of the message as `message_body` sends it."""
    return len(message_body(message))


def requests_json_size(message: Mapping[str, Any]) -> int:
    """Bytes of the message as `requests.post(json=...)` sends it (what pymsteams does): ASCII
    JSON with every non-ASCII character escaped."""
    return len(json.dumps(message, allow_nan=False).encode())


def fit(build: Callable[[int], dict[str, Any]], limit: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """The message `build(text_budget)` makes with the longest budget that fits `limit`;
    ValueError when even the shortest does not."""
    for budget in TEXT_BUDGETS:
        message = build(budget)
        if message_size(message) <= limit:
            return message
    raise ValueError(f"a Teams message stays over {limit} bytes even with texts cut to {TEXT_BUDGETS[-1]}")


def connector_card(hook_url: str, view: TicketView, *, line: str | None, quote: str | None,
                   links: Mapping[str, str], rules: Rules, lang: str, timeout: float,
                   text_budget: int = TEXT_BUDGETS[0],
                   attachments: Sequence[Mapping[str, Any]] = ()) -> pymsteams.connectorcard:
    """A MessageCard for a legacy connector (built, not sent)."""
    card = pymsteams.connectorcard(hook_url, http_timeout=timeout)
    card.title(header(view, rules, lang))
    card.summary(f"{view.key} {_clip(line or escape(view.text), 100)}")
    definition = rules.priorities.get(view.priority)
    if definition:
        card.color(definition.color.lstrip("#"))
    text = [part for part in (line and _clip(line, text_budget), quote and f"> {_clip(quote, text_budget)}")
            if part] + [attachment_markdown(item, lang) for item in attachments]
    card.text("\n\n".join(text) or view.key)
    section = pymsteams.cardsection()
    for title, value in facts(view, rules, lang):
        section.addFact(title, _clip(value, text_budget))
    card.addSection(section)
    for action, url in links.items():
        card.addLinkButton(t(f"teams.button.{action}", lang), url)
    return card


def incident_opened_line(payload: Mapping[str, Any], rules: Rules, lang: str) -> str:
    """The card line of a ticket becoming a flood (炎上) incident."""
    seconds = rules.flood.window.total_seconds()
    window = f"{int(seconds // 60)}m" if seconds >= 60 else f"{int(seconds)}s"
    return f"🔥 {t('flood.label', lang)} — " + t(
        "flood.line.opened", lang, count=payload.get("count", 0), authors=payload.get("authors", 0), window=window,
        share=f"{payload.get('negative_share', 0):.0%}")


def incident_digest(view: TicketView, stats, count: int, newest, lang: str, shown: int = 5) -> tuple[str, str]:
    """(line, quote) of a flood digest card: how many arrived, the live figures, and the newest
    few messages with "+K more"."""
    line = (f"🔥 {t('flood.label', lang)} {view.key} · {t('flood.digest.head', lang, count=count)} — "
            + t("flood.teams.live", lang, count=stats.count, authors=stats.authors,
                share=f"{stats.negative_share:.0%}", rate=stats.rate_per_min))
    quotes = [f"{escape(row.author_handle or row.author_name or '?')}: {escape(_clip(' '.join(row.text.split()), 120))}"
              for row in newest[:shown]]
    if count > min(len(newest), shown):
        quotes.append(t("flood.digest.more", lang, more=count - min(len(newest), shown)))
    return line, "\n\n".join(quotes)
