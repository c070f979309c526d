"""What a person's message, card action or dialog does: the command layer and the ticket flows,
with the sender's roles checked as on Slack.

Card buttons run the flows the Slack buttons run (claim, release, resolve, reopen, priority,
the page DM's Acknowledge and Resolve), with the same permission each needs there; dialogs are
the Slack modals' counterparts (Reply, Escalate, Customer), checked again on submit."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from chatops.errors import DomainError, InvalidTransition
from chatops.i18n import t
from chatops.rules.suggest import suggestions_for
from chatops.teams.bot import dialogs
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
    BotContext,
    Outcome,
)
from chatops.teams.cards import who
from chatops.teams.commands import answer
from chatops.tickets.customers import flag_customer
from chatops.tickets.limits import check_reply_length, reply_length, reply_rule
from chatops.tickets.models import CUSTOMER_FLAGS
from chatops.tickets.queries import TicketBrief, ticket_brief
from chatops.tickets.service import parse_ticket_key

# The permission each card verb needs: the one its Slack button checks.
_ACTIONS = {CLAIM: "claim", RELEASE: "release", RESOLVE: "resolve", REOPEN: "reopen", PRIORITY: "priority"}
# The permission that opens (and submits) each dialog, as the Slack modal it mirrors.
_DIALOGS = {REPLY_DIALOG: "reply", ESCALATE_DIALOG: "escalate", CUSTOMER_DIALOG: "claim"}


def on_message(ctx: BotContext, text: str) -> Outcome:
    """An @mention in a channel or a personal chat message: `ticket …`, `oncall …`, `stats …`."""
    return Outcome(text=answer(ctx.surface, ctx.actor, text, ctx.lang))


# -- shared ----------------------------------------------------------------------------------


class _Refused(Exception):
    """What stops a card action or dialog before any flow runs, worded for the person."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _error(text: str) -> Outcome:
    return Outcome(text=text, error=True)


def _actor(ctx: BotContext, action: str | None) -> str:
    """The sender's user id once they may do `action` (None: any mapped person)."""
    if ctx.actor is None:
        raise _Refused("⛔ " + t("teams.not_mapped", ctx.lang))
    if action is not None and not ctx.surface.may(ctx.actor, action):
        raise _Refused(f"⛔ {ctx.surface.refusal(action, ctx.lang)}")
    return ctx.actor


def _key(ctx: BotContext, data: dict[str, Any]) -> str:
    """The ticket the card or dialog is about, as `T-12` (a clear error when it names none)."""
    raw = data.get("ticket")
    raw = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(raw, str) or not raw.strip():
        raise _Refused("⚠️ " + t("teams.bot.no_ticket", ctx.lang))
    number = parse_ticket_key(raw)
    return f"T-{number}" if number is not None else raw.strip()


def _domain(ctx: BotContext, exc: DomainError) -> str:
    return f"⚠️ {ctx.surface.error_text(exc, ctx.lang)}"


def _brief(ctx: BotContext, key: str) -> TicketBrief:
    return ctx.surface.desk(ctx.lang).read(ticket_brief, key=key)


def _open(ctx: BotContext, key: str, verb: str) -> TicketBrief:
    """The ticket, refused with InvalidTransition naming `verb` when it is resolved (as the
    Slack Reply and Escalate buttons refuse)."""
    ticket = _brief(ctx, key)
    if ticket.status == "resolved":
        raise InvalidTransition(key=ticket.key, status=t(f"status.{ticket.status}", ctx.lang),
                                action=t(f"action.{verb}", ctx.lang))
    return ticket


# -- card actions ----------------------------------------------------------------------------


def on_action(ctx: BotContext, verb: str, data: dict[str, Any]) -> Outcome:
    """An `Action.Execute` from a ticket or page card (`adaptiveCard/action` invoke)."""
    try:
        if verb in (ACK_PAGE, RESOLVE_PAGE):
            return _settle_page(ctx, verb, data)
        if verb not in _ACTIONS:
            return _error("⚠️ " + t("teams.bot.unknown_action", ctx.lang, verb=verb))
        actor = _actor(ctx, _ACTIONS[verb])
        key = _key(ctx, data)
        text = _run_action(ctx, verb, key, actor, data)
    except _Refused as refused:
        return _error(refused.text)
    except DomainError as exc:
        return _error(_domain(ctx, exc))
    ctx.surface.changed()
    return Outcome(ticket_key=key, text=f"✅ {text}")


