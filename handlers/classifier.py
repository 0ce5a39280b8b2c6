"""A category classifier learned from the town's own labelled tickets: a second opinion.

`train` fits a character n-gram TF-IDF and a logistic regression (scikit-learn, imported only
there: the ``learn`` extra) and measures it by cross-validation against the rules on the same
rows. The fitted numbers are saved as plain JSON in the instance folder, and `LearnedModel`
scores a message from them in pure Python: the bot needs neither scikit-learn nor a pickle to
use a model, and a model file cannot run code.

At run time the model is asked only about a category the rules are unsure of
(``GrievanceParser(second_opinion=…)``), and only when it beat the rules when measured.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handlers.parser import MAX_CHARS, SURE_CATEGORY, ParseResult

if TYPE_CHECKING:
    from handlers.parser import GrievanceParser
    from models.labels import LabelledExample

MODEL_FILE = "category_model.json"
FORMAT = 1
NGRAMS = (1, 3)
MAX_FEATURES = 8000
FOLDS = 5
# Fewer labelled tickets than this, or fewer than two categories, and nothing is learned.
MIN_EXAMPLES = 20
# The model's category replaces an unsure rule only when it is at least this sure of it.
MODEL_SURE = 0.5
_SPACE_RE = re.compile(r"\s+")


class NotEnoughExamples(ValueError):
    """Too few labelled tickets (or categories) to learn from."""


def prepare(text: str) -> str:
    """The text as the model reads it: folded, lower-case, one space between words."""
    norm = unicodedata.normalize("NFKC", text or "")[:MAX_CHARS].lower()
    return _SPACE_RE.sub(" ", norm).strip()


def char_ngrams(text: str) -> list[str]:
    """The character n-grams of a prepared text, as scikit-learn's ``analyzer="char"`` makes."""
    low, high = NGRAMS
    grams: list[str] = []
    for size in range(low, high + 1):
        grams.extend(text[i : i + size] for i in range(len(text) - size + 1))
    return grams


