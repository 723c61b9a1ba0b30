"""Grievance triage: the category and department a complaint probably belongs to, with how sure and why.

Trained from the labelled examples a state's pack ships (``packs/<state>/ai/triage/<language>.yaml``,
a list of complaints per category) and from officers' corrections: features are the words of
the text, word pairs, and the words and character n-grams of its phonetic skeleton
(:mod:`nagara.ai.text`), so one model reads every script and romanised text; a multinomial
logistic regression (scikit-learn) weighs them. Below the pack's ``threshold`` a suggestion is
marked for the human triage queue instead of being offered as a guess.

A trained model is plain arrays (:meth:`TriageModel.to_bytes`, NumPy's npz without pickles) and
predicts with NumPy alone: scikit-learn is needed to train, not to suggest.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nagara.ai import text as t

FORMAT = 1  # of the serialised model; a stored model of another format is refused, not misread
C = 10.0  # inverse regularisation of the logistic regression (chosen by cross-validation on the pack's examples)
N_GRAMS = (2, 3, 4)


class TriageDataError(ValueError):
    """The pack's triage files are missing, malformed, or name a category they do not define."""


@dataclass(frozen=True)
class Example:
    text: str
    category: str
    language: str  # the file it came from: en, ml, kn, hi or romanised; "correction" for an officer's


@dataclass(frozen=True)
class TriageConfig:
    enabled: bool
    threshold: float
    departments: dict[str, dict[str, str]]  # code -> names by language
    categories: dict[str, dict[str, Any]]  # code -> {"name": {...}, "department": code}

    def department_of(self, category: str) -> str:
        return str(self.categories[category]["department"])


def read_config(pack_dir: Path) -> TriageConfig | None:
    """``ai/triage.yaml`` of a pack, or None when the pack has none (the assistant is off for that state)."""
    path = Path(pack_dir) / "ai" / "triage.yaml"
    if not path.is_file():
        return None
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("categories"), list) or not isinstance(doc.get("departments"), list):
        raise TriageDataError(f"{path}: expected a mapping with 'enabled', 'threshold', 'departments' and 'categories' lists")
    departments = {str(d["code"]): dict(d["name"]) for d in doc["departments"]}
    categories: dict[str, dict[str, Any]] = {}
    for i, c in enumerate(doc["categories"]):
        if c.get("department") not in departments:
            raise TriageDataError(
                f"{path}: categories[{i}].department {c.get('department')!r} is not one of {sorted(departments)}"
            )
        categories[str(c["code"])] = {"name": dict(c["name"]), "department": str(c["department"])}
    threshold = float(doc.get("threshold", 0.5))
    if not 0.0 <= threshold <= 1.0:
        raise TriageDataError(f"{path}: threshold {threshold} is not between 0 and 1")
    return TriageConfig(bool(doc.get("enabled", True)), threshold, departments, categories)


def read_examples(pack_dir: Path, config: TriageConfig) -> list[Example]:
    """The labelled examples of ``ai/triage/<language>.yaml``: ``category: [complaint, ...]``."""
    examples: list[Example] = []
    for language in t.LANGUAGES:
        path = Path(pack_dir) / "ai" / "triage" / f"{language}.yaml"
        if not path.is_file():
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for category, texts in doc.items():
            if category not in config.categories:
                raise TriageDataError(f"{path}: {category!r} is not a category of ai/triage.yaml ({sorted(config.categories)})")
            examples.extend(Example(str(x), str(category), language) for x in texts)
    if len({e.category for e in examples}) < 2:
        raise TriageDataError(f"{pack_dir}/ai/triage/: examples of at least two categories are needed to train")
    return examples


def features_by_word(text: str) -> list[tuple[str, list[str]]]:
    """Each word of the text with the features it gives: itself, its skeleton and the skeleton's n-grams.
    Word pairs are given to the pair's first word."""
    normalised = t.normalise(text)
    tokens = t.words(normalised)
    out: list[tuple[str, list[str]]] = []
    for i, word in enumerate(tokens):
        feats = [f"w:{word}"]
        if i + 1 < len(tokens):
            feats.append(f"b:{word} {tokens[i + 1]}")
        for sk in t.skeleton(word).split():
            feats.append(f"s:{sk}")
            padded = f" {sk} "
            feats.extend(f"c:{padded[j : j + n]}" for n in N_GRAMS for j in range(len(padded) - n + 1))
        out.append((word, feats))
    return out


