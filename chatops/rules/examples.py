"""Examples stage: a character n-gram linear classifier learnt at load time from rules' `examples`.

Character 1-3-grams (inside word boundaries) need no tokeniser, so Japanese, English and
mixed posts share one model; logistic regression gives a probability per rule and the
n-grams that weighed most, which `rules test` prints as the reason.
"""

from dataclasses import dataclass

from chatops.rules.normalize import normalize


@dataclass(slots=True, frozen=True)
class Prediction:
    """The rule the examples point to, its probability and the n-grams that weighed most."""

    rule_id: str
    score: float
    evidence: tuple[str, ...]


class ExamplesClassifier:
    """Learns rule ids from example posts; predict() is pure once built."""

    def __init__(self, examples: list[tuple[str, str]]):
        """Fit on (rule id, example post) pairs; needs two rules or more."""
        # scikit-learn takes about a second to import: only an engine with examples pays it.
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        labels = [rule_id for rule_id, _ in examples]
        texts = [normalize(text) for _, text in examples]
        self._vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
        matrix = self._vectorizer.fit_transform(texts)
        self._model = LogisticRegression(C=20.0, max_iter=2000)
        self._model.fit(matrix, labels)
        self._features = self._vectorizer.get_feature_names_out()

    def predict(self, text: str) -> Prediction:
        """Return the most likely rule for a post, with its probability and evidence."""
        vector = self._vectorizer.transform([normalize(text)])
        probabilities = self._model.predict_proba(vector)[0]
        best = int(probabilities.argmax())
        weights = self._model.coef_[best] if len(self._model.classes_) > 2 else self._model.coef_[0] * (1 if best else -1)
        row = vector.tocoo()
        contributions = sorted(
            ((value * weights[column], self._features[column]) for column, value in zip(row.col, row.data, strict=True)),
            reverse=True,
        )
        evidence = tuple(gram.strip() for weight, gram in contributions[:4] if weight > 0 and gram.strip())
        return Prediction(str(self._model.classes_[best]), float(probabilities[best]), evidence)
