"""Suggested answers: which canned replies fit a ticket, and why (pure, over Rules).

A keyword rule lists the canned replies that answer what it recognises (`replies:`). A ticket's
suggestions come from, in this order: the rules it matched (stored as `matched_rules`), the
rules that set one of its tags (a tag a person added counts too), and the examples
classifier's likeliest rule when triage computed one. Each canned reply is suggested once,
with the first reason found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from chatops.i18n import t
from chatops.rules.schema import CannedReply, Rules


@dataclass(slots=True, frozen=True)
class Suggestion:
    """One suggested canned reply and the reason it fits: a rule, a tag or the examples score."""

    canned_id: str
    reason: Literal["rule", "tag", "examples"]
    rule: str
    tag: str | None = None
    score: float | None = None

    def describe(self, lang: str | None) -> str:
        """The reason as a person reads it, in `lang`."""
        return t(f"rules.suggest.{self.reason}", lang, rule=self.rule, tag=self.tag, score=self.score or 0.0)

    def to_dict(self) -> dict:
        """The suggestion as JSON-friendly data."""
        data: dict = {"canned_id": self.canned_id, "reason": self.reason, "rule": self.rule}
        if self.tag is not None:
            data["tag"] = self.tag
        if self.score is not None:
            data["score"] = round(self.score, 2)
        return data


def suggest(rules: Rules, *, matched_rules: Iterable[str] = (), tags: Iterable[str] = (),
            intent: tuple[str, float] | None = None) -> list[Suggestion]:
    """The canned replies that fit a ticket, best first: by matched rule, then tag, then intent.

    intent is the examples classifier's (rule id, score) when triage computed one.
    """
    by_id = {rule.id: rule for rule in rules.keyword_rules if rule.replies}
    found: dict[str, Suggestion] = {}

    def add(rule_id: str, reason, **detail) -> None:
        for canned_id in by_id[rule_id].replies:
            found.setdefault(canned_id, Suggestion(canned_id, reason, rule_id, **detail))

    matched = [rule_id for rule_id in dict.fromkeys(matched_rules) if rule_id in by_id]
    for rule_id in matched:
        if intent is not None and intent[0] == rule_id:
            add(rule_id, "examples", score=intent[1])  # the classifier is why the rule matched
        else:
            add(rule_id, "rule")
    for tag in dict.fromkeys(tags):
        for rule in by_id.values():
            if tag in rule.actions.tags:
                add(rule.id, "tag", tag=tag)
    if intent is not None and intent[0] in by_id:
        add(intent[0], "examples", score=intent[1])
    return list(found.values())


def suggestions_for(rules: Rules, ticket) -> list[Suggestion]:
    """The suggestions of a stored ticket (a TicketView or TicketBrief: its matched_rules and tags)."""
    return suggest(rules, matched_rules=ticket.matched_rules, tags=ticket.tags)


def ordered_replies(rules: Rules, suggestions: list[Suggestion]) -> list[tuple[CannedReply, Suggestion | None]]:
    """Every canned reply once: the suggested ones first (with their suggestion), then the rest."""
    replies = {reply.id: reply for reply in rules.canned_replies}
    first = [(replies[s.canned_id], s) for s in suggestions if s.canned_id in replies]
    shown = {s.canned_id for s in suggestions}
    return first + [(reply, None) for reply in rules.canned_replies if reply.id not in shown]
