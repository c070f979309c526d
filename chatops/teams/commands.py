"""What a team types to chatops in Teams (an @mention through the bot or the outgoing webhook, or
a personal chat with the bot): `ticket …` with every Slack `/ticket` verb (`ticket claim T-12`,
`ticket queue`, `ticket show T-12`, …; the word `ticket` may be left out), `oncall …`,
`stats 7d` and `help`. The command layer (`chatops.commands`) parses and runs them; this module
renders its results as Teams markdown in the sender's language, tickets from their TicketView."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import datetime

from chatops import commands
from chatops.errors import DomainError
from chatops.i18n import t
from chatops.oncall import commands as oncall_commands
from chatops.teams.cards import facts, header, who
from chatops.teams.surface import TeamsSurface
from chatops.teams.text import escape, link
from chatops.views import TicketView, views_of

_MENTION = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
# A person @mentioned inside a command, kept as one word (`@Sato_Hanako`) for `assign`.
_MENTIONED = "\x00"
# On Teams `oncall` reports and settles pages; any other word answers who is on call.
_ONCALL_VERBS = ("schedule", "pages", "ack", "resolve")
# The words a message may start with: the commands the app package lists for every scope.
TOP_WORDS = ("ticket", "oncall", "stats", "help")
ROW_TEXT = 80  # characters of the customer's words in a list row
SHOW_TEXT = 500  # and in `show`


class UnknownPerson(DomainError):
    """`assign` named someone rules.yaml `teams.people` does not list."""

    key = "teams.cmd.unknown_person"


def plain_text(activity_text: str) -> str:
    """The command in a message: HTML and entities removed, the leading `<at>Bot</at>` mentions
    dropped and any later mention kept as one `@Name` word."""
    def mentioned(match: re.Match) -> str:
        name = html.unescape(_TAG.sub(" ", match.group(1))).replace("\xa0", " ")
        return f" {_MENTIONED}{'_'.join(name.split())} "

    text = _MENTION.sub(mentioned, activity_text or "")
    words = html.unescape(_TAG.sub(" ", text)).replace("\xa0", " ").split()
    while words and words[0].startswith(_MENTIONED):
        words.pop(0)
    return " ".join(word.replace(_MENTIONED, "@") for word in words if word)


def all_verbs() -> tuple[str, ...]:
    """What the help lists, in order."""
    return (*commands.verbs_of("teams"), "oncall", "stats", "help")


def help_text(lang: str, problem: str | None = None) -> str:
    """Every verb with its usage."""
    lines = [t("teams.cmd.help_title", lang)]
    lines += [f"- `{t(f'teams.cmd.usage.{name}', lang)}` — {t(f'teams.cmd.about.{name}', lang)}"
              for name in all_verbs()]
    if problem:
        lines.insert(0, f"⚠️ {problem}")
    return "\n".join(lines)


def _when(value: datetime, surface: TeamsSurface) -> str:
    return value.astimezone(surface.rules.business_hours.tz).strftime("%Y-%m-%d %H:%M")


def ticket_row(view: TicketView, surface: TeamsSurface, lang: str) -> str:
    """One list line: priority, key, level, status, assignee, the live SLA due time and state
    (as the view has them) and the start of the customer's words."""
    rules = surface.rules
    parts = [f"**{header(view, rules, lang)}**", t(f"teams.status.{view.status}", lang),
             who(view.assignee, rules, lang)]
    if view.due is not None:
        parts.append(t("teams.cmd.due", lang, when=_when(view.sla.due_at, surface),
                       state=t(f"sla.state.{view.sla.state}", lang)))
    words = " ".join(view.text.split())
    words = words if len(words) <= ROW_TEXT else words[:ROW_TEXT - 1] + "…"
    return f"- {' · '.join(parts)} — {escape(view.customer.label)}: {escape(words)}"


def ticket_detail(view: TicketView, surface: TeamsSurface, lang: str) -> str:
    """`show`: the header, the customer's words, the card's facts (SLA due and state from the
    view) and a link to the post."""
    rules = surface.rules
    words = " ".join(view.text.split())
    words = words if len(words) <= SHOW_TEXT else words[:SHOW_TEXT - 1] + "…"
    lines = [f"**{header(view, rules, lang)}**", f"> {escape(words)}"]
    lines += [f"- **{title}**: {value}" for title, value in facts(view, rules, lang)]
    if view.url:
        lines.append(link(view.url, t("teams.button.open", lang)))
    return "\n".join(lines)


