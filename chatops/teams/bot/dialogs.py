"""The bot's dialogs (task modules) as Adaptive Card 1.4 content: Reply, Escalate and Customer,
built from plain data in the viewer's language, and the reads they need.

Every dialog's submit buttons carry `{"dialog": …, "ticket": …}` in `data`, which Teams merges
with the inputs' values (`text`, `canned`, `level`, `note`, `assignee`, `tier`, `flag_<name>`)
into the `task/submit` invoke's `value.data`. A problem found on submit is shown at the top of
the same dialog, with what the person typed kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatops.i18n import t
from chatops.inbound import NETWORK_NAMES
from chatops.rules import Rules
from chatops.rules.fields import CUSTOMER_TIERS
from chatops.rules.suggest import Suggestion, ordered_replies
from chatops.teams.bot.context import CUSTOMER_DIALOG, ESCALATE_DIALOG, REPLY_DIALOG
from chatops.teams.cards import CARD_SCHEMA, CARD_VERSION, who
from chatops.teams.text import escape
from chatops.tickets import collision, service
from chatops.tickets.collision import RecentReply
from chatops.tickets.limits import Limit, reply_kind, reply_warning
from chatops.tickets.models import CUSTOMER_FLAGS, Customer, Message, Ticket

# Inputs' ids: what a dialog's submit brings back in `value.data`.
TEXT, CANNED, LEVEL, NOTE, ASSIGNEE, TIER = "text", "canned", "level", "note", "assignee", "tier"
# The Reply dialog's two buttons: put the picked canned reply in the text box, or send.
FILL, SEND = "fill", "send"
NOTE_MAX = 2000  # the Slack Escalate modal's note limit, so a note fits either surface
SHOWN_SUGGESTIONS = 10
SHOWN_TICKETS = 20


def flag_input(flag: str) -> str:
    """The id of the Customer dialog's toggle for `flag`."""
    return f"flag_{flag}"


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "$schema": CARD_SCHEMA, "version": CARD_VERSION, "lang": lang,
            "body": body, "actions": actions}


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _problem(problem: str | None) -> list[dict[str, Any]]:
    """The problem a submit ran into, first in the dialog so it is the first thing read."""
    return [_text(f"⚠️ {problem}", color="Attention", weight="Bolder")] if problem else []


def _submit(title: str, data: dict[str, Any], *, positive: bool = False) -> dict[str, Any]:
    action = {"type": "Action.Submit", "title": title, "data": data}
    if positive:
        action["style"] = "positive"
    return action


def title(dialog: str, key: str, lang: str) -> str:
    """The dialog's title bar: `Reply to T-12`."""
    return t(f"teams.dialog.{dialog}.title", lang, key=key)


# -- Reply -----------------------------------------------------------------------------------

SHOWN_RECENT = 10
OtherReply = RecentReply  # the name the dialog's callers use


@dataclass(frozen=True)
class Opened:
    """What the Reply dialog saw when it opened: the moment and the newest outbound message id
    (a submit stops on another agent's reply newer than either), and the recent replies."""

    at: datetime
    last_id: int | None
    recent: tuple[OtherReply, ...] = ()

    def data(self) -> dict[str, Any]:
        """The guard's state as the dialog's submit data carries it."""
        return {"opened_at": self.at.isoformat(), "last_id": self.last_id}

    @classmethod
    def of(cls, data: dict[str, Any]) -> Opened | None:
        """The guard's state from a submit's data; None when it carries none (or garbage)."""
        try:
            last_id = data.get("last_id")
            return cls(at=datetime.fromisoformat(str(data["opened_at"])),
                       last_id=int(last_id) if last_id not in (None, "") else None)
        except (KeyError, TypeError, ValueError):
            return None


def opened(session: Session, ticket_id: int, *, actor: str, now: datetime) -> Opened:
    """What a Reply dialog opened by `actor` at `now` shows and remembers."""
    last_id, recent = collision.opened(session, ticket_id, actor=actor, now=now)
    return Opened(at=now, last_id=last_id, recent=recent)


def replied_since(session: Session, ticket_id: int, *, actor: str, since: Opened) -> list[OtherReply]:
    """Other agents' replies recorded after the dialog opened."""
    return collision.since(session, ticket_id, actor=actor, opened_at=since.at, last_id=since.last_id)


