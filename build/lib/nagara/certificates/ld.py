"""JSON-LD processing with contexts from the package only, and RDF Dataset Canonicalization.

The document loader serves the few contexts shipped under ``contexts/`` and refuses
every other URL: nothing is fetched at run time, so a credential cannot make the
verifier reach out to the network, and a context cannot change under our feet.
Canonicalization is RDFC-1.0 (published as URDNA2015 before it became a W3C
Recommendation; the algorithm and its output are the same), in "safe mode": a
property that the contexts do not define would be dropped, and so not signed, so it
is an error instead.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from pyld import jsonld

CONTEXT_DIR = Path(__file__).parent / "contexts"
VC_V2 = "https://www.w3.org/ns/credentials/v2"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
DID_V1 = "https://www.w3.org/ns/did/v1"
NAGARA_V1 = "https://nagara.dev/ns/certificates/v1"

CONTEXT_FILES = {
    VC_V2: "credentials-v2.jsonld",
    DATA_INTEGRITY_V2: "data-integrity-v2.jsonld",
    MULTIKEY_V1: "multikey-v1.jsonld",
    DID_V1: "did-v1.jsonld",
    NAGARA_V1: "nagara-certificates-v1.jsonld",
}


class CanonicalizationError(ValueError):
    """The document is not JSON-LD we can canonicalize with the shipped contexts."""


@cache
def context_document(url: str) -> dict[str, Any]:
    name = CONTEXT_FILES.get(url)
    if name is None:
        raise CanonicalizationError(f"the context {url!r} is not one this node ships; allowed: {', '.join(CONTEXT_FILES)}")
    value: dict[str, Any] = json.loads((CONTEXT_DIR / name).read_text(encoding="utf-8"))
    return value


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pyld document loader that serves only the shipped contexts."""
    try:
        document = context_document(url)
    except CanonicalizationError as exc:
        raise jsonld.JsonLdError(str(exc), "jsonld.LoadDocumentError", {"url": url}, code="loading document failed") from None
    return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(document), "contentType": "application/ld+json"}


def _refuse_dropped(term: str | None) -> None:
    raise CanonicalizationError(f"the property {term!r} is not defined by the credential's contexts, so it could not be signed")


def canonicalize(document: dict[str, Any]) -> str:
    """The document's RDFC-1.0 canonical N-Quads."""
    processor = jsonld.JsonLdProcessor(on_property_dropped=_refuse_dropped)
    try:
        result = processor.normalize(
            document, {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": document_loader}
        )
    except jsonld.JsonLdError as exc:
        cause = exc
        while isinstance(cause.__cause__, Exception):
            if isinstance(cause.__cause__, CanonicalizationError):
                raise cause.__cause__ from None
            cause = cause.__cause__
        raise CanonicalizationError(f"not valid JSON-LD: {exc}") from None
    if not isinstance(result, str):
        raise CanonicalizationError("canonicalization gave no N-Quads")
    return result