def features(text: str) -> list[str]:
    return [f for _, feats in features_by_word(text) for f in feats]


@dataclass(frozen=True)
class Suggestion:
    category: str
    department: str
    confidence: float
    top: list[tuple[str, float]]  # the three likeliest categories with their probabilities
    reasons: list[str]  # the words that weighed most for the category, most first
    language: str
    needs_human: bool  # below the threshold: for the human triage queue, not offered as a guess
    model_version: str


@dataclass
class TriageModel:
    classes: list[str]
    terms: list[str]
    idf: np.ndarray
    coef: np.ndarray  # classes x terms
    intercept: np.ndarray
    threshold: float
    departments: dict[str, str]  # category -> department
    version: str
    trained_on: dict[str, int] = field(default_factory=dict)  # examples per language
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {term: i for i, term in enumerate(self.terms)}

    def _vector(self, per_word: list[tuple[str, list[str]]]) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(f for _, feats in per_word for f in feats)
        idx = [(self._index[f], c) for f, c in counts.items() if f in self._index]
        if not idx:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        cols = np.fromiter((i for i, _ in idx), dtype=np.int64, count=len(idx))
        tf = np.fromiter((1.0 + math.log(c) for _, c in idx), dtype=np.float64, count=len(idx))
        values = tf * self.idf[cols]
        return cols, values / np.linalg.norm(values)

    def probabilities(self, text: str) -> np.ndarray:
        cols, values = self._vector(features_by_word(text))
        return _softmax(self.coef[:, cols] @ values + self.intercept)

    def top(self, text: str, n: int = 3) -> list[str]:
        """The n likeliest categories, likeliest first."""
        probs = self.probabilities(text)
        return [self.classes[int(i)] for i in np.argsort(-probs)[:n]]

    def suggest(self, text: str, *, language: t.Language | None = None) -> Suggestion:
        per_word = features_by_word(text)
        cols, values = self._vector(per_word)
        probs = _softmax(self.coef[:, cols] @ values + self.intercept)
        order = np.argsort(-probs)
        best = int(order[0])
        category = self.classes[best]
        reasons = self._reasons(per_word, cols, values, best)
        confidence = float(probs[best])
        return Suggestion(
            category=category,
            department=self.departments[category],
            confidence=round(confidence, 4),
            top=[(self.classes[int(i)], round(float(probs[i]), 4)) for i in order[:3]],
            reasons=reasons,
            language=(language or t.identify(text)).code,
            needs_human=confidence < self.threshold,
            model_version=self.version,
        )

    def _reasons(self, per_word: list[tuple[str, list[str]]], cols: np.ndarray, values: np.ndarray, best: int) -> list[str]:
        weight = dict(zip(cols.tolist(), (self.coef[best, cols] * values).tolist(), strict=True))
        counts = Counter(f for _, feats in per_word for f in feats)
        by_word: dict[str, float] = defaultdict(float)
        for word, feats in per_word:
            for f in feats:
                i = self._index.get(f)
                if i is not None:
                    by_word[word] += weight[i] / counts[f]
        ranked = sorted((w for w, v in by_word.items() if v > 0), key=lambda w: -by_word[w])
        return ranked[:3]

    def to_bytes(self) -> bytes:
        meta = {
            "format": FORMAT,
            "threshold": self.threshold,
            "departments": self.departments,
            "version": self.version,
            "trained_on": self.trained_on,
        }
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            meta=np.array(json.dumps(meta)),
            classes=np.array(self.classes),
            terms=np.array(self.terms),
            idf=self.idf,
            coef=self.coef.astype(np.float32),
            intercept=self.intercept,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TriageModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != FORMAT:
                raise ValueError(f"a triage model of format {meta.get('format')!r}; this version reads format {FORMAT}")
            return cls(
                classes=[str(c) for c in z["classes"]],
                terms=[str(x) for x in z["terms"]],
                idf=z["idf"],
                coef=z["coef"].astype(np.float64),
                intercept=z["intercept"],
                threshold=float(meta["threshold"]),
                departments=dict(meta["departments"]),
                version=str(meta["version"]),
                trained_on=dict(meta["trained_on"]),
            )