def _excerpt(text: str, width: int = 120) -> str:
    line = " ".join(text.split())
    return escape(line if len(line) <= width else line[: width - 1] + "…")


def _replies_block(replies: Sequence[OtherReply], heading: str, rules: Rules, lang: str, *,
                   warn: bool = False) -> dict[str, Any]:
    lines = [t("teams.dialog.reply.other", lang, who=who(reply.author_id, rules, lang),
               at=_when(reply.at, rules, lang), text=_excerpt(reply.text))
             + (f" {t('teams.dialog.reply.sending', lang)}" if reply.sending else "")
             for reply in replies[:SHOWN_RECENT]]
    if len(replies) > SHOWN_RECENT:
        lines.append(t("teams.dialog.reply.more", lang, count=len(replies) - SHOWN_RECENT))
    return {"type": "Container", "style": "warning" if warn else "emphasis",
            "items": [_text(heading, weight="Bolder"), _text("\n\n".join(lines), spacing="Small")]}


def limit_line(network: str, kind: str | None, limit: Limit | None, lang: str) -> str | None:
    """The network's length rule for this reply as it counts it (`X counts … at most 280`)."""
    if limit is None:
        return None
    return t(f"teams.dialog.reply.limit.{limit.unit}", lang, network=NETWORK_NAMES.get(network, network),
             kind=t(f"teams.dialog.reply.kind.{reply_kind(kind)}", lang), limit=limit.most)


def reply_card(key: str, rules: Rules, lang: str, *, network: str, account: str | None, kind: str | None,
               limit: Limit | None, suggestions: Sequence[Suggestion] = (), text: str | None = None,
               count: int | None = None, canned: str | None = None, token: str = "",
               problem: str | None = None, opened: Opened | None = None,
               collided: Sequence[OtherReply] = ()) -> dict[str, Any]:
    """The Reply dialog: where the reply goes, other agents' recent replies (`opened`), the
    canned replies (those suggested for the ticket first, each with its reason), the text box,
    and the network's limit with the text's count as the network will count it (`count`, when
    there is text). With `collided` (replies sent after it opened), those come first and Send
    becomes Send anyway."""
    body = [*_problem(problem)]
    if collided:
        body.append(_replies_block(collided, t("teams.dialog.reply.collision", lang), rules, lang, warn=True))
    body.append(_text(t("teams.dialog.reply.from", lang, key=key, network=NETWORK_NAMES.get(network, network),
                        account=escape(account or "")), isSubtle=True))
    warning = reply_warning(network, kind)
    if warning:  # the network may refuse what is about to be written: say so before, not after
        body.append(_text("⚠️ " + t(f"teams.dialog.reply.warning.{warning}", lang, account=escape(account or "")),
                          color="Warning"))
    if opened is not None and opened.recent and not collided:
        body.append(_replies_block(opened.recent, t("teams.dialog.reply.recent", lang), rules, lang))
    ordered = ordered_replies(rules, list(suggestions))
    suggested = [(reply, suggestion) for reply, suggestion in ordered if suggestion is not None]
    if suggested:
        body.append(_text(t("teams.dialog.reply.suggested", lang), weight="Bolder", spacing="Medium"))
        body.extend(_text(f"• **{escape(reply.title.get(lang))}** — {escape(suggestion.describe(lang))}",
                          spacing="None") for reply, suggestion in suggested[:SHOWN_SUGGESTIONS])
    if ordered:
        choices = [{"title": reply.title.get(lang) + (f" — {suggestion.describe(lang)}" if suggestion else ""),
                    "value": reply.id} for reply, suggestion in ordered]
        picker = {"type": "Input.ChoiceSet", "id": CANNED, "label": t("teams.dialog.reply.canned", lang),
                  "style": "compact", "placeholder": t("teams.dialog.reply.canned_pick", lang), "choices": choices}
        if canned:
            picker["value"] = canned
        body.append(picker)
    box = {"type": "Input.Text", "id": TEXT, "label": t("teams.dialog.reply.text", lang), "isMultiline": True,
           "placeholder": t("teams.dialog.reply.placeholder", lang)}
    if text:
        box["value"] = text
    body.append(box)
    rule = limit_line(network, kind, limit, lang)
    if rule:
        body.append(_text(rule, isSubtle=True, size="Small", spacing="Small"))
    if text and count is not None and limit is not None:
        over = count > limit.most
        body.append(_text(t("teams.dialog.reply.count", lang, count=count, limit=limit.most), size="Small",
                          spacing="None", color="Attention" if over else "Good"))
    data = {"dialog": REPLY_DIALOG, "ticket": key, "token": token, **(opened.data() if opened else {})}
    actions = [_submit(t("teams.dialog.reply.fill", lang), {**data, "op": FILL})] if ordered else []
    send = {**data, "op": SEND, **({"force": True} if collided else {})}
    actions.append(_submit(t("teams.dialog.reply.send_anyway" if collided else "teams.dialog.reply.send", lang),
                           send, positive=True))
    return _card(body, actions, lang)


