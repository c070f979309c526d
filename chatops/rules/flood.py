"""The `flood:` section of rules.yaml (炎上): when mentions about one post or one topic spike,
one incident ticket collects them. Shapes only; counting and incidents are in
`chatops.tickets.flood`.

A flood key is either one post (the conversation a reply belongs to, or the post it answers)
or one topic (a keyword rule listed in `topics` matched). A key floods when, within `window`,
it has at least `min_messages` messages from at least `min_authors` different people and at
least `min_negative_share` of them are negative (their triage tags include one of
`negative_tags`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from chatops.rules.fields import ChannelName, Duration, Identifier, PriorityName, Tag, parse_duration
from chatops.rules.problems import RulesProblem


def _seconds_or_duration(value: object) -> timedelta:
    """'45s' as seconds, anything else as a rules.yaml duration ('10m', '1h')."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d+s\s*", value):
        seconds = int(value.strip()[:-1])
        if seconds <= 0:
            raise RulesProblem("zero_duration", value=value)
        return timedelta(seconds=seconds)
    return parse_duration(value)


ShortDuration = Annotated[timedelta, BeforeValidator(_seconds_or_duration)]


class FloodConfig(BaseModel):
    """Thresholds of a flood and what an incident does (raise, page, channel, digest pace)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    window: Duration = timedelta(minutes=10)
    min_messages: int = Field(30, ge=2, le=100_000)
    min_authors: int = Field(10, ge=1, le=100_000)
    min_negative_share: float = Field(0.5, ge=0, le=1)
    negative_tags: list[Tag] = []
    # Also negative: a post with a word of the bundled ja/en negativity lexicon (chatops.rules.sentiment).
    negative_words: bool = False
    # Keyword rules whose matches from different conversations count as one topic.
    topics: list[Identifier] = []
    posts: bool = True  # count replies to one post / one conversation as one key
    priority: PriorityName = "red"
    page: Identifier | None = None  # an oncall policy; None: the paging rule of `priority`
    paging: bool = True
    channel: ChannelName | None = None  # where a topic incident's thread goes (default: triage's)
    digest_every: ShortDuration = timedelta(seconds=30)  # thread digest lines at most this often

    @model_validator(mode="after")
    def _sane(self) -> FloodConfig:
        if self.window < timedelta(seconds=10):
            raise RulesProblem("short_window")
        if self.min_authors > self.min_messages:
            raise RulesProblem("authors_over_messages")
        if self.digest_every < timedelta(seconds=5):
            raise RulesProblem("short_digest")
        return self

    @property
    def active(self) -> bool:
        """True when floods are detected at all."""
        return self.enabled and (self.posts or bool(self.topics))