def render(surface: TeamsSurface, result: commands.Result, lang: str) -> str:
    """A command result as Teams markdown in `lang`."""
    if result.kind == "help":
        word = str(result.params.get("word", "")).lower()
        return help_text(lang, t("teams.cmd.unknown", lang, word=escape(word)) if result.key else None)
    if result.kind == "error":
        if result.error is not None:
            return f"⚠️ {surface.error_text(result.error, lang)}"
        if result.key == "not_mapped":
            return "⛔ " + t("teams.not_mapped", lang)
        if result.key == "refused":
            return f"⛔ {surface.refusal(result.params['action'], lang)}"
        verb = result.params["verb"]
        return "⚠️ " + t("teams.cmd.usage_line", lang, usage=t(f"teams.cmd.usage.{verb}", lang))
    if result.kind == "ticket":
        return ticket_detail(result.tickets[0], surface, lang)
    if result.kind == "list":
        params = {name: escape(str(value)) for name, value in result.params.items()}
        rows = [ticket_row(view, surface, lang) for view in result.tickets] or [t("teams.cmd.empty", lang)]
        return "\n".join([f"**{t(f'teams.{result.key}', lang, **params)}**", *rows])
    params = {name: who(str(value), surface.rules, lang) if name in result.people else value
              for name, value in result.params.items()}
    return "✅ " + t(f"teams.{result.key}", lang, **params)


def _person(surface: TeamsSurface):
    """How `assign` reads the person a Teams command names: a sign-in e-mail, an @mention (their
    `name`) or a user id listed under rules.yaml `teams.people`, else a Slack-style user id."""
    def user(word: str) -> str:
        wanted = word.lstrip("@").replace("_", " ").casefold()
        for person in surface.rules.teams.people:
            if wanted in {value.casefold() for value in (person.user, person.upn, person.name) if value}:
                return person.user
        try:
            return commands.user_id(word)
        except DomainError:
            raise UnknownPerson(word=escape(word)) from None
    return user


def _desk(surface: TeamsSurface, lang: str) -> commands.Desk:
    """The surface's desk, with tickets built as their TicketViews at the desk's clock."""
    desk = surface.desk(lang)

    def rows(session, tickets) -> list[TicketView]:
        return views_of(session, tickets, rules=surface.rules, now=desk.now())

    def view(session, ticket) -> TicketView:
        return views_of(session, [ticket], rules=surface.rules, now=desk.now())[0]

    return replace(desk, summaries=rows, detail=view, user=_person(surface))


def answer(surface: TeamsSurface, actor: str | None, text: str, lang: str) -> str:
    """What chatops answers to `text` from `actor` (a rules.yaml user id, None when the Teams
    identity is not mapped), running the flow the text asks for."""
    words = plain_text(text).split()
    if words and words[0].lower() == "ticket":
        words = words[1:]
    name = words[0].lower() if words else ""
    if name == "oncall":
        return oncall_text(surface, actor, words[1:], lang)
    if name == "stats":
        return _stats(surface, actor, words[1:], lang)
    result = commands.run(_desk(surface, lang), commands.parse(" ".join(words), surface="teams"), actor=actor)
    if result.changed:
        surface.changed()
    return render(surface, result, lang)


def oncall_text(surface: TeamsSurface, actor: str | None, words: list[str], lang: str) -> str:
    """`oncall …`: `schedule [name]`, `pages`, `ack REF`, `resolve REF`, else who is on call;
    people are shown as their rules.yaml ids."""
    verb = words[0].lower() if words else "who"
    settles = verb in ("ack", "resolve")
    if verb not in _ONCALL_VERBS or (settles and (len(words) != 2 or actor is None)):
        words = ["who"]
    desk = surface.desk(lang)
    result = oncall_commands.run_oncall(desk, oncall_commands.parse_oncall(" ".join(words)), actor=actor)
    if result.changed:
        surface.changed()
    if result.error is not None:
        return f"⚠️ {surface.error_text(result.error, lang)}"
    text = "\n".join(oncall_commands.oncall_lines(result, lang))
    return text.replace("*", "") if result.verb == "who" else text


def _stats(surface: TeamsSurface, actor: str | None, words: list[str], lang: str) -> str:
    if actor is None:
        return "⛔ " + t("teams.not_mapped", lang)
    if not surface.may(actor, "stats"):
        return "⛔ " + surface.refusal("stats", lang)
    from chatops.stats.format import text_answer

    return text_answer(surface, actor, words, lang)