# -- Escalate --------------------------------------------------------------------------------


def level_people(rules: Rules, level: str) -> list[str]:
    """The people (not groups) rules.yaml names as owners of `level`: whom an escalation there
    may be handed to."""
    return [owner for owner in rules.levels[level].owners if not owner.startswith("@")]


def higher_levels(rules: Rules, current: str) -> list[str]:
    """The levels above `current`, lowest first."""
    rank = rules.levels[current].rank
    return [name for name, level in rules.levels.items() if level.rank > rank]


def escalate_card(key: str, rules: Rules, lang: str, *, current_level: str, level: str | None = None,
                  note: str | None = None, assignee: str | None = None,
                  problem: str | None = None) -> dict[str, Any]:
    """The Escalate dialog: a higher level, the hand-off note (required) and, optionally, one of
    the people of the higher levels to hand the ticket to."""
    levels = higher_levels(rules, current_level)
    chosen = level if level in levels else levels[0]
    body = [*_problem(problem),
            _text(t("teams.dialog.escalate.now", lang, key=key, level=current_level,
                    name=rules.levels[current_level].name.get(lang)), isSubtle=True),
            {"type": "Input.ChoiceSet", "id": LEVEL, "label": t("teams.dialog.escalate.level", lang),
             "style": "expanded", "isRequired": True, "errorMessage": t("teams.dialog.escalate.level_missing", lang),
             "value": chosen,
             "choices": [{"title": f"{name} {rules.levels[name].name.get(lang)}", "value": name} for name in levels]},
            {"type": "Input.Text", "id": NOTE, "label": t("teams.dialog.escalate.note", lang), "isMultiline": True,
             "isRequired": True, "maxLength": NOTE_MAX, "errorMessage": t("teams.dialog.escalate.note_missing", lang),
             "placeholder": t("teams.dialog.escalate.note_hint", lang), **({"value": note} if note else {})}]
    people: dict[str, list[str]] = {}  # person → the higher levels they own
    for name in levels:
        for person in level_people(rules, name):
            people.setdefault(person, []).append(name)
    if people:
        picker = {"type": "Input.ChoiceSet", "id": ASSIGNEE, "label": t("teams.dialog.escalate.assignee", lang),
                  "style": "compact", "placeholder": t("teams.dialog.escalate.assignee_pick", lang),
                  "choices": [{"title": f"{who(person, rules, lang)} · {' '.join(owned)}", "value": person}
                              for person, owned in people.items()]}
        if assignee:
            picker["value"] = assignee
        body.append(picker)
    data = {"dialog": ESCALATE_DIALOG, "ticket": key}
    return _card(body, [_submit(t("teams.dialog.escalate.submit", lang), data, positive=True)], lang)


# -- Customer --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerFacts:
    """A ticket's customer as the Customer dialog shows them."""

    key: str
    handle: str | None
    name: str | None
    source: str
    tier: str
    flags: tuple[str, ...]
    first_seen_at: datetime
    last_seen_at: datetime | None
    tickets: tuple[tuple[str, str, str, datetime], ...]  # key, status, priority, created
    csat: float | None
    handles: tuple[str, ...] = ()  # the same person on other networks (linked customers)
    stored_only: int = 0  # messages kept without a ticket (while blocked)


