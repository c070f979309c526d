"""Triage: which keyword rules a message matches, and the priority, level, channel it gets.

Per message the text is normalised once and goes through one keyword automaton (which
spells out the keywords of `kana: true` rules in katakana and hiragana, so the post itself
is kana-folded only for the regexes of such rules), and only the rules that a hit keyword
belongs to (plus the regex-only rules) are evaluated, against precomputed keyword-id sets.

Conditions of a rule all hold together: `any` (one keyword hits), `all` (every keyword hits),
`regex` (one pattern matches the normalised text, case-insensitively), no `exclude` keyword
hits, and the message's source and kind pass the `sources`/`kinds` filters.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from chatops.rules.fields import KINDS, SOURCES
from chatops.rules.matcher import KeywordMatcher
from chatops.rules.normalize import fold_kana, normalize
from chatops.rules.schema import KeywordRule, Rules
from chatops.rules.stages import AnalysisStages

_ROUTE_CACHE_LIMIT = 4096
# keyword id -> (position in any + all, keyword as written) of each way the rule writes it
_Spellings = dict[int, tuple[tuple[int, str], ...]]


@dataclass(slots=True)
class Triage:
    """The outcome of triaging one message."""

    matched: list[str]
    keywords: list[str]
    priority: str
    level: str
    tags: list[str]
    channel: str
    notify: list[str]
    stage: str = "keyword"  # keyword, lemma, examples or none: which stage decided
    reason: str = ""  # matched words, lemmas, or the examples score and n-grams
    intent: tuple[str, float] | None = None  # the examples classifier's (rule id, score), if it ran

    def to_dict(self) -> dict:
        """Return the triage as JSON-friendly data."""
        return {
            "matched": list(self.matched),
            "keywords": list(self.keywords),
            "priority": self.priority,
            "level": self.level,
            "tags": list(self.tags),
            "channel": self.channel,
            "notify": list(self.notify),
        }


@dataclass(slots=True, frozen=True)
class _CompiledRule:
    """A keyword rule reduced to keyword-id sets, compiled regexes and what it sets."""

    id: str
    kana: bool
    any_ids: frozenset[int]
    all_ids: frozenset[int]
    exclude_ids: frozenset[int]
    written: _Spellings
    regexes: tuple[tuple[str, re.Pattern[str]], ...]  # (text every match starts with, pattern)
    sources: frozenset[str]
    kinds: frozenset[str]
    priority: str  # the rule's, else the default one
    priority_rank: int  # -1 when the rule sets no priority
    level: str  # the rule's, else the default one
    level_rank: int  # -1 when the rule sets no level
    channel: str | None
    tags: tuple[str, ...]  # sorted, unique
    notify: tuple[str, ...]  # unique
    any_only: bool  # only `any` keywords: being a candidate (one of them hit) is matching

    def holds(self, hits: set[int], text: str, source: str, kind: str) -> bool:
        """Tell whether every condition of the rule holds for a message (cheapest checks first).

        text is normalised; a kana rule's regexes see it kana-folded too.
        """
        if (self.sources and source not in self.sources) or (self.kinds and kind not in self.kinds):
            return False
        if (self.any_ids and self.any_ids.isdisjoint(hits)) or not self.all_ids <= hits:
            return False
        if self.exclude_ids and not self.exclude_ids.isdisjoint(hits):
            return False
        if not self.regexes:
            return True
        if self.kana:
            text = fold_kana(text)
        for prefix, pattern in self.regexes:  # a loop: any(generator) costs more per post
            if prefix in text and pattern.search(text):
                return True
        return False

    def keywords_hit(self, hits: set[int]) -> list[str]:
        """Return the rule's keywords (as written) among hits, in the rule's own order."""
        found = [entry for keyword_id in hits for entry in self.written.get(keyword_id, ())]
        found.sort()
        return [word for _, word in found]


class _KeywordIds:
    """Assigns one id per distinct (normalisation variant, normalised keyword)."""

    def __init__(self) -> None:
        self._ids: dict[tuple[bool, str], int] = {}

    def ids(self, keywords: list[str], kana: bool) -> list[int]:
        """Return the ids of keywords normalised for the variant, registering new ones."""
        return [
            self._ids.setdefault((kana, normalize(keyword, kana).strip()), len(self._ids))
            for keyword in keywords
        ]

    @property
    def count(self) -> int:
        """How many ids were given out (they are 0 .. count - 1)."""
        return len(self._ids)

    def matcher(self) -> KeywordMatcher | None:
        """Build the automaton of every keyword; None if no keywords."""
        if not self._ids:
            return None
        return KeywordMatcher((keyword, keyword_id, kana) for (kana, keyword), keyword_id in self._ids.items())


class RulesEngine:
    """Compiled keyword rules and routing of one Rules object; triage() is pure and thread-safe."""

    def __init__(self, rules: Rules, *, lazy: bool = False, cache_dir: Path | None = None):
        """Compile the keyword rules of rules into an automaton and lookup tables.

        lazy leaves the lemma and examples stages unbuilt until a post needs them (a one-shot
        command); cache_dir keeps the fitted examples classifier between processes.
        """
        self.rules = rules
        ids = _KeywordIds()
        self._rules = [_compile(rule, ids, rules) for rule in rules.keyword_rules]
        # One automaton pass per message, over the plain normalised text (the matcher spells
        # out kana keywords); only regexes of kana rules need the kana-folded text.
        self._matcher = ids.matcher()
        rules_of_keyword: list[list[int]] = [[] for _ in range(ids.count)]
        for index, rule in enumerate(self._rules):
            for keyword_id in rule.any_ids | rule.all_ids:
                rules_of_keyword[keyword_id].append(index)
        self._rules_of_keyword = [tuple(indexes) for indexes in rules_of_keyword]
        self._regex_only_in_order = [
            index for index, rule in enumerate(self._rules)
            if not rule.any_ids and not rule.all_ids and rule.regexes  # lemma/examples-only rules wait
        ]
        self._regex_only = frozenset(self._regex_only_in_order)
        self._routes: dict[tuple[str, ...], str] = {}
        self._by_id = {rule.id: rule for rule in self._rules}
        # The lemma and examples stages: built here, or on the first post that reaches them when lazy.
        self._stages = AnalysisStages(rules, self._by_id, cache_dir=cache_dir)
        if not lazy:
            self._stages.build()
        self._min_scores = {
            rule.id: rule.examples_min_score if rule.examples_min_score is not None else rules.defaults.examples_min_score
            for rule in rules.keyword_rules
        }
        defaults = rules.defaults
        # The channel of a message no rule matches, per (source, kind); also validates both.
        self._unmatched_channels = {
            (source, kind): self._route(source, kind, defaults.priority, [])
            for source in SOURCES
            for kind in KINDS
        }

    def triage(self, text: str, source: str, kind: str) -> Triage:
        """Triage one message: matched rules, priority, level, tags, channel and who to notify."""
        unmatched_channel = self._unmatched_channels.get((source, kind))
        if unmatched_channel is None:
            raise ValueError(f"unknown source {source!r} or kind {kind!r}")
        plain_text = normalize(text)
        hits: set[int] = set()
        if self._matcher is not None:
            self._matcher.find(plain_text, hits)
        if hits:
            candidates = sorted(self._regex_only.union(*map(self._rules_of_keyword.__getitem__, hits)))
        else:
            candidates = self._regex_only_in_order
        matched = [
            rule
            for rule in map(self._rules.__getitem__, candidates)
            if rule.any_only or rule.holds(hits, plain_text, source, kind)
        ]
        if not matched:
            return self._analyse(text, plain_text, hits, source, kind, unmatched_channel, [])
        if all(rule.priority_rank < 0 for rule in matched) and self._stages.enabled:
            # Rules that only tag (praise, order number) leave the priority to the analysis stages:
            # "ありがとう" in a sarcastic complaint must not keep it green.
            return self._analyse(text, plain_text, hits, source, kind, unmatched_channel, matched)
        if len(matched) == 1:  # the common case, worth a shortcut: the rule's own outcome
            rule = matched[0]
            tags = list(rule.tags)
            channel = rule.channel or self._route(source, kind, rule.priority, tags)
            return Triage(
                [rule.id],
                rule.keywords_hit(hits),
                rule.priority,
                rule.level,
                tags,
                channel,
                list(rule.notify),
                "keyword",
                _keyword_reason(rule, hits),
            )
        return self._combine(matched, hits, source, kind)

    def _analyse(self, text: str, plain_text: str, hits: set[int], source: str, kind: str,
                 unmatched_channel: str, tagged: list[_CompiledRule]) -> Triage:
        """No keyword rule set a priority: try lemma rules, then the examples classifier, then defaults.

        tagged are the keyword rules that matched but set no priority; their tags are kept.
        """
        stages = self._stages
        terms = stages.terms(plain_text)

        def passes(rule: _CompiledRule) -> bool:
            return _passes_filters(rule, hits, source, kind)

        lemma_matched, found = stages.lemma_matches(plain_text, terms, passes)
        if lemma_matched and all(rule.priority_rank < 0 for rule in lemma_matched):
            tagged = tagged + lemma_matched  # tags only: the classifier may still raise the priority
        elif lemma_matched:
            triage = self._combine(tagged + lemma_matched, hits, source, kind)
            triage.keywords, triage.stage = list(dict.fromkeys(found)), "lemma"
            triage.reason = "lemmas=" + ",".join(triage.keywords) + _tag_reason(tagged, hits)
            return triage
        return self._classified(text, terms, passes, hits, source, kind, unmatched_channel, tagged)

    def _classified(self, text: str, terms: frozenset[str], passes, hits: set[int], source: str, kind: str,
                    unmatched_channel: str, tagged: list[_CompiledRule]) -> Triage:
        """The examples classifier's say, recorded as the triage's intent whether or not it decides."""
        pick = self._stages.classify(text, terms, passes)
        triage = self._by_examples(pick, hits, source, kind, unmatched_channel, tagged)
        if pick is not None:
            triage.intent = (pick.rule.id, pick.rule_score)
        return triage

    def _by_examples(self, pick, hits: set[int], source: str, kind: str, unmatched_channel: str,
                     tagged: list[_CompiledRule]) -> Triage:
        """The triage the examples' pick gives (tagged keep their tags), else the defaults."""
        defaults = self.rules.defaults
        reason = ""
        if pick is not None:
            reason, rule = pick.reason, pick.rule
            # A keyword already said what the post is (praise): overruling it takes the one
            # rule's own probability, not the priority's sum over several rules.
            score = pick.rule_score if tagged else pick.score
            # The classifier may only raise priority above the default, and only when sure enough.
            if score >= self._min_scores[rule.id] and rule.priority_rank >= 0:
                triage = self._combine(tagged + [rule], hits, source, kind)
                triage.keywords, triage.stage, triage.reason = [], "examples", reason + _tag_reason(tagged, hits)
                return triage
            if rule.priority_rank >= 0:
                reason += " (below examples_min_score)"
        if tagged:
            triage = self._combine(tagged, hits, source, kind)
            triage.reason += ("  " + reason) if reason else ""
            return triage
        return Triage([], [], defaults.priority, defaults.level, [], unmatched_channel, [], "none", reason)

    def _combine(self, matched: list[_CompiledRule], hits: set[int], source: str, kind: str) -> Triage:
        """Merge what the matched rules set, falling back to routing and defaults."""
        defaults = self.rules.defaults
        priority, level, channel = defaults.priority, defaults.level, None
        priority_rank, level_rank, channel_rank = -1, -1, -2
        tags: set[str] = set()
        notify: dict[str, None] = {}
        keywords: dict[str, None] = {}
        for rule in matched:  # strict '>' keeps the earlier rule on ties
            if rule.priority_rank > priority_rank:
                priority, priority_rank = rule.priority, rule.priority_rank
            if rule.level_rank > level_rank:
                level, level_rank = rule.level, rule.level_rank
            if rule.channel and rule.priority_rank > channel_rank:
                channel, channel_rank = rule.channel, rule.priority_rank
            tags.update(rule.tags)
            if rule.notify:
                notify.update(dict.fromkeys(rule.notify))
            if rule.written:
                keywords.update(dict.fromkeys(rule.keywords_hit(hits)))
        sorted_tags = sorted(tags)
        return Triage(
            stage="keyword",
            reason="keywords=" + ",".join(keywords),
            matched=[rule.id for rule in matched],
            keywords=list(keywords),
            priority=priority,
            level=level,
            tags=sorted_tags,
            channel=channel or self._route(source, kind, priority, sorted_tags),
            notify=list(notify),
        )

    def _route(self, source: str, kind: str, priority: str, tags: list[str]) -> str:
        """Return the channel of the first route that matches, else the default channel (cached)."""
        key = (source, kind, priority, *tags)
        channel = self._routes.get(key)
        if channel is None:
            channel = next(
                (
                    route.channel
                    for route in self.rules.routing
                    if route.matches(source, kind, priority, tags)
                ),
                self.rules.defaults.channel,
            )
            if len(self._routes) >= _ROUTE_CACHE_LIMIT:
                self._routes.clear()
            self._routes[key] = channel
        return channel


