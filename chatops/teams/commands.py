"""Verbs a team types when it @mentions the bot (Teams outgoing webhook), the same as the Slack
`/ticket` verbs: `claim T-12`, `release T-12`, `escalate T-12 L2 note`, `pending T-12`, `resolve T-12 note`,
`reopen T-12 reason`, `oncall`, `stats 7d`, `help`. Answers are plain text in the sender's language."""

from __future__ import annotations

import html
import importlib.util
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from chatops.errors import DomainError
from chatops.i18n import t
from chatops.teams.surface import TeamsSurface

log = logging.getLogger("chatops.teams")

_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")

# Verbs answered by modules other issues build (`chatops.oncall`, `chatops.stats`). Until such
# a module exists the verb says it is not available yet; once it does, the lead registers a
# handler here: (surface, actor user id or None, words, lang) -> answer text.
Provider = Callable[[TeamsSurface, str | None, list[str], str], str]
PROVIDERS: dict[str, Provider | None] = {"oncall": None, "stats": None}


def _provider(module: str, name: str) -> Provider:
    """A plain-text answer from another part of chatops, imported when first used."""
    def run(surface, actor, words, lang):
        return getattr(importlib.import_module(module), name)(surface, actor, words, lang)
    return run


PROVIDERS.update(oncall=_provider("chatops.oncall.report", "text_answer"),
                 stats=_provider("chatops.stats.format", "text_answer"))
_PROVIDER_MODULE = {"oncall": "chatops.oncall", "stats": "chatops.stats"}
_PROVIDER_PERMISSION = {"stats": "stats"}


def plain_text(activity_text: str) -> str:
    """The command in a message: `<at>Bot</at>` mentions, HTML and entities removed."""
    text = _MENTION.sub(" ", activity_text or "")
    text = html.unescape(_TAG.sub(" ", text)).replace("\xa0", " ")
    return " ".join(text.split())


class UsageError(Exception):
    """The words don't fit the verb's usage line."""


@dataclass(frozen=True)
class Verb:
    """A verb: the permission it needs, how many words it needs, and the flow it runs."""

    action: str
    count: int
    run: Callable[[TeamsSurface, str, list[str]], dict | None]


def _rest(words: list[str], skip: int) -> str:
    return " ".join(words[skip:])


def _escalate(s: TeamsSurface, actor: str, w: list[str]) -> dict:
    s.flows.escalate(w[0], actor=actor, level=w[1].upper(), note=_rest(w, 2))
    return {"level": w[1].upper()}


VERBS: dict[str, Verb] = {
    "claim": Verb("claim", 1, lambda s, a, w: s.flows.claim(w[0], actor=a) and None),
    "release": Verb("release", 1, lambda s, a, w: s.flows.release(w[0], actor=a) and None),
    "escalate": Verb("escalate", 2, _escalate),
    "pending": Verb("pending", 1, lambda s, a, w: s.flows.set_pending(w[0], actor=a) and None),
    "resolve": Verb("resolve", 1, lambda s, a, w: s.flows.resolve(w[0], actor=a, note=_rest(w, 1)) and None),
    "reopen": Verb("reopen", 1, lambda s, a, w: s.flows.reopen(w[0], actor=a, reason=_rest(w, 1)) and None),
}
ALL_VERBS = (*VERBS, *PROVIDERS, "help")


def help_text(lang: str, problem: str | None = None) -> str:
    """Every verb with its usage."""
    lines = [t("teams.cmd.help_title", lang)]
    lines += [f"- `{t(f'teams.cmd.usage.{name}', lang)}` — {t(f'teams.cmd.about.{name}', lang)}"
              for name in ALL_VERBS]
    if problem:
        lines.insert(0, f"⚠️ {problem}")
    return "\n".join(lines)


def answer(surface: TeamsSurface, actor: str | None, text: str, lang: str) -> str:
    """What the bot answers to `text` from `actor` (a rules.yaml user id, None when the Teams
    identity is not mapped), running the flow the text asks for."""
    words = plain_text(text).split()
    if not words or words[0].lower() in ("help", "ヘルプ"):
        return help_text(lang)
    name, words = words[0].lower(), words[1:]
    if name in PROVIDERS:
        return _provided(surface, name, actor, words, lang)
    verb = VERBS.get(name)
    if verb is None:
        return help_text(lang, t("teams.cmd.unknown", lang, word=name))
    if actor is None:
        return "⛔ " + t("teams.not_mapped", lang)
    if not surface.may(actor, verb.action):
        return f"⛔ {surface.refusal(verb.action, lang)}"
    if len(words) < verb.count:
        return "⚠️ " + t("teams.cmd.usage_line", lang, usage=t(f"teams.cmd.usage.{name}", lang))
    try:
        params = verb.run(surface, actor, words) or {}
    except DomainError as exc:
        return f"⚠️ {surface.error_text(exc, lang)}"
    surface.changed()
    return "✅ " + t(f"teams.cmd.done.{name}", lang, key=words[0].upper(), **params)


def _provided(surface: TeamsSurface, name: str, actor: str | None, words: list[str], lang: str) -> str:
    permission = _PROVIDER_PERMISSION.get(name)
    if permission and (actor is None or not surface.may(actor, permission)):
        return "⛔ " + (surface.refusal(permission, lang) if actor else t("teams.not_mapped", lang))
    handler = PROVIDERS.get(name)
    if handler is None or importlib.util.find_spec(_PROVIDER_MODULE[name]) is None:
        return "ℹ️ " + t(f"teams.cmd.unavailable.{name}", lang)
    return handler(surface, actor, words, lang)
