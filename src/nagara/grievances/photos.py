"""Photos of grievances: checked by content and size; the copy served publicly carries no EXIF
metadata (GPS position, device), as it is decoded and encoded again without it."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from nagara.kit.errors import Invalid
from nagara.kit.files import sniff_media_type

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a decompression bomb is refused, not decoded
MEDIA_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


@dataclass(frozen=True)
class Photo:
    media_type: str
    original: bytes
    public: bytes  # re-encoded without metadata
    sha256: str


def _refuse(msg: str, kind: str, field: str) -> Invalid:
    return Invalid(msg, [{"loc": ["body", field], "msg": msg, "type": kind}])


def check_photo(content: bytes, *, field: str = "photo") -> Photo:
    """The photo, checked, with its public copy; an :class:`Invalid` saying what is wrong otherwise."""
    if not content:
        raise _refuse("the photo is empty", "value_error", field)
    if len(content) > MAX_PHOTO_BYTES:
        raise _refuse(f"the photo is {len(content):,} bytes; at most {MAX_PHOTO_BYTES:,} bytes are allowed", "too_large", field)
    media_type = sniff_media_type(content)
    if media_type not in MEDIA_TYPES:
        what = f"its content is {media_type}" if media_type else "its content is not a recognised image"
        raise _refuse(f"{what}; allowed: {', '.join(MEDIA_TYPES)}", "media_type", field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise _refuse(f"the photo has {img.width}x{img.height} pixels; at most {MAX_PIXELS:,}", "too_large", field)
                img.load()
                clean = Image.frombytes(img.mode, img.size, img.tobytes())  # pixels only: no EXIF, XMP, ICC
                palette = img.getpalette() if img.mode == "P" else None
                if palette:
                    clean.putpalette(palette)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise _refuse(f"the photo could not be read as an image: {exc}", "media_type", field) from exc
    out = io.BytesIO()
    fmt = MEDIA_TYPES[media_type]
    if fmt == "JPEG" and clean.mode not in ("RGB", "L"):
        clean = clean.convert("RGB")
    clean.save(out, format=fmt)
    return Photo(media_type, content, out.getvalue(), hashlib.sha256(content).hexdigest())
