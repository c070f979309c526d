"""Examples stage: a linear classifier learnt at load time from rules' `examples`.

Features are character 1-3-grams (inside word boundaries: no tokeniser needed, so Japanese,
English and mixed posts share one model, and typos or 表記揺れ still share most n-grams) plus
the post's lemma terms from the lemma stage ("not:届く", "charge"), which carry conjugation
and negation that n-grams alone confuse. Logistic regression gives a probability per rule
and the features that weighed most, which `rules test` prints as the reason.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from chatops.rules.normalize import normalize


@dataclass(slots=True, frozen=True)
class Prediction:
    """The rule the examples point to, its probability and the features that weighed most."""

    rule_id: str
    score: float
    evidence: tuple[str, ...]


class ExamplesClassifier:
    """Learns rule ids from example posts; predict() is pure once built."""

    def __init__(self, examples: list[tuple[str, str]],
                 lemmas: Callable[[str], frozenset[str]] | None = None):
        """Fit on (rule id, example post) pairs; needs two rules or more.

        lemmas maps a normalised post to its lemma terms (None: n-grams only).
        """
        # scikit-learn takes about a second to import: only an engine with examples pays it.
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        labels = [rule_id for rule_id, _ in examples]
        self._lemmas = lemmas
        self._char_grams = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)).build_analyzer()
        # One vectoriser over (n-grams + "lemma:" terms): a single sparse transform per post.
        self._vectorizer = TfidfVectorizer(analyzer=self._analyze, sublinear_tf=True)
        matrix = self._vectorizer.fit_transform([self._document(normalize(text), None) for _, text in examples])
        self._model = LogisticRegression(C=20.0, solver="newton-cg", max_iter=200)
        self._model.fit(matrix, labels)
        self._features = self._vectorizer.get_feature_names_out()
        self.classes = tuple(str(rule_id) for rule_id in self._model.classes_)
        # scikit-learn's per-call validation costs ~5 ms a post; a post is scored by hand instead,
        # with the same sublinear tf-idf, l2 norm and multinomial (or binary) logistic output.
        self._vocabulary = self._vectorizer.vocabulary_
        self._idf = self._vectorizer.idf_
        self._coef = np.ascontiguousarray(self._model.coef_.T)  # features x classes (1 column if binary)
        self._intercept = self._model.intercept_

    def _document(self, normalized: str, terms: frozenset[str] | None) -> tuple[str, frozenset[str]]:
        if self._lemmas is None:
            return normalized, frozenset()
        return normalized, self._lemmas(normalized) if terms is None else terms

    def _analyze(self, document: tuple[str, frozenset[str]]) -> list[str]:
        normalized, terms = document
        return self._char_grams(normalized) + ["lemma:" + term for term in terms]

    def scores(self, text: str, terms: frozenset[str] | None = None) -> tuple[np.ndarray, dict[int, float]]:
        """Return the probability of each rule in `classes` order, and the post's feature weights."""
        counts: dict[int, int] = {}
        vocabulary = self._vocabulary
        for feature in self._analyze(self._document(normalize(text), terms)):
            column = vocabulary.get(feature)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            logits = self._intercept.copy()
            weights: dict[int, float] = {}
        else:
            columns = np.fromiter(counts, dtype=np.intp, count=len(counts))
            values = (1.0 + np.log(np.fromiter(counts.values(), dtype=float, count=len(counts)))) * self._idf[columns]
            values /= np.sqrt(values @ values)
            logits = values @ self._coef[columns] + self._intercept
            weights = dict(zip(columns.tolist(), values.tolist(), strict=True))
        if len(self.classes) == 2:
            positive = 1.0 / (1.0 + np.exp(-logits[0]))
            return np.array([1.0 - positive, positive]), weights
        logits = np.exp(logits - logits.max())
        return logits / logits.sum(), weights

    def evidence(self, weights: dict[int, float], best: int) -> tuple[str, ...]:
        """The features of a post (from scores()) that weighed most for class index best."""
        coef = self._model.coef_[best] if len(self._model.classes_) > 2 else self._model.coef_[0] * (1 if best else -1)
        contributions = sorted(
            ((value * coef[column], self._features[column]) for column, value in weights.items()),
            reverse=True,
        )
        return tuple(gram.strip() for weight, gram in contributions[:4] if weight > 0 and gram.strip())

    def predict(self, text: str, terms: frozenset[str] | None = None) -> Prediction:
        """Return the most likely rule for a post, with its probability and evidence."""
        probabilities, weights = self.scores(text, terms)
        best = int(probabilities.argmax())
        return Prediction(self.classes[best], float(probabilities[best]), self.evidence(weights, best))