def _run_action(ctx: BotContext, verb: str, key: str, actor: str, data: dict[str, Any]) -> str:
    """Run the flow of `verb` on ticket `key`; the confirmation in the sender's language."""
    flows, lang = ctx.surface.flows, ctx.lang
    if verb == CLAIM:
        flows.claim(key, actor=actor)
    elif verb == RELEASE:
        flows.release(key, actor=actor)
    elif verb == RESOLVE:
        flows.resolve(key, actor=actor, note=_str(data.get("note")))
    elif verb == REOPEN:
        flows.reopen(key, actor=actor, reason=_str(data.get("reason")))
    else:
        priority = _str(data.get("priority")).lower()
        flows.set_priority(key, actor=actor, priority=priority)
        label = ctx.surface.rules.priorities[priority].label.get(lang)
        return t("teams.bot.done.priority", lang, key=key, label=label)
    return t(f"teams.cmd.done.{verb}", lang, key=key)


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _settle_page(ctx: BotContext, verb: str, data: dict[str, Any]) -> Outcome:
    """Acknowledge or resolve a page from its card, as the Slack page DM's buttons do: anyone
    the page reached may (no role), and acknowledging stops the escalation chain."""
    actor = _actor(ctx, None)
    ref = _str(data.get("page")).upper()
    if not ref:
        return _error("⚠️ " + t("teams.bot.no_page", ctx.lang))
    to = "acknowledged" if verb == ACK_PAGE else "resolved"
    flows = ctx.surface.flows
    try:
        pages = (flows.acknowledge_page if to == "acknowledged" else flows.resolve_page)(ref, actor=actor)
    except DomainError as exc:
        return _error(_domain(ctx, exc))
    ctx.surface.changed()
    if not pages and to == "resolved":
        return Outcome(text="ℹ️ " + t("sla.page.nothing", ctx.lang, ref=ref), extra={"page": ref})
    return Outcome(text=t(f"teams.bot.page.{to}", ctx.lang, page=ref, who=who(actor, ctx.surface.rules, ctx.lang)),
                   extra={"page": ref, "status": to, "by": actor})


# -- dialogs ---------------------------------------------------------------------------------


def on_task_fetch(ctx: BotContext, data: dict[str, Any]) -> Outcome:
    """Open a dialog (`task/fetch`): Reply, Escalate or Customer for `data["ticket"]`."""
    dialog = data.get("dialog")
    if dialog not in _DIALOGS:
        return _error("⚠️ " + t("teams.bot.unknown_dialog", ctx.lang, dialog=str(dialog)))
    try:
        _actor(ctx, _DIALOGS[dialog])
        key = _key(ctx, data)
        if dialog == REPLY_DIALOG:
            ticket = _open(ctx, key, "reply")
            seen = ctx.surface.desk(ctx.lang).read(dialogs.opened, ticket.id, actor=ctx.actor,
                                                   now=ctx.surface.runtime.clock())
            card = _reply_card(ctx, ticket, token=uuid.uuid4().hex, opened=seen)
        elif dialog == ESCALATE_DIALOG:
            ticket = _open(ctx, key, "escalate")
            if not dialogs.higher_levels(ctx.surface.rules, ticket.level):
                return _error("⚠️ " + t("teams.bot.top_level", ctx.lang, key=ticket.key, level=ticket.level))
            card = dialogs.escalate_card(ticket.key, ctx.surface.rules, ctx.lang, current_level=ticket.level)
        else:
            card = _customer_card(ctx, key)
    except _Refused as refused:
        return _error(refused.text)
    except DomainError as exc:
        return _error(_domain(ctx, exc))
    return Outcome(card=card, title=dialogs.title(dialog, key, ctx.lang))


