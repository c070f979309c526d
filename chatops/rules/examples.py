"""Examples stage: a linear classifier learnt from rules' `examples`.

Features are character 1-3-grams (inside word boundaries: no tokeniser needed, so Japanese,
English and mixed posts share one model, and typos or 表記揺れ still share most n-grams) plus
the post's lemma terms from the lemma stage ("not:届く", "charge"), which carry conjugation
and negation that n-grams alone confuse. Logistic regression gives a probability per rule
and the features that weighed most, which `rules test` prints as the reason.

scikit-learn only fits the model; a post is scored from the fitted arrays with numpy, so a
model read back from `save()` scores without importing scikit-learn at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from chatops.rules.normalize import normalize

if TYPE_CHECKING:
    import numpy as np

Lemmas = Callable[[str], frozenset[str]]
# The code whose output a fitted model depends on: a change to any of them makes a new cache key.
_MODEL_SOURCES = ("examples.py", "analysis.py", "normalize.py")
_MODEL_PACKAGES = ("scikit-learn", "numpy", "sudachipy", "sudachidict-core", "simplemma")


@dataclass(slots=True, frozen=True)
class Prediction:
    """The rule the examples point to, its probability and the features that weighed most."""

    rule_id: str
    score: float
    evidence: tuple[str, ...]


def char_grams(text: str) -> list[str]:
    """Character 1-3-grams inside word boundaries, each word padded with a space on both sides
    (what scikit-learn's `analyzer="char_wb"` gives, lower-cased alike)."""
    grams: list[str] = []
    append = grams.append
    for word in text.lower().split():
        padded = f" {word} "
        length = len(padded)
        for size in (1, 2, 3):
            for start in range(length - size + 1):
                append(padded[start:start + size])
            if length == size:  # a word shorter than the next size is counted once
                break
    return grams


class ExamplesClassifier:
    """Learns rule ids from example posts; scores() is pure once built."""

    def __init__(self, classes, features, idf, coef, intercept, lemmas: Lemmas | None = None):
        """Take a fitted model's arrays (use fit() or load() to get them).

        coef is classes x features (one row if there are two classes); lemmas maps a
        normalised post to its lemma terms (None: n-grams only).
        """
        import numpy as np

        self.classes = tuple(str(rule_id) for rule_id in classes)
        self._features = [str(feature) for feature in features]
        self._vocabulary = {feature: column for column, feature in enumerate(self._features)}
        self._idf = np.asarray(idf, dtype=float)
        self._rows = np.asarray(coef, dtype=float)
        self._coef = np.ascontiguousarray(self._rows.T)  # features x classes (1 column if binary)
        self._intercept = np.asarray(intercept, dtype=float)
        self._lemmas = lemmas

    @classmethod
    def fit(cls, examples: list[tuple[str, str]], lemmas: Lemmas | None = None) -> ExamplesClassifier:
        """Fit on (rule id, example post) pairs; needs two rules or more."""
        # scikit-learn takes about a second to import: only fitting pays it.
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        labels = [rule_id for rule_id, _ in examples]

        def analyze(text: str) -> list[str]:
            normalized = normalize(text)
            return char_grams(normalized) + (["lemma:" + term for term in lemmas(normalized)] if lemmas else [])

        # One vectoriser over (n-grams + "lemma:" terms): a single sparse transform per post.
        vectorizer = TfidfVectorizer(analyzer=analyze, sublinear_tf=True)
        matrix = vectorizer.fit_transform([text for _, text in examples])
        model = LogisticRegression(C=20.0, solver="newton-cg", max_iter=200)
        model.fit(matrix, labels)
        return cls(model.classes_, vectorizer.get_feature_names_out(), vectorizer.idf_, model.coef_,
                   model.intercept_, lemmas)

    @classmethod
    def cached(cls, examples: list[tuple[str, str]], lemmas: Lemmas | None, folder: Path | None) -> ExamplesClassifier:
        """fit(), or the same model read back from folder when these examples were fitted before
        (folder None: always fit). A cache that cannot be read or written is only skipped."""
        if folder is None:
            return cls.fit(examples, lemmas)
        path = folder / f"examples-{_model_key(examples, lemmas is not None)}.npz"
        try:
            return cls.load(path, lemmas)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # absent, or cut short
            pass
        classifier = cls.fit(examples, lemmas)
        try:
            classifier.save(path)
        except OSError:
            pass
        return classifier

    def save(self, path: Path) -> None:
        """Write the model's arrays to path (numpy's npz, no pickled objects), atomically."""
        import numpy as np

        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        with partial.open("wb") as file:
            np.savez(file, classes=np.array(self.classes), features=np.array(self._features), idf=self._idf,
                     coef=self._rows, intercept=self._intercept)
        partial.replace(path)

    @classmethod
    def load(cls, path: Path, lemmas: Lemmas | None = None) -> ExamplesClassifier:
        """Read a model written by save()."""
        import numpy as np

        with np.load(path, allow_pickle=False) as arrays:
            return cls(arrays["classes"], arrays["features"], arrays["idf"], arrays["coef"], arrays["intercept"],
                       lemmas)

    def _analyze(self, normalized: str, terms: frozenset[str] | None) -> list[str]:
        if self._lemmas is None:
            return char_grams(normalized)
        if terms is None:
            terms = self._lemmas(normalized)
        return char_grams(normalized) + ["lemma:" + term for term in terms]

    def scores(self, text: str, terms: frozenset[str] | None = None) -> tuple[np.ndarray, dict[int, float]]:
        """Return the probability of each rule in `classes` order, and the post's feature weights."""
        import numpy as np

        counts: dict[int, int] = {}
        vocabulary = self._vocabulary
        for feature in self._analyze(normalize(text), terms):
            column = vocabulary.get(feature)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            logits = self._intercept.copy()
            weights: dict[int, float] = {}
        else:
            # The same sublinear tf-idf, l2 norm and multinomial (or binary) logistic output as
            # scikit-learn's, without its per-call validation (milliseconds a post).
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
        coef = self._rows[best] if len(self.classes) > 2 else self._rows[0] * (1 if best else -1)
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


def _model_key(examples: list[tuple[str, str]], with_lemmas: bool) -> str:
    """A digest of everything a fitted model depends on: the examples, the code, the libraries."""
    digest = hashlib.sha256(json.dumps([examples, with_lemmas], ensure_ascii=False).encode())
    here = Path(__file__).parent
    for name in _MODEL_SOURCES:
        digest.update((here / name).read_bytes())
    for package in _MODEL_PACKAGES:
        try:
            digest.update(f"{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package}=-".encode())
    return digest.hexdigest()[:32]
