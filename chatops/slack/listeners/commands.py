"""`/ticket` — show, claim, release, assign, tag, priority, escalate, pending, resolve, reopen, note,
search, mine, queue, help. Every answer is ephemeral and in the workspace language."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import App

from chatops.errors import DomainError, InvalidValue
from chatops.i18n import t
from chatops.slack import blocks, ids
from chatops.slack.surface import SlackSurface
from chatops.tickets import service
from chatops.views import list_views, load_view, overdue_views, views_of

_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^@?([UW][A-Z0-9]{2,})$")


@dataclass(frozen=True)
class Answer:
    """What `/ticket` shows: text, optionally blocks."""

    text: str
    blocks: list[dict] | None = None


@dataclass(frozen=True)
class Verb:
    """A `/ticket` subcommand: the permission it needs and how many words it takes before free text."""

    action: str | None
    run: Callable[[SlackSurface, str, list[str], str], Answer]


def _user_id(word: str, surface: SlackSurface) -> str:
    match = _MENTION.match(word)
    if not match:
        raise InvalidValue(value=word, field="user", choices="@user")
    return match.group(1) or match.group(2)


def _need(words: list[str], count: int, usage: str, surface: SlackSurface) -> None:
    if len(words) < count:
        raise UsageError(usage)


class UsageError(Exception):
    """The command's words don't fit its usage line (i18n key)."""


def _done(surface: SlackSurface, key: str, what: str, **params) -> Answer:
    return Answer(f":white_check_mark: {t(f'slack.cmd.done.{what}', surface.lang, key=key.upper(), **params)}")


def _show(surface: SlackSurface, actor: str, words: list[str], rest: str) -> Answer:
    _need(words, 1, "show", surface)
    with surface.runtime.session_factory() as session:
        view = load_view(session, words[0], rules=surface.rules, now=surface.clock())
    modal = blocks.ticket_modal(view, surface.rules, surface.lang)
    return Answer(blocks.ticket_message(view, surface.rules, surface.lang)["text"], modal["blocks"])


def _list(surface: SlackSurface, title: str, found) -> Answer:
    return Answer(title, blocks.ticket_list(title, found, surface.rules, surface.lang))


def _mine(surface: SlackSurface, actor: str, words: list[str], rest: str) -> Answer:
    with surface.runtime.session_factory() as session:
        found = list_views(session, rules=surface.rules, now=surface.clock(), assignee=actor, open_only=True)
    return _list(surface, t("slack.home.mine", surface.lang, count=len(found)), found)


def _queue(surface: SlackSurface, actor: str, words: list[str], rest: str) -> Answer:
    with surface.runtime.session_factory() as session:
        now = surface.clock()
        overdue = overdue_views(session, rules=surface.rules, now=now)
        waiting = list_views(session, rules=surface.rules, now=now, unassigned=True, open_only=True, limit=30)
    late = {card.key for card in overdue}
    found = overdue + [card for card in waiting if card.key not in late]
    return _list(surface, t("slack.cmd.queue", surface.lang, count=len(found)), found)


def _search(surface: SlackSurface, actor: str, words: list[str], rest: str) -> Answer:
    query = " ".join(words)
    if not query:
        raise UsageError("search")
    with surface.runtime.session_factory() as session:
        found = views_of(session, service.search_tickets(session, query=query), rules=surface.rules,
                         now=surface.clock())
    return _list(surface, t("slack.cmd.search", surface.lang, query=query, count=len(found)), found)


def _flow(action: str, count: int, call: Callable[[SlackSurface, str, list[str]], dict | None]) -> Verb:
    """A verb that runs a flow on the ticket named by the first word; `call` returns the
    parameters of the confirmation line."""
    def run(surface: SlackSurface, actor: str, words: list[str], rest: str) -> Answer:
        _need(words, count, action, surface)
        params = call(surface, actor, words) or {}
        return _done(surface, words[0], action, **params)
    return Verb(action, run)


def _rest(words: list[str], skip: int) -> str:
    return " ".join(words[skip:])


def _assign(s: SlackSurface, actor: str, w: list[str]) -> dict:
    assignee = _user_id(w[1], s)
    s.flows.assign(w[0], actor=actor, assignee=assignee)
    return {"who": f"<@{assignee}>"}


def _tag(s: SlackSurface, actor: str, w: list[str]) -> None:
    s.flows.tag(w[0], actor=actor, add=[x.lstrip("+") for x in w[1:] if not x.startswith("-")],
                remove=[x[1:] for x in w[1:] if x.startswith("-")])


def _escalate(s: SlackSurface, actor: str, w: list[str]) -> dict:
    s.flows.escalate(w[0], actor=actor, level=w[1].upper(), note=_rest(w, 2))
    return {"level": w[1].upper()}


VERBS: dict[str, Verb] = {
    "show": Verb(None, _show),
    "mine": Verb(None, _mine),
    "queue": Verb(None, _queue),
    "search": Verb(None, _search),
    "claim": _flow("claim", 1, lambda s, a, w: s.flows.claim(w[0], actor=a) and None),
    "release": _flow("release", 1, lambda s, a, w: s.flows.release(w[0], actor=a) and None),
    "assign": _flow("assign", 2, _assign),
    "tag": _flow("tag", 2, _tag),
    "priority": _flow("priority", 2, lambda s, a, w: s.flows.set_priority(w[0], actor=a, priority=w[1].lower())
                      and None),
    "escalate": _flow("escalate", 2, _escalate),
    "tier": _flow("tier", 2, lambda s, a, w: s.flows.set_customer_tier(w[0], actor=a, tier=w[1].lower())
                  and {"tier": w[1].lower()}),
    "pending": _flow("pending", 1, lambda s, a, w: s.flows.set_pending(w[0], actor=a) and None),
    "resolve": _flow("resolve", 1, lambda s, a, w: s.flows.resolve(w[0], actor=a, note=_rest(w, 1)) and None),
    "reopen": _flow("reopen", 1, lambda s, a, w: s.flows.reopen(w[0], actor=a, reason=_rest(w, 1)) and None),
    "note": _flow("note", 2, lambda s, a, w: s.flows.add_note(w[0], actor=a, text=_rest(w, 1)) and None),
}


def help_answer(surface: SlackSurface, problem: str | None = None) -> Answer:
    """Every subcommand with its usage, in the workspace language."""
    lines = [f"*{t('slack.cmd.help_title', surface.lang)}*"]
    lines += [f"`/ticket {t(f'slack.cmd.usage.{name}', surface.lang)}` — {t(f'slack.cmd.about.{name}', surface.lang)}"
              for name in (*VERBS, "help")]
    if problem:
        lines.insert(0, f":warning: {problem}")
    return Answer("\n".join(lines))


def answer(surface: SlackSurface, actor: str, text: str) -> Answer:
    """What `/ticket <text>` from `actor` answers (running the flow it asks for)."""
    words = text.split()
    if not words or words[0].lower() in ("help", "ヘルプ"):
        return help_answer(surface)
    verb = VERBS.get(words[0].lower())
    if verb is None:
        return help_answer(surface, t("slack.cmd.unknown", surface.lang, word=words[0]))
    if verb.action and not surface.may(actor, verb.action):
        return Answer(f":no_entry: {surface.refusal(verb.action)}")
    try:
        result = verb.run(surface, actor, words[1:], text)
    except UsageError as exc:
        return Answer(":warning: " + t("slack.cmd.usage_line", surface.lang,
                                      usage=f"/ticket {t(f'slack.cmd.usage.{exc.args[0]}', surface.lang)}"))
    except DomainError as exc:
        return Answer(surface.error_text(exc))
    if verb.action:
        surface.changed()
    return result


def register(app: App, surface: SlackSurface) -> None:
    """Attach `/ticket`."""
    @app.command(ids.TICKET_COMMAND)
    def ticket(ack, body):
        result = answer(surface, body["user_id"], body.get("text") or "")
        ack(response_type="ephemeral", text=result.text, blocks=result.blocks)
