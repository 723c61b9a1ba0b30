"""Exact text in the PDF's text layer for Malayalam and Kannada: an ``/ActualText`` span per drawn line.

Why: WeasyPrint maps each glyph to one Unicode string in the font's ToUnicode CMap (the
first cluster it met the glyph in). Indic shaping shares glyphs between clusters — a
reordered vowel sign, a conjunct, a chillu — so copied or extracted text comes out as the
wrong letters ("ജനന മരണ രജിസ്ട്രാർ", "ಜನನ ಪ್ರಮಾಣಪತ್ರ") even though the page is drawn right.
PDF has a fix for that (ISO 32000-1, 14.9.4): a marked-content span whose ``/ActualText``
is the real text replaces the glyphs' text for extraction, copying and screen readers.

What: :func:`install` wraps WeasyPrint's ``draw_text`` (one text box, i.e. one line
fragment) so it emits ``/Span <</ActualText <FEFF…UTF-16BE…>>> BDC … EMC`` around what
it draws, with the box's own text. Poppler (pdftotext, evince), pdf.js, Acrobat and
screen readers honour it; pdfplumber and pypdf ignore it and keep reading the glyphs.
Lines WeasyPrint cuts with an ellipsis are left alone: their text is not what is drawn.

This patches WeasyPrint internals (``weasyprint.draw.draw_text``, looked up as a module
global by ``draw_inline_level``), so it is written for the versions in :data:`SUPPORTED`
only (pyproject pins the same range) and raises rather than silently doing nothing if
the version or the internals are not the ones it was written for.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any

SUPPORTED = (70, 71)  # WeasyPrint major versions [70, 71): checked against weasyprint/draw in 70.0
_MARK = "_nagara_actual_text"
_SIGNATURE = ["stream", "textbox", "offset_x", "text_overflow", "block_ellipsis"]
# Right-to-left scripts (Hebrew, Arabic and Urdu, their presentation forms). Their lines get no
# /ActualText: Poppler takes a line's glyphs as drawn (visual order) and reorders a right-to-left run
# itself, so an /ActualText already in logical order came out reversed ("ریمشک و ںومج" for
# "جموں و کشمیر"). Arabic-script glyphs map to their letters one to one through the font's
# ToUnicode, so extraction from the glyphs is exact (tests/certificates/test_urdu_pdf.py).
RIGHT_TO_LEFT = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


class WeasyPrintChanged(RuntimeError):
    """The WeasyPrint internals the ActualText patch relies on are not as expected."""


def actual_text(text: str) -> bytes:
    """A PDF hex string, UTF-16BE with a byte order mark, as ``/ActualText`` wants it."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def install() -> None:
    """Patch WeasyPrint once per process; calling it again does nothing."""
    import pydyf  # noqa: PLC0415 - weasyprint's PDF writer, loaded only when a PDF is made
    import weasyprint  # noqa: PLC0415 - WeasyPrint loads Pango at import: only processes that render PDFs pay for it
    import weasyprint.draw.text as text_module  # noqa: PLC0415 - WeasyPrint loads Pango at import: only processes that render PDFs pay for it
    from weasyprint import draw  # noqa: PLC0415 - WeasyPrint loads Pango at import: only processes that render PDFs pay for it

    major = int(str(weasyprint.__version__).split(".")[0])
    if not SUPPORTED[0] <= major < SUPPORTED[1]:
        raise WeasyPrintChanged(
            f"nagara.certificates.pdftext was written for WeasyPrint {SUPPORTED[0]}.x, not {weasyprint.__version__}: "
            "check weasyprint/draw/text.py draw_text and draw/__init__.py, then update SUPPORTED and pyproject"
        )
    current: Any = getattr(draw, "draw_text", None)
    if getattr(current, _MARK, False):
        return
    original: Any = getattr(text_module, "draw_text", None)
    if not callable(original) or current is not original:
        raise WeasyPrintChanged("weasyprint.draw no longer uses weasyprint.draw.text.draw_text as its module global")
    signature = inspect.signature(original)
    if list(signature.parameters) != _SIGNATURE:
        raise WeasyPrintChanged(f"weasyprint.draw.text.draw_text{signature} is not the one patched")
    if not (hasattr(pydyf.Stream, "begin_marked_content") and hasattr(pydyf.Stream, "end_marked_content")):
        raise WeasyPrintChanged("pydyf.Stream has no begin_marked_content/end_marked_content")

    @functools.wraps(original)
    def draw_text(stream: Any, textbox: Any, *args: Any, **kwargs: Any) -> Any:
        text = textbox.text  # AttributeError, loudly, if TextBox changed
        bound = signature.bind_partial(stream, textbox, *args, **kwargs).arguments
        cut = bound.get("text_overflow") == "ellipsis" or bound.get("block_ellipsis", "none") != "none"
        if cut or not text.strip() or textbox.style["visibility"] != "visible" or RIGHT_TO_LEFT.search(text):
            return original(stream, textbox, *args, **kwargs)
        stream.begin_marked_content("Span", pydyf.Dictionary({"ActualText": actual_text(text)}))
        try:
            return original(stream, textbox, *args, **kwargs)
        finally:
            stream.end_marked_content()

    setattr(draw_text, _MARK, True)
    draw.draw_text = draw_text