def on_task_submit(ctx: BotContext, data: dict[str, Any]) -> Outcome:
    """A dialog's submit (`task/submit`): run the flow, or show the dialog again with the problem."""
    dialog = data.get("dialog")
    if dialog not in _DIALOGS:
        return _error("⚠️ " + t("teams.bot.unknown_dialog", ctx.lang, dialog=str(dialog)))
    submit: Callable[[BotContext, str, str, dict[str, Any]], Outcome] = {
        REPLY_DIALOG: _submit_reply, ESCALATE_DIALOG: _submit_escalate, CUSTOMER_DIALOG: _submit_customer}[dialog]
    try:
        actor = _actor(ctx, _DIALOGS[dialog])
        key = _key(ctx, data)
        return submit(ctx, key, actor, data)
    except _Refused as refused:
        return _error(refused.text)
    except DomainError as exc:  # the ticket itself is gone or unreadable: nothing to show again
        return _error(_domain(ctx, exc))


def _again(dialog: str, key: str, card: dict[str, Any], lang: str) -> Outcome:
    """The dialog shown again (its problem inside), instead of closing."""
    return Outcome(card=card, title=dialogs.title(dialog, key, lang), error=True)


# Reply


def _reply_card(ctx: BotContext, ticket: TicketBrief, *, token: str, text: str | None = None,
                canned: str | None = None, problem: str | None = None, opened: dialogs.Opened | None = None,
                collided: Sequence[dialogs.OtherReply] = ()) -> dict[str, Any]:
    rules = ctx.surface.rules
    count = reply_length(ticket.source, text, ticket.answers_kind, ticket.answers_meta) if text else None
    return dialogs.reply_card(ticket.key, rules, ctx.lang, network=ticket.source, account=ticket.account,
                              kind=ticket.answers_kind, limit=reply_rule(ticket.source, ticket.answers_kind),
                              suggestions=suggestions_for(rules, ticket), text=text, count=count, canned=canned,
                              token=token, problem=problem, opened=opened, collided=collided)


def _canned_text(ctx: BotContext, canned: str) -> str | None:
    """A canned reply's text in the team language (what the customer reads, as on Slack)."""
    reply = next((r for r in ctx.surface.rules.canned_replies if r.id == canned), None)
    return reply.text.get(ctx.surface.lang) if reply is not None else None


def _submit_reply(ctx: BotContext, key: str, actor: str, data: dict[str, Any]) -> Outcome:
    """Fill in the picked canned reply, or send the text (the canned reply when the box is
    empty) once it fits the network and nobody else answered the customer since the dialog
    opened (unless Send anyway); the dialog's token makes a second submit one reply."""
    ticket = _brief(ctx, key)
    token, canned = _str(data.get("token")), _str(data.get(dialogs.CANNED)) or None
    text = _str(data.get(dialogs.TEXT))
    seen = dialogs.Opened.of(data)

    def again(problem: str | None, shown: str | None = text, collided=()) -> Outcome:
        card = _reply_card(ctx, ticket, token=token, text=shown or None, canned=canned, problem=problem,
                           opened=seen, collided=collided)
        return _again(REPLY_DIALOG, ticket.key, card, ctx.lang)

    if data.get("op") == dialogs.FILL:
        filled = _canned_text(ctx, canned) if canned else None
        return again(None if filled else t("teams.dialog.reply.pick_first", ctx.lang), filled or text)
    if not text and canned:
        text = _canned_text(ctx, canned) or ""
    if not text:
        return again(t("teams.dialog.reply.empty", ctx.lang, key=ticket.key))
    try:
        check_reply_length(ticket.source, text, key=ticket.key, kind=ticket.answers_kind, meta=ticket.answers_meta)
        others = ctx.surface.desk(ctx.lang).read(dialogs.replied_since, ticket.id, actor=actor, since=seen) \
            if seen is not None and data.get("force") is not True else []
        if others:  # someone else answered this customer meanwhile: show it first, keep the text
            return again(None, text, others)
        ctx.surface.flows.reply(ticket.key, actor=actor, text=text,
                                idempotency_key=f"teams-dialog:{token}" if token else None)
    except DomainError as exc:
        return again(ctx.surface.error_text(exc, ctx.lang))
    ctx.surface.changed()
    return Outcome(close=True, ticket_key=ticket.key, text="✅ " + t("teams.bot.done.reply", ctx.lang, key=ticket.key))