def _keyword_reason(rule: _CompiledRule, hits: set[int]) -> str:
    """What made a literal rule fire: its keywords, else its regex."""
    words = rule.keywords_hit(hits)
    return "keywords=" + ",".join(words) if words else "regex"


def _tag_reason(tagged: list[_CompiledRule], hits: set[int]) -> str:
    """The keywords of the tag-only rules a later stage decided over, so `rules test` shows them too."""
    words = dict.fromkeys(word for rule in tagged for word in rule.keywords_hit(hits))
    return "  keywords=" + ",".join(words) if words else ""


def _passes_filters(rule: _CompiledRule, hits: set[int], source: str, kind: str) -> bool:
    """Sources, kinds and exclude keywords, which hold for the lemma and examples stages too."""
    if (rule.sources and source not in rule.sources) or (rule.kinds and kind not in rule.kinds):
        return False
    return not (rule.exclude_ids and not rule.exclude_ids.isdisjoint(hits))


def _compile(rule: KeywordRule, ids: _KeywordIds, rules: Rules) -> _CompiledRule:
    """Reduce one rule to keyword ids (in its own normalisation variant), regexes and ranks."""
    any_ids, all_ids = ids.ids(rule.any_of, rule.kana), ids.ids(rule.all_of, rule.kana)
    actions, defaults = rule.actions, rules.defaults
    return _CompiledRule(
        id=rule.id,
        kana=rule.kana,
        any_ids=frozenset(any_ids),
        all_ids=frozenset(all_ids),
        exclude_ids=frozenset(ids.ids(rule.exclude, rule.kana)),
        written=_positions(rule.any_of + rule.all_of, any_ids + all_ids),
        regexes=tuple(_compile_regex(pattern) for pattern in rule.regex),
        sources=frozenset(rule.sources),
        kinds=frozenset(rule.kinds),
        priority=actions.priority or defaults.priority,
        priority_rank=rules.priorities[actions.priority].rank if actions.priority else -1,
        level=actions.level or defaults.level,
        level_rank=rules.levels[actions.level].rank if actions.level else -1,
        channel=actions.channel,
        tags=tuple(sorted(set(actions.tags))),
        notify=tuple(dict.fromkeys(actions.notify)),
        any_only=bool(any_ids) and not (all_ids or rule.exclude or rule.regex or rule.sources or rule.kinds),
    )