@dataclass(frozen=True)
class LearnedModel:
    """The fitted TF-IDF and logistic regression, with how well it and the rules did."""

    classes: tuple[str, ...]
    # n-gram -> (idf, one weight per class); a binary model has one weight (for classes[1]).
    weights: dict[str, tuple[float, tuple[float, ...]]]
    intercept: tuple[float, ...]
    cv_accuracy: float
    rules_accuracy: float
    examples: int
    sources: dict[str, int]
    trained_at: str
    # The same two figures on the rows where the rules were unsure of the category: the only
    # rows the model is asked about at run time.
    unsure_rows: int = 0
    unsure_cv_accuracy: float = 0.0
    unsure_rules_accuracy: float = 0.0

    @property
    def beats_rules(self) -> bool:
        """Whether the model did better than the rules on the same held-out rows, and no worse
        on those of them where the rules were unsure."""
        unsure_ok = self.unsure_rows == 0 or self.unsure_cv_accuracy >= self.unsure_rules_accuracy
        return self.cv_accuracy > self.rules_accuracy and unsure_ok

    def predict(self, text: str) -> list[tuple[str, float]]:
        """Categories with their probabilities, likeliest first."""
        counts = Counter(char_ngrams(prepare(text)))
        features: list[tuple[float, tuple[float, ...]]] = []
        for gram, count in counts.items():
            known = self.weights.get(gram)
            if known is not None:
                idf, coef = known
                features.append(((1.0 + math.log(count)) * idf, coef))
        norm = math.sqrt(sum(value * value for value, _ in features)) or 1.0
        scores = list(self.intercept)
        for value, coef in features:
            for k, weight in enumerate(coef):
                scores[k] += weight * value / norm
        if len(self.classes) == 2:
            p = 1.0 / (1.0 + math.exp(-scores[0]))
            probs = [1.0 - p, p]
        else:
            top = max(scores)
            exps = [math.exp(s - top) for s in scores]
            total = sum(exps)
            probs = [e / total for e in exps]
        return sorted(zip(self.classes, probs, strict=True), key=lambda cp: -cp[1])

    def second_opinion(self, text: str, result: ParseResult) -> ParseResult:
        """The rules' result with the model's category when the model is sure and trusted."""
        if not self.beats_rules or not result.is_grievance:
            return result
        ranked = self.predict(text)
        best, probability = ranked[0]
        if probability < MODEL_SURE:
            return result
        choices = tuple(dict.fromkeys([best, *result.category_choices]))[:3]
        unsure = result.unsure_fields
        if probability >= SURE_CATEGORY:
            unsure = tuple(field for field in unsure if field != "category")
        return replace(
            result,
            category=best,
            confidence=round(probability, 3),
            runner_up=next((c for c in choices if c != best), None),
            category_choices=choices,
            unsure_fields=unsure,
            second_opinion=True,
        )

    # ------------------------------------------------------------------ file

    def save(self, path: Path) -> None:
        """Write the model as JSON (atomically: a half-written file is never read)."""
        data = {
            "format": FORMAT,
            "classes": list(self.classes),
            "intercept": list(self.intercept),
            "weights": {gram: [idf, list(coef)] for gram, (idf, coef) in self.weights.items()},
            "cv_accuracy": self.cv_accuracy,
            "rules_accuracy": self.rules_accuracy,
            "examples": self.examples,
            "sources": self.sources,
            "trained_at": self.trained_at,
            "unsure_rows": self.unsure_rows,
            "unsure_cv_accuracy": self.unsure_cv_accuracy,
            "unsure_rules_accuracy": self.unsure_rules_accuracy,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> LearnedModel:
        """Read a model written by `save`; ValueError when the file is not one."""
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError(f"unknown model format {data.get('format')!r}")
            return cls(
                classes=tuple(data["classes"]),
                weights={g: (float(v[0]), tuple(v[1])) for g, v in data["weights"].items()},
                intercept=tuple(data["intercept"]),
                cv_accuracy=float(data["cv_accuracy"]),
                rules_accuracy=float(data["rules_accuracy"]),
                examples=int(data["examples"]),
                sources=dict(data.get("sources", {})),
                trained_at=str(data.get("trained_at", "")),
                unsure_rows=int(data.get("unsure_rows", 0)),
                unsure_cv_accuracy=float(data.get("unsure_cv_accuracy", 0.0)),
                unsure_rules_accuracy=float(data.get("unsure_rules_accuracy", 0.0)),
            )
        except (KeyError, TypeError, IndexError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a model file: {exc}") from exc


def load_trusted(instance_path: Path) -> LearnedModel | None:
    """The instance's learned model when there is one and it beat the rules, else None."""
    path = instance_path / MODEL_FILE
    if not path.exists():
        return None
    try:
        model = LearnedModel.load(path)
    except (OSError, ValueError):
        return None
    return model if model.beats_rules else None


# ---------------------------------------------------------------------- training


def train(
    examples: Sequence[LabelledExample],
    *,
    parser: GrievanceParser,
    now: datetime | None = None,
) -> LearnedModel:
    """Fit the classifier on labelled tickets and measure it and the rules on the same rows.

    Each row is held out once (stratified k-fold): the model's accuracy is that of a model
    that never saw the row, the rules' that of `parser` on the same row.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    texts = [prepare(e.text) for e in examples]
    labels = [e.category for e in examples]
    counts = Counter(labels)
    if len(examples) < MIN_EXAMPLES or len(counts) < 2:
        raise NotEnoughExamples(
            f"{len(examples)} labelled tickets in {len(counts)} categories "
            f"(at least {MIN_EXAMPLES} in two categories are needed)"
        )

    def pipeline() -> Any:
        return make_pipeline(
            TfidfVectorizer(
                analyzer="char",
                ngram_range=NGRAMS,
                lowercase=False,
                sublinear_tf=True,
                max_features=MAX_FEATURES,
            ),
            # saga: a tenth of lbfgs's time on these sparse rows, same accuracy.
            LogisticRegression(C=10.0, solver="saga", max_iter=2000),
        )

    # Each category held out must be learned from other rows: one seen only once is fitted but
    # not scored, for the model and the rules alike.
    scored = [i for i, label in enumerate(labels) if counts[label] >= 2]
    scored_labels = [labels[i] for i in scored]
    if len(scored) < MIN_EXAMPLES or len(set(scored_labels)) < 2:
        raise NotEnoughExamples(
            f"{len(scored)} labelled tickets in categories seen at least twice "
            f"(at least {MIN_EXAMPLES} in two categories are needed)"
        )
    folds = min(FOLDS, min(Counter(scored_labels).values()))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        # An unconverged fit is still measured as it is: the accuracy below is what counts.
        warnings.simplefilter("ignore", ConvergenceWarning)
        predicted = cross_val_predict(
            pipeline(), [texts[i] for i in scored], scored_labels, cv=splitter
        )
        fitted = pipeline().fit(texts, labels)
    cv_hits = sum(p == y for p, y in zip(predicted, scored_labels, strict=True))
    cv_accuracy = cv_hits / len(scored)
    rules_hits = 0
    unsure_model = unsure_rules = unsure_rows = 0
    for row, i in enumerate(scored):
        result = parser.parse(examples[i].text, None, None, assume_problem=True)
        rules_hits += result.category == labels[i]
        if "category" in result.unsure_fields:
            unsure_rows += 1
            unsure_rules += result.category == labels[i]
            unsure_model += predicted[row] == labels[i]
    rules_accuracy = rules_hits / len(scored)

    vectorizer, regression = fitted.steps[0][1], fitted.steps[1][1]
    idf = vectorizer.idf_
    coef = regression.coef_
    weights = {
        gram: (float(idf[column]), tuple(float(row[column]) for row in coef))
        for gram, column in vectorizer.vocabulary_.items()
    }
    return LearnedModel(
        classes=tuple(str(c) for c in regression.classes_),
        weights=weights,
        intercept=tuple(float(v) for v in regression.intercept_),
        cv_accuracy=round(cv_accuracy, 4),
        rules_accuracy=round(rules_accuracy, 4),
        examples=len(examples),
        sources=dict(Counter(e.source for e in examples)),
        trained_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        unsure_rows=unsure_rows,
        unsure_cv_accuracy=round(unsure_model / unsure_rows, 4) if unsure_rows else 0.0,
        unsure_rules_accuracy=round(unsure_rules / unsure_rows, 4) if unsure_rows else 0.0,
    )
