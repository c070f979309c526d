"""The `moderation:` section of rules.yaml: spam or abuse words on Facebook and Instagram comments
hide the comment on the network (through the outbox), then either store it without a ticket or
tag the ticket. Shapes only; matching and the hide are in `chatops.tickets.moderation`."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from chatops.rules.fields import Identifier, Keyword, Regex, Tag
from chatops.rules.problems import RulesProblem
from chatops.rules.section import Section

# Networks whose comments chatops can hide; only these are screened.
MODERATED_NETWORKS = ("facebook", "instagram")


class ModerationRule(Section):
    """One screen: words (`any_of`) or patterns (`regex`) that make a comment spam or abuse."""

    id: Identifier
    any_of: list[Keyword] = []
    regex: list[Regex] = []
    kana: bool = False  # also match the other kana spelling (ログイン / ろぐいん)
    networks: list[Literal["facebook", "instagram"]] = list(MODERATED_NETWORKS)
    action: Literal["hide"] = "hide"
    then: Literal["store", "tag"] = "tag"  # store: no ticket opens; tag: the ticket opens, tagged
    tag: Tag = "spam"

    @model_validator(mode="after")
    def _something_to_match(self) -> ModerationRule:
        if not (self.any_of or self.regex):
            raise RulesProblem("moderation_empty", rule=self.id)
        return self


class ModerationConfig(Section):
    """The screens, tried in order; the first that matches decides."""

    rules: list[ModerationRule] = []