def _compile_regex(pattern: str) -> tuple[str, re.Pattern[str]]:
    """Compile a rule regex, with the literal text every match starts with ("" if unknown).

    The text is casefolded, so only patterns with capitals need IGNORECASE.
    """
    # IGNORECASE costs about 3x on non-ASCII text; on casefolded text it only changes patterns
    # that contain capital letters (and the Turkish dotless ı, which nobody puts in a rule).
    if pattern != pattern.lower():
        return "", re.compile(pattern, re.IGNORECASE)
    return _literal_prefix(pattern), re.compile(pattern)


def _literal_prefix(pattern: str) -> str:
    """The plain characters a pattern without alternatives starts with, minus one a quantifier follows.

    `prefix in text` (str's fast search) rules most posts out for a fraction of what `re`
    spends scanning for the same prefix: 5,000 of 72,000 instructions per post on the bench's
    order-number rule.
    """
    prefix = _PLAIN_START.match(pattern).group()
    if not prefix or _has_top_level_alternative(pattern):
        return ""
    if len(prefix) < len(pattern) and pattern[len(prefix)] in "*+?{":
        prefix = prefix[:-1]
    return prefix


def _has_top_level_alternative(pattern: str) -> bool:
    """Tell whether a | outside any group and character set splits the pattern."""
    depth, set_start, escaped = 0, -1, False  # set_start: index of the open [ while inside a set
    for index, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif set_start >= 0:
            # "]" right after "[" or "[^" is a member, not the end of the set
            if char == "]" and index > set_start + 1 and pattern[set_start + 1 : index] != "^":
                set_start = -1
        elif char == "[":
            set_start = index
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
    return False


# Characters that stand for themselves in a pattern (no metacharacter, escape or group).
_PLAIN_START = re.compile(r"[^.^$*+?{}\[\]\\|()]*")


def _positions(keywords: list[str], keyword_ids: list[int]) -> _Spellings:
    """Map each keyword id to the (position, keyword as written) of its spellings, each spelling once."""
    positions: dict[int, list[tuple[int, str]]] = {}
    for position, (keyword, keyword_id) in enumerate(zip(keywords, keyword_ids, strict=True)):
        if keyword not in keywords[:position]:
            positions.setdefault(keyword_id, []).append((position, keyword))
    return {keyword_id: tuple(entries) for keyword_id, entries in positions.items()}
