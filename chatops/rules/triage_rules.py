"""The triage sections of rules.yaml: defaults, keyword rules (keywords, lemmas, examples) and routing."""

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from chatops.rules.fields import (
    ChannelName,
    Identifier,
    Keyword,
    Kind,
    Language,
    LevelName,
    PriorityName,
    Recipient,
    Regex,
    Source,
    Tag,
)
from chatops.rules.problems import RulesProblem
from chatops.rules.section import Localized, Section


class Defaults(Section):
    """What a message gets when no rule says otherwise."""

    priority: PriorityName = "green"
    level: LevelName = "L1"
    channel: ChannelName
    language: Language = "ja"
    # The examples classifier decides only at this probability or above (a rule may ask more).
    examples_min_score: float = Field(0.45, ge=0.0, le=1.0)


def _check_lemma(value: str) -> str:
    """A lemma term: a dictionary form, optionally prefixed with `not:` for its negated forms."""
    body = value.strip().removeprefix("not:").strip()
    if not body:
        raise RulesProblem("empty_lemma")
    if any(char.isspace() for char in body) and not body.isascii():
        raise RulesProblem("lemma_spaces", value=value)
    if body.endswith(("ない", "ません", "なかった")):
        raise RulesProblem("lemma_negated", value=value)
    return value


def _check_example(value: str) -> str:
    """An example post: some real text."""
    if len(value.strip()) < 2:
        raise RulesProblem("short_example", value=value)
    return value


Lemma = Annotated[str, AfterValidator(_check_lemma)]
Example = Annotated[str, AfterValidator(_check_example)]


class RuleActions(Section):
    """What a matching keyword rule sets on the ticket (the `set:` block)."""

    priority: PriorityName | None = None
    level: LevelName | None = None
    tags: list[Tag] = []
    channel: ChannelName | None = None
    notify: list[Recipient] = []


class KeywordRule(Section):
    """One triage rule: keyword/regex conditions, optional filters, and what it sets."""

    id: Identifier
    description: Localized | None = None
    any_of: list[Keyword] = Field([], alias="any")
    all_of: list[Keyword] = Field([], alias="all")
    regex: list[Regex] = []
    exclude: list[Keyword] = []
    sources: list[Source] = []
    kinds: list[Kind] = []
    kana: bool = False
    # Dictionary forms matched after morphological analysis (not:届く = 届かない, 届いていない).
    lemmas: list[Lemma] = []
    # Posts the team writes; the examples classifier learns the rule from them.
    examples: list[Example] = []
    examples_min_score: float | None = Field(None, ge=0.0, le=1.0)
    actions: RuleActions = Field(RuleActions(), alias="set")
    # Canned replies (ids of canned_replies) the Reply modal suggests first for a post this rule matched.
    replies: list[Identifier] = []

    @model_validator(mode="after")
    def _has_a_condition(self) -> "KeywordRule":
        if not (self.any_of or self.all_of or self.regex or self.lemmas or self.examples):
            raise RulesProblem("no_condition")
        if self.examples and len(self.examples) < 3:
            raise RulesProblem("few_examples")
        if len(set(self.examples)) != len(self.examples):
            raise RulesProblem("repeated_example")
        return self


class Route(Section):
    """A routing entry: the first one whose conditions all hold picks the channel."""

    description: Localized | None = None
    sources: list[Source] = []
    kinds: list[Kind] = []
    priorities: list[PriorityName] = []
    tags: list[Tag] = []  # the ticket has at least one of these
    channel: ChannelName

    def matches(self, source: str, kind: str, priority: str, tags: list[str]) -> bool:
        """Tell whether a message with these attributes takes this route."""
        return (
            (not self.sources or source in self.sources)
            and (not self.kinds or kind in self.kinds)
            and (not self.priorities or priority in self.priorities)
            and (not self.tags or not set(self.tags).isdisjoint(tags))
        )
