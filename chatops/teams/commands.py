"""Verbs a team types when it @mentions the bot (Teams outgoing webhook), the Slack `/ticket`
verbs Teams offers: `claim T-12`, `release T-12`, `escalate T-12 L2 note`, `pending T-12`,
`resolve T-12 note`, `reopen T-12 reason`, and `oncall`, `stats 7d`, `help`. The command layer
(`chatops.commands`) parses and runs them; this module renders its results as plain text in
the sender's language."""

from __future__ import annotations

import html
import re

from chatops import commands
from chatops.i18n import t
from chatops.oncall import commands as oncall_commands
from chatops.teams.surface import TeamsSurface

_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
# On Teams `oncall` reports and settles pages; any other word answers who is on call.
_ONCALL_VERBS = ("schedule", "pages", "ack", "resolve")


def plain_text(activity_text: str) -> str:
    """The command in a message: `<at>Bot</at>` mentions, HTML and entities removed."""
    text = _MENTION.sub(" ", activity_text or "")
    text = html.unescape(_TAG.sub(" ", text)).replace("\xa0", " ")
    return " ".join(text.split())


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


def render(surface: TeamsSurface, result: commands.Result, lang: str) -> str:
    """A command result as Teams plain text (markdown) in `lang`."""
    if result.kind == "help":
        word = str(result.params.get("word", "")).lower()
        return help_text(lang, t("teams.cmd.unknown", lang, word=word) if result.key else None)
    if result.kind == "error":
        if result.error is not None:
            return f"⚠️ {surface.error_text(result.error, lang)}"
        if result.key == "not_mapped":
            return "⛔ " + t("teams.not_mapped", lang)
        if result.key == "refused":
            return f"⛔ {surface.refusal(result.params['action'], lang)}"
        verb = result.params["verb"]
        return "⚠️ " + t("teams.cmd.usage_line", lang, usage=t(f"teams.cmd.usage.{verb}", lang))
    return "✅ " + t(f"teams.{result.key}", lang, **result.params)


def answer(surface: TeamsSurface, actor: str | None, text: str, lang: str) -> str:
    """What the bot answers to `text` from `actor` (a rules.yaml user id, None when the Teams
    identity is not mapped), running the flow the text asks for."""
    words = plain_text(text).split()
    name = words[0].lower() if words else ""
    if name == "oncall":
        return oncall_text(surface, actor, words[1:], lang)
    if name == "stats":
        return _stats(surface, actor, words[1:], lang)
    result = commands.run(surface.desk(lang), commands.parse(" ".join(words), surface="teams"), actor=actor)
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