def customer_facts(session: Session, *, key: str) -> CustomerFacts:
    """The customer of ticket `key` (TicketNotFound naming it otherwise), with their tickets
    (newest first), average CSAT, linked handles and messages kept without a ticket."""
    ticket = service.get_ticket(session, key=key)
    customer = ticket.customer
    people = [customer.id] + ([customer.linked_to_id] if customer.linked_to_id else [])
    linked = session.execute(select(Customer.source, Customer.handle, Customer.name).where(
        Customer.id != customer.id, (Customer.id.in_(people)) | (Customer.linked_to_id.in_(people)))).all()
    rows = session.execute(select(Ticket.id, Ticket.status, Ticket.priority, Ticket.created_at)
                           .where(Ticket.customer_id == customer.id).order_by(Ticket.id.desc())
                           .limit(SHOWN_TICKETS)).all()
    csat = session.scalar(select(func.avg(Ticket.csat_score)).where(Ticket.customer_id == customer.id))
    stored_only = session.scalar(select(func.count()).select_from(Message).where(
        Message.customer_id == customer.id, Message.direction == "inbound", Message.ticket_id.is_(None)))
    return CustomerFacts(
        key=ticket.key, handle=customer.handle, name=customer.name, source=customer.source, tier=customer.tier,
        flags=tuple(customer.flags or ()), first_seen_at=customer.first_seen_at, last_seen_at=customer.last_seen_at,
        tickets=tuple((f"T-{row.id}", row.status, row.priority, row.created_at) for row in rows),
        csat=float(csat) if csat is not None else None,
        handles=tuple(f"{row.handle or row.name or '?'} ({row.source})" for row in linked), stored_only=stored_only or 0)


def _when(value: datetime | None, rules: Rules, lang: str) -> str:
    if value is None:
        return t("teams.none", lang)
    return value.astimezone(rules.business_hours.tz).strftime("%Y-%m-%d %H:%M")


def customer_card(facts: CustomerFacts, rules: Rules, lang: str, *, tier: str | None = None,
                  flags: Sequence[str] | None = None, problem: str | None = None) -> dict[str, Any]:
    """The Customer dialog: who the customer is (handles, network, tier, flags, first and last
    seen, CSAT, past tickets) and the tier and flags an agent may change (`tier`/`flags`: what
    a refused submit asked for, shown again)."""
    shown_flags = " ".join(f"`{escape(flag)}`" for flag in facts.flags) or t("teams.none", lang)
    handles = " · ".join(escape(h) for h in (facts.handle or facts.name or "?", *facts.handles))
    rows = [(t("teams.field.customer", lang), handles),
            (t("teams.dialog.customer.network", lang), NETWORK_NAMES.get(facts.source, escape(facts.source))),
            (t("teams.dialog.customer.tier", lang), t(f"tier.{facts.tier}", lang)
             if facts.tier in CUSTOMER_TIERS else escape(facts.tier)),
            (t("teams.dialog.customer.flags", lang), shown_flags),
            (t("teams.dialog.customer.first_seen", lang), _when(facts.first_seen_at, rules, lang)),
            (t("teams.dialog.customer.last_seen", lang), _when(facts.last_seen_at, rules, lang)),
            ("CSAT", f"{facts.csat:.1f}" if facts.csat is not None else t("networks.customer.no_csat", lang))]
    history = [f"{rules.priorities[priority].emoji if priority in rules.priorities else ''} **{key}** "
               f"{t(f'teams.status.{status}', lang)} · {_when(created, rules, lang)}".strip()
               for key, status, priority, created in facts.tickets]
    if facts.stored_only:
        history.append(t("networks.customer.stored_only", lang, count=facts.stored_only))
    wanted = set(facts.flags if flags is None else flags)
    body = [*_problem(problem),
            {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in rows]},
            _text(t("networks.customer.history", lang), weight="Bolder", spacing="Medium"),
            _text("\n\n".join(history) or t("teams.dialog.customer.no_tickets", lang), spacing="Small"),
            {"type": "Input.ChoiceSet", "id": TIER, "label": t("teams.dialog.customer.tier", lang),
             "style": "compact", "value": tier or facts.tier,
             "choices": [{"title": t(f"tier.{name}", lang), "value": name} for name in CUSTOMER_TIERS]},
            *({"type": "Input.Toggle", "id": flag_input(flag), "title": t(f"teams.dialog.customer.flag.{flag}", lang),
               "value": "true" if flag in wanted else "false", "valueOn": "true", "valueOff": "false", "wrap": True}
              for flag in CUSTOMER_FLAGS)]
    data = {"dialog": CUSTOMER_DIALOG, "ticket": facts.key}
    return _card(body, [_submit(t("teams.dialog.customer.save", lang), data, positive=True)], lang)