# Escalate


def _submit_escalate(ctx: BotContext, key: str, actor: str, data: dict[str, Any]) -> Outcome:
    """Escalate with the note (required) and, when picked, hand the ticket to one of the
    people of the chosen level."""
    rules = ctx.surface.rules
    ticket = _brief(ctx, key)
    level, note = _str(data.get(dialogs.LEVEL)).upper(), _str(data.get(dialogs.NOTE))
    assignee = _str(data.get(dialogs.ASSIGNEE)) or None

    def again(problem: str) -> Outcome:
        if not dialogs.higher_levels(rules, ticket.level):
            return _error(f"⚠️ {problem}")
        card = dialogs.escalate_card(ticket.key, rules, ctx.lang, current_level=ticket.level, level=level,
                                     note=note, assignee=assignee, problem=problem)
        return _again(ESCALATE_DIALOG, ticket.key, card, ctx.lang)

    people = dialogs.level_people(rules, level) if level in rules.levels else []
    if assignee and level in rules.levels and assignee not in people:
        return again(t("teams.bot.not_of_level", ctx.lang, who=who(assignee, rules, ctx.lang), level=level,
                       choices=", ".join(who(person, rules, ctx.lang) for person in people)
                       or t("teams.none", ctx.lang)))
    try:
        ctx.surface.flows.escalate(ticket.key, actor=actor, level=level, note=note, assignee=assignee)
    except DomainError as exc:
        return again(ctx.surface.error_text(exc, ctx.lang))
    ctx.surface.changed()
    return Outcome(close=True, ticket_key=ticket.key,
                   text="✅ " + t("teams.cmd.done.escalate", ctx.lang, key=ticket.key, level=level))


# Customer


def _customer_card(ctx: BotContext, key: str, **shown: Any) -> dict[str, Any]:
    facts = ctx.surface.desk(ctx.lang).read(dialogs.customer_facts, key=key)
    return dialogs.customer_card(facts, ctx.surface.rules, ctx.lang, **shown)


def _submit_customer(ctx: BotContext, key: str, actor: str, data: dict[str, Any]) -> Outcome:
    """Apply the tier and flag changes, each with the permission its Slack control needs
    (`tier`, `flag`); both are checked before anything changes."""
    surface = ctx.surface
    facts = surface.desk(ctx.lang).read(dialogs.customer_facts, key=key)
    tier = _str(data.get(dialogs.TIER)) or facts.tier
    wanted = [flag for flag in CUSTOMER_FLAGS if _str(data.get(dialogs.flag_input(flag))).lower() == "true"]
    changes = [(flag, flag in wanted) for flag in CUSTOMER_FLAGS if (flag in wanted) != (flag in facts.flags)]

    def again(problem: str) -> Outcome:
        card = dialogs.customer_card(facts, surface.rules, ctx.lang, tier=tier, flags=wanted, problem=problem)
        return _again(CUSTOMER_DIALOG, facts.key, card, ctx.lang)

    for needed, asked in (("tier", tier != facts.tier), ("flag", bool(changes))):
        if asked and not surface.may(actor, needed):
            return again(surface.refusal(needed, ctx.lang))
    try:
        if tier != facts.tier:
            surface.flows.set_customer_tier(facts.key, actor=actor, tier=tier)
        for flag, on in changes:
            flag_customer(surface.flows, facts.key, actor=actor, flag=flag, on=on)
    except DomainError as exc:
        surface.changed()  # an earlier change may have been stored
        return again(surface.error_text(exc, ctx.lang))
    surface.changed()
    return Outcome(close=True, ticket_key=facts.key)
