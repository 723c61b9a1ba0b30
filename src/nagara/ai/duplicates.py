"""Duplicate grievances: the open complaints of a body that probably report the same problem.

Two complaints are candidates when they are in the same or a neighbouring ward, within the time
window, and of the same category (the one each was filed under, else the triage model's top
suggestion). What tells one pothole from another is *where* it is, so the texts are compared on
their distinctive words: words of the phonetic skeleton (:mod:`nagara.ai.text`, so a place named
in Malayalam script matches the same place typed in English letters) that the triage model's
training examples never use (places, landmarks, names), the everyday words of complaints
("road", "water", "near"; "leaking" for "leak") left out. Two words match when RapidFuzz's
normalised Indel similarity of their skeletons is 0.75 or more, they share their first five
letters (an inflected "pallikkunnil" and "pallikkunnu"), or their consonants are the same
("museum", "myUsiyam"). The score is the share of the fewer distinctive words that the other
complaint matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from nagara.ai import text as t
from nagara.ai.triage import TriageModel

_ENDINGS = ("ing", "ed", "es", "s")  # English inflections of everyday words ("leaking", "dumped")
_NO_VOWELS = str.maketrans("", "", "aeiou")
THRESHOLD = 0.5  # share of distinctive words matched from which a candidate is shown
WORD_MATCH = 0.75  # RapidFuzz normalised Indel similarity from which two skeleton words are one
PREFIX = 5  # two words sharing this many first letters are one (inflections)
MIN_WORD = 3  # shorter skeleton words (particles, "il", "ke") are left out
WORDS_KEPT = 4096  # texts whose distinctive words a process keeps


@dataclass(frozen=True)
class Complaint:
    key: str
    text: str
    filed_at: datetime
    ward: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Match:
    key: str
    score: float
    shared: list[str]  # the distinctive words of the new complaint that the other one has too


class Similarity:
    def __init__(self, model: TriageModel) -> None:
        self.model = model
        self.common = {term[2:] for term in model.terms if term.startswith("s:")}
        # A text's words are worked out once per process and model (0.3 ms each): every new grievance
        # is compared with the same open ones.
        self._words_of = lru_cache(maxsize=WORDS_KEPT)(self._words)

    def _is_common(self, word: str) -> bool:
        return word in self.common or any(word.endswith(end) and word[: -len(end)] in self.common for end in _ENDINGS)

    def _words(self, text: str) -> tuple[str, ...]:
        words = t.skeleton(t.normalise(text)).split()
        return tuple(dict.fromkeys(w for w in words if len(w) >= MIN_WORD and not self._is_common(w)))

    def distinctive(self, text: str) -> list[str]:
        return list(self._words_of(text))

    @staticmethod
    def _same_word(a: str, b: str) -> bool:
        # RapidFuzz is imported here so that only processes running an assistant load it (ruff PLC0415).
        from rapidfuzz.distance import Indel  # noqa: PLC0415 - loaded only by processes that run an assistant

        if len(a) >= PREFIX and len(b) >= PREFIX and a[:PREFIX] == b[:PREFIX]:
            return True
        consonants_a, consonants_b = a.translate(_NO_VOWELS), b.translate(_NO_VOWELS)
        if len(consonants_a) >= 3 and consonants_a == consonants_b:  # museum / myUsiyam
            return True
        return bool(Indel.normalized_similarity(a, b) >= WORD_MATCH)

    def score(self, a: str, b: str) -> tuple[float, list[str]]:
        """The share of the fewer distinctive words matched in the other text (0..1), and a's matched words."""
        wa, wb = self.distinctive(a), self.distinctive(b)
        if not wa or not wb:
            return 0.0, []
        shared_a = [w for w in wa if any(self._same_word(w, o) for o in wb)]
        shared_b = [w for w in wb if any(self._same_word(w, o) for o in wa)]
        return min(1.0, max(len(shared_a), len(shared_b)) / min(len(wa), len(wb))), shared_a

    def category(self, complaint: Complaint) -> str:
        return complaint.category or self.model.top(complaint.text, 1)[0]

    def same(self, a: Complaint, b: Complaint) -> tuple[bool, float, list[str]]:
        """Whether two complaints of one place and time are probably one problem, the score and the shared words."""
        if self.category(a) != self.category(b):
            return False, 0.0, []
        score, shared = self.score(a.text, b.text)
        return score >= THRESHOLD, score, shared


def likely_duplicates(
    new: Complaint,
    open_complaints: Iterable[Complaint],
    similarity: Similarity,
    *,
    neighbours: Mapping[str, Iterable[str]] | None = None,
    window: timedelta = timedelta(days=30),
    limit: int = 5,
) -> list[Match]:
    """The open complaints that probably report the same problem as ``new``, likeliest first."""
    near = {new.ward, *((neighbours or {}).get(new.ward or "", ()))}
    found = []
    for other in open_complaints:
        if other.key == new.key or abs(other.filed_at - new.filed_at) > window:
            continue
        if new.ward is not None and other.ward is not None and other.ward not in near:
            continue
        same, score, shared = similarity.same(new, other)
        if same:
            found.append(Match(other.key, round(score, 4), shared))
    found.sort(key=lambda m: (-m.score, m.key))
    return found[:limit]
