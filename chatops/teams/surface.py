"""What the Teams endpoints share: flows, rules, who a Teams person is, roles, language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chatops.commands import Desk
from chatops.errors import DomainError
from chatops.i18n import LANGUAGES, t
from chatops.rules.schema import TeamsPerson
from chatops.runtime import Runtime
from chatops.teams.cards import who


def language_of(locale: str | None, default: str) -> str:
    """ja or en from a Teams/browser locale like `ja-JP`; `default` for anything else."""
    lang = (locale or "").split("-")[0].split("_")[0].lower()
    return lang if lang in LANGUAGES else default


@dataclass
class TeamsSurface:
    """The Teams side's view of the runtime."""

    runtime: Runtime
    wake: Callable[[], None] = lambda: None

    @property
    def rules(self):
        """The loaded rules.yaml."""
        return self.runtime.rules

    @property
    def flows(self):
        """Ticket flows."""
        return self.runtime.flows

    @property
    def lang(self) -> str:
        """The team language set in rules.yaml (`defaults.language`)."""
        return self.rules.defaults.language

    def person(self, *, aad: str | None = None, upn: str | None = None) -> TeamsPerson | None:
        """The rules.yaml `teams.people` entry for a Teams identity, if any."""
        return self.rules.teams.person(aad=aad, upn=upn)

    def desk(self, lang: str) -> Desk:
        """The command layer's desk, people in report lines shown as their rules.yaml ids."""
        return Desk(self.runtime, lang=lang)

    def may(self, user_id: str, action: str) -> bool:
        """Whether `user_id` holds a role that rules.yaml allows to do `action`."""
        return self.rules.may(user_id, action)

    def refusal(self, action: str, lang: str) -> str:
        """'You need the X role to …' in `lang`."""
        return self.rules.refusal(action, lang)

    def error_text(self, exc: DomainError, lang: str) -> str:
        """A domain error in `lang`, people shown by their Teams names when known."""
        params = {name: who(str(value), self.rules, lang) if name == "by" else value
                  for name, value in exc.params.items()}
        return t(exc.key, lang, **params)

    def changed(self) -> None:
        """A flow committed outbox rows: let the worker deliver them now."""
        self.wake()