def _softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max())
    return np.asarray(e / e.sum())


def train(examples: Sequence[Example], config: TriageConfig) -> TriageModel:
    """A model from labelled examples. Deterministic: the same examples give the same model and version."""
    # scikit-learn (and SciPy under it) is imported only to train: a server that suggests with a
    # stored model never loads it (ruff PLC0415, the lazy-import rule for heavy optional modules).
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415 - loaded only to train
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - loaded only to train

    vectoriser = TfidfVectorizer(analyzer=features, sublinear_tf=True, norm="l2")
    x = vectoriser.fit_transform([e.text for e in examples])
    y = [e.category for e in examples]
    classifier = LogisticRegression(C=C, solver="saga", max_iter=5000, tol=1e-4, random_state=0)
    classifier.fit(x, y)
    terms = [str(term) for term in vectoriser.get_feature_names_out()]
    trained_on = sorted((e.category, e.text) for e in examples)
    digest = hashlib.sha256(json.dumps([FORMAT, C, N_GRAMS, config.threshold, trained_on]).encode())
    return TriageModel(
        classes=[str(c) for c in classifier.classes_],
        terms=terms,
        idf=np.asarray(vectoriser.idf_, dtype=np.float64),
        coef=np.asarray(classifier.coef_, dtype=np.float64),
        intercept=np.asarray(classifier.intercept_, dtype=np.float64),
        threshold=config.threshold,
        departments={c: config.department_of(c) for c in classifier.classes_},
        version=f"triage-{digest.hexdigest()[:12]}",
        trained_on=dict(Counter(e.language for e in examples)),
    )


# Baselines the model must beat on held-out data (tests/ai, bench/ai.py).


class MajorityBaseline:
    """Always the category with the most training examples."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self.ranked = [c for c, _ in Counter(e.category for e in examples).most_common()]

    def top(self, text: str) -> list[str]:
        return self.ranked[:3]


class KeywordBaseline:
    """A keyword matcher: each category's 20 most telling skeleton words from the training examples
    (frequent in the category, rare outside it); a text goes to the category with most matches."""

    def __init__(self, examples: Sequence[Example], per_category: int = 20) -> None:
        in_category: dict[str, Counter[str]] = defaultdict(Counter)
        overall: Counter[str] = Counter()
        for e in examples:
            ws = set(t.skeleton(t.normalise(e.text)).split())
            in_category[e.category].update(ws)
            overall.update(ws)
        self.keywords = {
            c: set(sorted(counts, key=lambda w: (-(counts[w] ** 2 / overall[w]), w))[:per_category])
            for c, counts in in_category.items()
        }
        self.majority = MajorityBaseline(examples).ranked

    def top(self, text: str) -> list[str]:
        ws = set(t.skeleton(t.normalise(text)).split())
        hits = {c: len(ws & kw) for c, kw in self.keywords.items()}
        return sorted(self.majority, key=lambda c: (-hits.get(c, 0), self.majority.index(c)))[:3]


class ModelRanker:
    def __init__(self, model: TriageModel) -> None:
        self.model = model

    def top(self, text: str) -> list[str]:
        return self.model.top(text)


@dataclass(frozen=True)
class Scores:
    n: int
    accuracy: float
    macro_f1: float
    top3: float


def score(ranker: Any, examples: Iterable[Example]) -> Scores:
    gold, guess, in_top3 = [], [], 0
    for e in examples:
        top = ranker.top(e.text)
        gold.append(e.category)
        guess.append(top[0])
        in_top3 += e.category in top
    n = len(gold)
    if n == 0:
        return Scores(0, 0.0, 0.0, 0.0)
    f1s = []
    for c in sorted(set(gold)):
        tp = sum(g == c and p == c for g, p in zip(gold, guess, strict=True))
        fp = sum(g != c and p == c for g, p in zip(gold, guess, strict=True))
        fn = sum(g == c and p != c for g, p in zip(gold, guess, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    accuracy = sum(g == p for g, p in zip(gold, guess, strict=True)) / n
    return Scores(n, round(accuracy, 4), round(sum(f1s) / len(f1s), 4), round(in_top3 / n, 4))
