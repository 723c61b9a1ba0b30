"""HTTP Message Signatures (RFC 9421) with Ed25519, and Content-Digest (RFC 9530): pure, no I/O.

A request is signed over ``("@method" "@path" "content-digest" "date")``; a response over
``("@status" "content-digest")``, its ``nonce`` parameter repeating the request's so the caller
knows the answer is to its own request. The signature parameters are ``created``, ``keyid``,
``alg="ed25519"`` and ``nonce``. Only what Nagara signs is parsed: one signature per message,
components without parameters; anything else is refused with a reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "REQUEST_COMPONENTS",
    "RESPONSE_COMPONENTS",
    "Parsed",
    "SignatureError",
    "check_content_digest",
    "content_digest",
    "parse",
    "sign",
    "signature_base",
    "verify",
]

ALG = "ed25519"
REQUEST_COMPONENTS = ("@method", "@path", "content-digest", "date")
RESPONSE_COMPONENTS = ("@status", "content-digest")
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
_LABEL = r"[a-z*][a-z0-9_\-.*]{0,63}"
_COMPONENT = r'"[a-z0-9@\-_.]+"'
_PARAM = r'(?:-?\d{1,15}|"[\x20\x21\x23-\x5b\x5d-\x7e]*")'
_INPUT_RE = re.compile(rf"\s*({_LABEL})=\(((?:{_COMPONENT}(?: {_COMPONENT})*)?)\)((?:;[a-z][a-z0-9_\-]*={_PARAM})*)\s*")
_PARAM_RE = re.compile(r";([a-z][a-z0-9_\-]*)=(-?\d{1,15}|\"[\x20\x21\x23-\x5b\x5d-\x7e]*\")")
_SIG_RE = re.compile(rf"\s*({_LABEL})=:([A-Za-z0-9+/]*={{0,2}}):\s*")
_DIGEST_MEMBER_RE = re.compile(r"\s*([a-z][a-z0-9_\-]*)=:([A-Za-z0-9+/]*={0,2}):\s*")


class SignatureError(ValueError):
    """The message's signature or digest cannot be accepted; ``reason`` is a slug, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def content_digest(body: bytes) -> str:
    """The Content-Digest field value (RFC 9530) of ``body``, with SHA-256."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def check_content_digest(value: str | None, body: bytes) -> None:
    """Every digest we know in the field must match ``body``, and at least one must be known."""
    if not value:
        raise SignatureError("digest-missing", "the message has no Content-Digest field (RFC 9530)")
    known = 0
    for member in value.split(","):
        match = _DIGEST_MEMBER_RE.fullmatch(member)
        if match is None:
            raise SignatureError("digest-malformed", "Content-Digest is not a dictionary of alg=:base64: values")
        algorithm, encoded = match.groups()
        if algorithm not in _DIGESTS:
            continue
        known += 1
        if not hmac.compare_digest(base64.b64decode(encoded), _DIGESTS[algorithm](body).digest()):
            raise SignatureError("digest-mismatch", f"the body does not match its Content-Digest ({algorithm})")
    if not known:
        raise SignatureError("digest-malformed", "Content-Digest has neither sha-256 nor sha-512")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _params(components: Sequence[str], params: Mapping[str, int | str]) -> str:
    inner = " ".join(_quote(c) for c in components)
    rest = "".join(f";{k}={v}" if isinstance(v, int) else f";{k}={_quote(v)}" for k, v in params.items())
    return f"({inner}){rest}"


def signature_base(values: Mapping[str, str], components: Sequence[str], params: Mapping[str, int | str]) -> bytes:
    """The signature base (RFC 9421 section 2.5) of the covered component values."""
    lines = []
    for name in components:
        value = values.get(name)
        if value is None:
            raise SignatureError("component-missing", f"the message has no {name} to sign")
        if "\n" in value or "\r" in value:
            raise SignatureError("component-invalid", f"{name} holds a line break")
        lines.append(f"{_quote(name)}: {value}")
    lines.append(f'"@signature-params": {_params(components, params)}')
    return "\n".join(lines).encode()


def sign(
    key: Ed25519PrivateKey,
    *,
    keyid: str,
    values: Mapping[str, str],
    components: Sequence[str],
    created: int,
    nonce: str,
    label: str = "sig1",
) -> dict[str, str]:
    """The Signature-Input and Signature fields for a message with these component values."""
    params: dict[str, int | str] = {"created": created, "keyid": keyid, "alg": ALG, "nonce": nonce}
    signature = key.sign(signature_base(values, components, params))
    return {
        "Signature-Input": f"{label}={_params(components, params)}",
        "Signature": f"{label}=:{base64.b64encode(signature).decode()}:",
    }


@dataclass(frozen=True)
class Parsed:
    label: str
    components: tuple[str, ...]
    params: dict[str, int | str]
    signature: bytes

    @property
    def keyid(self) -> str:
        return str(self.params.get("keyid", ""))

    @property
    def nonce(self) -> str:
        return str(self.params.get("nonce", ""))

    @property
    def created(self) -> int:
        value = self.params.get("created")
        return value if isinstance(value, int) else 0


def _unquote(value: str) -> str:
    return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def parse(signature_input: str | None, signature: str | None, required: Sequence[str]) -> Parsed:
    """One signature, covering at least ``required``, with created, keyid and nonce; alg, if given, Ed25519."""
    if not signature_input or not signature:
        raise SignatureError("signature-missing", "the message needs Signature-Input and Signature fields (RFC 9421)")
    match = _INPUT_RE.fullmatch(signature_input)
    sig = _SIG_RE.fullmatch(signature)
    if match is None or sig is None:
        raise SignatureError(
            "signature-malformed",
            'Signature-Input and Signature must each hold one signature: label=("component" ...);created=...;keyid="..."',
        )
    label, inner, raw_params = match.groups()
    if sig.group(1) != label:
        raise SignatureError("signature-malformed", f"Signature has label {sig.group(1)!r}, Signature-Input {label!r}")
    components = tuple(_unquote(c) for c in inner.split(" ")) if inner else ()
    if len(set(components)) != len(components):
        raise SignatureError("signature-malformed", "a component is covered twice")
    params: dict[str, int | str] = {}
    for name, value in _PARAM_RE.findall(raw_params):
        if name in params:
            raise SignatureError("signature-malformed", f"the parameter {name} is given twice")
        params[name] = _unquote(value) if value.startswith('"') else int(value)
    missing = [c for c in required if c not in components]
    if missing:
        raise SignatureError(
            "signature-incomplete", f"the signature must cover {', '.join(required)}; it lacks {', '.join(missing)}"
        )
    for name, kind in (("created", int), ("keyid", str), ("nonce", str)):
        if not isinstance(params.get(name), kind):
            raise SignatureError("signature-incomplete", f"the signature parameters need {name}")
    if params.get("alg", ALG) != ALG:
        raise SignatureError("signature-algorithm", f'only alg="{ALG}" is accepted, not {params["alg"]!r}')
    try:
        raw = base64.b64decode(sig.group(2), validate=True)
    except binascii.Error:
        raise SignatureError("signature-malformed", "the signature is not base64") from None
    return Parsed(label, components, params, raw)


def verify(parsed: Parsed, key: Ed25519PublicKey, values: Mapping[str, str]) -> None:
    try:
        key.verify(parsed.signature, signature_base(values, parsed.components, parsed.params))
    except InvalidSignature:
        raise SignatureError("signature-invalid", "the signature does not verify with the key it names") from None
