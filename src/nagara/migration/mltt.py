"""Malayalam typed in the pre-Unicode ASCII fonts (ML-TT Karthika and its family) converted to Unicode.

Old Kerala registers (Sulekha, Sevana and the spreadsheets beside them) kept names in ML-TT
fonts: each byte is a glyph, not a letter, and a vowel sign that is drawn before its consonant
(െ േ ൈ, and the first half of ൊ ോ ൌ) or the reph ്ര is typed before it. :func:`to_unicode`
maps each glyph and puts those signs back after the consonant cluster they belong to, as
Unicode stores them.

The glyph table of the ML-TT family (Karthika, Revathi, Indulekha, Ambili and the others that
share one layout) follows the CC0 maps of the Indic Archive (github.com/indic-archive/
ml-ascii-fontmaps, ``1.json``); ``tests/migration/test_mltt.py`` checks it on words with every reordering.
"""

from __future__ import annotations

# One glyph per key: ASCII and Latin-1 code points of the font to the Unicode letters they draw.
_LETTERS = "AഅBആCഇDഉEഋFഎGഏHഒIകJഖKഗLഘMങNചOഛPജQഝRഞSടTഠUഡVഢWണXതYഥZദ[ധ\\ന]പ^ഫ_ബ`ഭaമbയcരdറeലfളgഴhവiശjഷkസlഹ"
GLYPHS: dict[str, str] = {_LETTERS[i]: _LETTERS[i + 1] for i in range(0, len(_LETTERS), 2)}
GLYPHS.update(
    {
        "m": "ാ",
        "n": "ി",
        "o": "ീ",
        "p": "ു",
        "q": "ൂ",
        "r": "ൃ",
        "s": "െ",
        "t": "േ",
        "u": "ൗ",
        "v": "്",
        "w": "ം",
        "x": "ഃ",
        "y": "്യ",
        "z": "്വ",
        "{": "്ര",
        "|": "്യു",
        "}": "്യൂ",
        "¡": "ക്ക",
        "¢": "ക്ല",
        "£": "ക്ഷ",
        "¤": "ഗ്ഗ",
        "¥": "ഗ്ല",
        "¦": "ങ്ക",
        "§": "ങ്ങ",
        "¨": "ച്ച",
        "©": "ഞ്ച",
        "ª": "ഞ്ഞ",
        "«": "ട്ട",
        "¬": "ൺ",
        "\xad": "ണ്ട",
        "®": "ണ്ണ",
        "¯": "ത്ത",
        "°": "ത്ഥ",
        "±": "ദ്ദ",
        "²": "ദ്ധ",
        "³": "ൻ",
        "´": "ന്ത",
        "µ": "ന്ദ",
        "¶": "ന്ന",
        "·": "ന്മ",
        "¸": "പ്പ",
        "¹": "പ്ല",
        "º": "ബ്ബ",
        "»": "ബ്ല",
        "¼": "മ്പ",
        "½": "മ്മ",
        "¾": "മ്ല",
        "¿": "യ്യ",
        "À": "ർ",
        "Á": "റ്റ",
        "Â": "ൽ",
        "Ã": "ല്ല",
        "Ä": "ൾ",
        "Å": "ള്ള",
        "Æ": "വ്വ",
        "Ç": "ശ്ല",
        "È": "ശ്ശ",
        "É": "സ്ല",
        "Ê": "സ്സ",
        "Ë": "ഹ്ല",
        "Ì": "സ്റ്റ",
        "Í": "ഡ്ഡ",
        "Î": "ക്ട",
        "Ï": "ബ്ധ",
        "Ð": "ബ്ദ",
        "Ñ": "ച്ഛ",
        "Ò": "ഹ്മ",
        "Ó": "ഹ്ന",
        "Ô": "ന്ധ",
        "Õ": "ത്സ",
        "Ö": "ജ്ജ",
        "×": "ണ്മ",
        "Ø": "സ്ഥ",
        "Ù": "ന്ഥ",
        "Ú": "ജ്ഞ",
        "Û": "ത്ഭ",
        "Ü": "ഗ്മ",
        "Ý": "ശ്ച",
        "Þ": "ണ്ധ",
        "ß": "ത്മ",
        "à": "ക്ത",
        "á": "ഗ്ന",
        "â": "ന്റ",
        "ã": "ഷ്ട",
        "ä": "റ്റ",
        "æ": "കു",
        "ç": "ക്കു",
        "è": "രേ",
        "ê": "രു",
        "é": "ണു",
        "ë": "നു",
        "ì": "ന്നു",
        "í": "യ്ക്ക",
        "ò": "ന്മ",
        "þ": "-",
    }
)

_PRE_BASE = {"െ", "േ"}  # drawn (and typed) before the consonant they follow
_REPH = "്ര"  # the ra sign, typed before its consonant too
_VIRAMA = "്"
_JOINS = {("െ", "െ"): "ൈ", ("െ", "ാ"): "ൊ", ("േ", "ാ"): "ോ", ("െ", "ൗ"): "ൌ"}


def _is_consonant_glyph(text: str) -> bool:
    return bool(text) and "\u0d15" <= text[0] <= "\u0d39"


def _cluster(glyphs: list[str], start: int) -> tuple[str, int]:
    """The consonant cluster starting at ``start``: one consonant (or conjunct) glyph and the
    post-base signs that belong to it (്യ ്വ, a virama and a following consonant)."""
    text = glyphs[start]
    i = start + 1
    while i < len(glyphs) and glyphs[i] in ("്യ", "്വ"):
        text += glyphs[i]
        i += 1
    return text, i


def to_unicode(text: str) -> str:
    """The Unicode Malayalam of ``text`` typed in an ML-TT font (Karthika and family).

    Characters the font does not remap (space, digits, punctuation) pass through unchanged.
    """
    glyphs = [GLYPHS.get(ch, ch) for ch in text]
    out: list[str] = []
    i = 0
    while i < len(glyphs):
        glyph = glyphs[i]
        if glyph in _PRE_BASE or glyph == _REPH:
            # Collect the signs typed before the consonant: െ, േ, െെ (ൈ), optionally then ്ര.
            pre = ""
            rephed = False
            j = i
            while j < len(glyphs) and glyphs[j] in _PRE_BASE and not rephed:
                pre = _JOINS.get((pre, glyphs[j]), pre + glyphs[j]) if pre else glyphs[j]
                j += 1
            if j < len(glyphs) and glyphs[j] == _REPH:
                rephed = True
                j += 1
            if j < len(glyphs) and _is_consonant_glyph(glyphs[j]):
                cluster, j = _cluster(glyphs, j)
                if rephed:
                    cluster += _REPH
                # A length mark after the consonant completes a two-part vowel sign (ൊ ോ ൌ).
                if pre and j < len(glyphs) and (pre, glyphs[j]) in _JOINS:
                    pre = _JOINS[(pre, glyphs[j])]
                    j += 1
                out.append(cluster + pre)
                i = j
                continue
        out.append(glyph)
        i += 1
    # Independent vowels the fonts draw from two glyphs are one letter in Unicode.
    return "".join(out).replace("ഒാ", "ഓ").replace("ഒൗ", "ഔ")


def looks_like_mltt(text: str) -> bool:
    """True when ``text`` has no Malayalam letters but has the font's Latin-1 glyph codes or is
    plain letters that the column declares to be ML-TT (the mapping decides; this only helps reports)."""
    return not any("\u0d00" <= ch <= "\u0d7f" for ch in text) and any(ch in GLYPHS for ch in text)
