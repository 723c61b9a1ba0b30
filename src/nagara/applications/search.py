"""Finding applications by a person's name or mobile number, though the form is sealed.

The form data is encrypted at rest (``kit.crypto``), so no query can look inside it. Each
application keeps instead, in ``application_search_terms``, keyed hashes (the PII cipher's
blind index: HMAC-SHA256 under a key of its own, with a purpose per kind) of:

- each token of every name on it: the string fields of its form named ``name`` or ending in
  ``_name`` (the child's, the mother's, the owner's, a trade name) and the applicant's own name;
- its mobile numbers, as ``+91XXXXXXXXXX``: the applicant's, and form fields named ``mobile``
  or ending in ``_mobile``.

Names are normalised before hashing (Unicode NFC; Malayalam chillu letters written with a
zero-width joiner made atomic; joiners dropped; case folded) and split into tokens at
anything that is not a letter, a combining mark or a digit, so "Anna  MARY" and "anna mary"
give the same tokens, in any script. Each token is hashed twice: as written (purpose
``application-name``) and as it sounds (``application-name-sound``): its phonetic skeleton in
Latin letters (``name_sound``: Malayalam, Kannada and Devanagari transliterated with the
assistants' ``ai.text``, then folded), so that "Anjali", "അഞ്ജലി", "ಅಂಜಲಿ" and "अंजलि" share
one. A search hashes each word of its query both ways and matches whole tokens (no prefixes:
a keyed hash reveals nothing else); every word of the query must be on the application, as
written or as it sounds. The terms are rewritten whenever the form is sealed
(``data.seal_data``); applications sealed before the sounds existed are found by their
written tokens until ``nagara applications reindex`` rewrites theirs.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from nagara.ai import text as scripts
from nagara.applications.models import Application, SearchTerm
from nagara.identity.models import User
from nagara.kit.crypto import PiiCipher
from nagara.kit.errors import Invalid
from nagara.runtime import runtime_of

NAME = "application-name"
NAME_SOUND = "application-name-sound"
MOBILE = "application-mobile"
MAX_QUERY_TOKENS = 8
MAX_QUERY_LENGTH = 200
MOBILE_RE = re.compile(r"^(?:\+?91|0)?([6-9]\d{9})$")

# Malayalam chillu letters in the older encoding (consonant, virama, zero-width joiner) -> atomic
CHILLU = {
    "\u0d23\u0d4d\u200d": "\u0d7a",  # ൺ
    "\u0d28\u0d4d\u200d": "\u0d7b",  # ൻ
    "\u0d30\u0d4d\u200d": "\u0d7c",  # ർ
    "\u0d32\u0d4d\u200d": "\u0d7d",  # ൽ
    "\u0d33\u0d4d\u200d": "\u0d7e",  # ൾ
    "\u0d15\u0d4d\u200d": "\u0d7f",  # ൿ
}
JOINERS = dict.fromkeys((0x200C, 0x200D))


def name_tokens(text: str) -> list[str]:
    """The normalised tokens of a name, in order, each once."""
    text = unicodedata.normalize("NFC", text)
    for old, new in CHILLU.items():
        text = text.replace(old, new)
    text = unicodedata.normalize("NFC", text.translate(JOINERS).casefold())
    tokens: list[str] = []
    current: list[str] = []
    for ch in [*text, " "]:
        if unicodedata.category(ch)[0] in "LMN":
            current.append(ch)
        elif current:
            token = "".join(current)
            if token not in tokens:
                tokens.append(token)
            current = []
    return tokens


# Names fold further than the assistants' skeleton: a nukta's q is k, and the vowels that
# spellings of one name swap most (Joseph / ജോസഫ് "josaph", Mary / മേരി "meri", Mohammed /
# മുഹമ്മദ് "muhammad") are one vowel each; repeated vowels that makes are one again.
_NAME_FOLDS = str.maketrans({"q": "k", "e": "a", "o": "u"})
_REPEATED_VOWEL = re.compile(r"([aiu])\1+")


def name_sound(token: str) -> str:
    """How a name's token sounds, in Latin letters whatever script it is written in.

    '' for a token with no Latin letters or digits left (a script ``ai.text`` does not
    transliterate, such as Urdu's): such a token is found as written only.
    """
    latin = unicodedata.normalize("NFD", scripts.romanise(scripts.normalise(token)))
    latin = "".join(c for c in latin if not unicodedata.combining(c)).lower()
    sound = "".join(scripts.skeleton_word(w) for w in scripts.words(latin)).translate(_NAME_FOLDS)
    return _REPEATED_VOWEL.sub(r"\1", sound)


def name_digests(cipher: PiiCipher, name: str) -> set[str]:
    """The keyed hashes of a name's tokens, as written and as they sound."""
    out = set()
    for token in name_tokens(name):
        out.add(cipher.blind_index(token, purpose=NAME))
        if sound := name_sound(token):
            out.add(cipher.blind_index(sound, purpose=NAME_SOUND))
    return out


def normal_mobile(raw: str) -> str | None:
    """An Indian mobile number as ``+91XXXXXXXXXX``, or None if it is not one."""
    match = MOBILE_RE.match(re.sub(r"[\s()-]", "", raw))
    return "+91" + match.group(1) if match else None


def _is_name(key: str) -> bool:
    return key == "name" or key.endswith("_name")


def _is_mobile(key: str) -> bool:
    return key == "mobile" or key.endswith("_mobile")


def digests(cipher: PiiCipher, data: dict[str, Any], applicant: User | None) -> set[str]:
    """The keyed hashes an application with this form and applicant is found by."""
    names = [str(v) for k, v in data.items() if _is_name(k) and isinstance(v, str)]
    mobiles = [normal_mobile(v) for k, v in data.items() if _is_mobile(k) and isinstance(v, str)]
    if applicant is not None:
        if applicant.name_sealed:
            names.append(cipher.decrypt(applicant.name_sealed, context="name"))
        if applicant.mobile_sealed:
            mobiles.append(cipher.decrypt(applicant.mobile_sealed, context="mobile"))
    out = {digest for name in names for digest in name_digests(cipher, name)}
    out |= {cipher.blind_index(m, purpose=MOBILE) for m in mobiles if m}
    return out


def write_terms(session: Session, app: Application, data: dict[str, Any]) -> None:
    """Replace the application's search terms with those of ``data`` (its form as now sealed).

    A new application has none to replace: no statement until the flush inserts them.
    """
    cipher = runtime_of(session).cipher
    applicant = session.get(User, app.applicant_id)  # the signed-in citizen's row is in the unit of work
    wanted = digests(cipher, data, applicant)
    if sa_inspect(app).persistent:
        session.execute(delete(SearchTerm).where(SearchTerm.application_id == app.id))
    session.add_all(SearchTerm(application_id=app.id, digest=d) for d in sorted(wanted))


def _invalid(field: str, msg: str) -> Invalid:
    return Invalid(msg, [{"loc": ["query", field], "msg": msg, "type": "value_error"}])


def query_digests(cipher: PiiCipher, *, name: str | None, mobile: str | None) -> list[list[str]]:
    """What a search for ``name`` and/or ``mobile`` must find: one of the hashes of each list
    (a word as written or as it sounds; the mobile number); 422 for a query that cannot match."""
    wanted: list[list[str]] = []
    if name is not None:
        if len(name) > MAX_QUERY_LENGTH:
            raise _invalid("name", f"a name of at most {MAX_QUERY_LENGTH} characters")
        tokens = name_tokens(name)
        if not tokens:
            raise _invalid("name", "give at least one word of the name (letters or digits)")
        if len(tokens) > MAX_QUERY_TOKENS:
            raise _invalid("name", f"at most {MAX_QUERY_TOKENS} words of a name")
        for token in tokens:
            either = [cipher.blind_index(token, purpose=NAME)]
            if sound := name_sound(token):
                either.append(cipher.blind_index(sound, purpose=NAME_SOUND))
            wanted.append(either)
    if mobile is not None:
        number = normal_mobile(mobile)
        if number is None:
            raise _invalid("mobile", "a 10-digit Indian mobile number starting with 6, 7, 8 or 9 (with or without +91)")
        wanted.append([cipher.blind_index(number, purpose=MOBILE)])
    return wanted


def found_by(wanted: list[list[str]]) -> ColumnElement[bool]:
    """Applications carrying one hash of every one of these lists."""
    return and_(
        *(
            Application.id.in_(
                select(SearchTerm.application_id).where(
                    SearchTerm.digest == either[0] if len(either) == 1 else SearchTerm.digest.in_(either)
                )
            )
            for either in wanted
        )
    )
