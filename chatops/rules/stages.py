"""The analysis stages of triage, lemma rules and the examples classifier, built on first use.

Building them is what costs: the morphological analyser's dictionary, the English lemmatiser's
tables, and fitting the classifier (scikit-learn, about a second to import). A rules file with
no `lemmas:` or `examples:` never builds them, and an engine asked to be lazy builds them only
when a post reaches them, so `rules test` on a post a keyword decides imports none of it.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatops.rules.examples import ExamplesClassifier
    from chatops.rules.schema import Rules

_LATIN = re.compile("[a-z]")
# How much of a priority's chance share (its rules / all example rules) the examples score loses.
_CHANCE_DISCOUNT = 0.3


@dataclass(slots=True, frozen=True)
class Pick:
    """The examples classifier's choice: a rule, the score its priority got, and why."""

    rule: Any  # the engine's compiled rule
    score: float  # the priority's probability (its rules summed) less its chance share
    rule_score: float  # the rule's own probability, to the two decimals the reason prints
    reason: str  # examples=RULE score=… (rule …) ngrams=…


@dataclass(slots=True, frozen=True)
class _Examples:
    classifier: ExamplesClassifier
    class_rules: list[tuple[Any, int]]  # per class: its rule and the rank of the priority it gives
    rank_shares: dict[int, float]  # per rank: its share of the classes


class AnalysisStages:
    """The lemma and examples stages of one Rules object; thread-safe, built once."""

    def __init__(self, rules: Rules, compiled: dict[str, Any], *, cache_dir: Path | None = None):
        """Note what rules ask for; compiled maps a rule id to the engine's compiled rule.

        cache_dir keeps fitted classifiers between processes (None: fit in every process).
        """
        self._rules, self._compiled, self._cache_dir = rules, compiled, cache_dir
        self._lemma_specs = [(rule.id, tuple(rule.lemmas)) for rule in rules.keyword_rules if rule.lemmas]
        self._examples = tuple((rule.id, text) for rule in rules.keyword_rules for text in rule.examples)
        self.has_lemmas = bool(self._lemma_specs)
        self.has_examples = len({rule_id for rule_id, _ in self._examples}) >= 2
        self.enabled = self.has_lemmas or self.has_examples
        self._lock = threading.Lock()
        self._built: dict[str, Any] = {}

    def build(self) -> None:
        """Build every stage now (a server pays it at start, not on its first post)."""
        if self.has_lemmas:
            self._lemma_rules_for("native")
            self._lemma_rules_for("english")
        if self.has_examples:
            self._examples_stage()

    def _once(self, name: str, make):
        """The part `name`, made by make() on first use (once, whichever thread asks first)."""
        part = self._built.get(name)
        if part is None:
            with self._lock:
                part = self._built.get(name)
                if part is None:
                    part = self._built[name] = make()
        return part

    def _lemma_rules_for(self, scope: str) -> list[tuple[Any, frozenset[str]]]:
        """(compiled rule, its lemma terms) of every lemma rule; scope "native" leaves out the
        English entries, which only a post with Latin letters can hit, so a Japanese post never
        loads the English lemmatiser."""
        rules = self._built.get(scope)
        return rules if rules is not None else self._once(scope, lambda: self._make_lemma_rules(scope))

    def _make_lemma_rules(self, scope: str) -> list[tuple[Any, frozenset[str]]]:
        from chatops.rules.analysis import entry_is_english, term_of

        return [(self._compiled[rule_id], frozenset(term_of(lemma) for lemma in lemmas
                                                    if scope == "english" or not entry_is_english(lemma)))
                for rule_id, lemmas in self._lemma_specs]

    def _examples_stage(self) -> _Examples:
        built = self._built.get("examples")
        return built if built is not None else self._once("examples", self._make_examples_stage)

    def _make_examples_stage(self) -> _Examples:
        classifier = _fitted(self._examples, self._cache_dir)
        rules = self._rules
        default_rank = rules.priorities[rules.defaults.priority].rank
        class_rules = [(self._compiled[rule_id], max(self._compiled[rule_id].priority_rank, default_rank))
                       for rule_id in classifier.classes]
        shares = {rank: sum(other == rank for _, other in class_rules) / len(class_rules)
                  for _, rank in class_rules}
        return _Examples(classifier, class_rules, shares)

    def terms(self, plain_text: str) -> frozenset[str]:
        """The lemma terms of a normalised post (none when no stage uses them)."""
        if not self.enabled:
            return frozenset()
        lemma_terms = self._built.get("terms") or self._once("terms", _lemma_terms_function)
        return lemma_terms(plain_text)

    def lemma_matches(self, plain_text: str, terms: frozenset[str], passes) -> tuple[list[Any], list[str]]:
        """The lemma rules some of the post's terms hit and that `passes(rule)`, and the terms they hit."""
        matched, found = [], []
        if self.has_lemmas:
            for rule, lemmas in self._lemma_rules_for("english" if _LATIN.search(plain_text) else "native"):
                common = lemmas & terms
                if common and passes(rule):
                    matched.append(rule)
                    found += sorted(common)
        return matched, found

    def classify(self, text: str, terms: frozenset[str], passes) -> Pick | None:
        """The examples' pick among the rules that `passes(rule)`: the most likely priority (its
        rules' probabilities summed), then its likeliest rule; None without examples.

        Summing by priority first means a post that looks like "some red complaint" is red
        even when its probability is split between double-charge and refund-missing.
        """
        if not self.has_examples:
            return None
        built = self._examples_stage()
        probabilities, vector = built.classifier.scores(text, terms)
        by_rank: dict[int, float] = {}
        best_of_rank: dict[int, int] = {}
        for index, (rule, rank) in enumerate(built.class_rules):
            if not passes(rule):
                continue
            by_rank[rank] = by_rank.get(rank, 0.0) + probabilities[index]
            if rank not in best_of_rank or probabilities[index] > probabilities[best_of_rank[rank]]:
                best_of_rank[rank] = index
        if not by_rank:
            return None
        rank = max(by_rank, key=by_rank.__getitem__)
        index = best_of_rank[rank]
        rule, score = built.class_rules[index][0], float(by_rank[rank])
        # A priority with 7 of 16 rules gets ~0.44 from a post with no evidence at all ("なるほど"):
        # only what it gets beyond that share of the classes counts as evidence.
        score -= built.rank_shares[rank] * _CHANCE_DISCOUNT
        rule_score = float(probabilities[index])
        evidence = built.classifier.evidence(vector, index)
        reason = f"examples={rule.id} score={score:.2f} (rule {rule_score:.2f}) ngrams={'|'.join(evidence)}"
        return Pick(rule, score, float(f"{rule_score:.2f}"), reason)


def _lemma_terms_function():
    """The analyser's entry point, imported on first use (it imports SudachiPy's wrapper)."""
    from chatops.rules.analysis import lemma_terms

    return lemma_terms


@functools.lru_cache(maxsize=8)
def _fitted(examples: tuple[tuple[str, str], ...], cache_dir: Path | None) -> ExamplesClassifier:
    """The classifier of these examples, fitted once per process (engines of one rules file share it)."""
    from chatops.rules.analysis import lemma_terms
    from chatops.rules.examples import ExamplesClassifier

    return ExamplesClassifier.cached(list(examples), lemma_terms, cache_dir)
