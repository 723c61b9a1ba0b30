"""The node's log: its origin, its signing key, its witness key and the witnesses it trusts.

One node serves one log. Its origin is, in order: the origin of the log's first
checkpoint (a log never changes origin; a different ``NAGARA_LEDGER_ORIGIN`` is
refused), else ``NAGARA_LEDGER_ORIGIN``, else the ``ledger_origin`` the loaded
states' packs name. When the loaded states name different logs, none of them is
taken: one state's records must not be signed into another state's log, so the
node refuses (:class:`LedgerMisconfigured`) until ``NAGARA_LEDGER_ORIGIN`` names
its log. Each state's records in its own log means a node per state
(``nagara ledger demo-pair`` runs Kerala's and Karnataka's); ``nagara demo`` on
one node with both packs names a log of its own (``demo.DEMO_LEDGER_ORIGIN``).

Keys are C2SP signed-note key strings. The log key is ``NAGARA_LEDGER_KEY``
(``PRIVATE+KEY+<origin>+<key id>+base64(0x01 || seed)``); the witness key is
``NAGARA_LEDGER_WITNESS_KEY``, the same form with type byte 0x04 (tlog-cosignature
Ed25519) and a key ID computed with that type. Outside production a missing key is
generated once and kept under ``<var_dir>/ledger/``; production refuses to start
without the log key (``Settings.insecure_production_problems``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.kit.settings import Settings
from nagara.ledger import note
from nagara.ledger.checkpoint import CosignatureSigner, CosignatureVerifier
from nagara.ledger.models import SignedCheckpoint
from nagara.tenancy.models import State

__all__ = [
    "LedgerMisconfigured",
    "WitnessTarget",
    "cosigner_key_string",
    "generate_cosigner_key",
    "key_label",
    "load_cosigner",
    "log_signer",
    "resolve_origin",
    "states_origins",
    "witness_signer",
    "witness_targets",
    "witnessed_verifiers",
]

KEY_DIR = "ledger"


class LedgerMisconfigured(RuntimeError):
    """The ledger's settings are missing or contradict the stored log."""


def key_label(name: str, key_id: int) -> str:
    """How a key is named in our tables: ``<key name>+<key id hex>``."""
    return f"{name}+{key_id:08x}"


def resolve_origin(session: Session, settings: Settings) -> str | None:
    """The log's origin (see the module docstring); None when nothing names one yet."""
    stored = session.scalar(select(SignedCheckpoint.origin).order_by(SignedCheckpoint.size).limit(1))
    configured = settings.ledger_origin or None
    if stored is not None:
        if configured is not None and configured != stored:
            raise LedgerMisconfigured(
                f"NAGARA_LEDGER_ORIGIN is {configured!r} but this database holds the log {stored!r}; a log never changes origin"
            )
        return stored
    if configured is not None:
        return configured
    named = states_origins(session)
    if len(set(named.values())) > 1:
        logs = ", ".join(f"{state}: {origin}" for state, origin in named.items())
        raise LedgerMisconfigured(
            f"the loaded states name different logs ({logs}) and a node serves one log: run a node per state, or set"
            " NAGARA_LEDGER_ORIGIN to this node's log"
        )
    return next(iter(named.values()), None)


def states_origins(session: Session) -> dict[str, str]:
    """The log each loaded state's pack names for its records, by state code."""
    rows = session.execute(select(State.code, State.ledger_origin).where(State.ledger_origin.is_not(None)).order_by(State.code))
    return {code: str(origin) for code, origin in rows}


def _dev_key(settings: Settings, filename: str, make: Callable[[], str]) -> str:
    """A key generated once and kept under var_dir (development and tests only)."""
    if settings.env == "production":
        raise LedgerMisconfigured(f"refusing to generate a ledger key in production: set the key ({filename})")
    directory = Path(settings.var_dir) / KEY_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    if not path.exists():
        tmp = directory / f".{filename}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (make() + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic: the first process to link wins, the others read its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def log_signer(settings: Settings, origin: str) -> note.Ed25519Signer:
    """The log's Ed25519 note signer, whose key name is the origin."""
    raw = settings.ledger_key.get_secret_value()
    if not raw:
        raw = _dev_key(settings, quote(origin, safe="") + ".key", lambda: note.generate_key(origin)[0])
    try:
        signer = note.Ed25519Signer.from_private_key_string(raw)
    except note.NoteError as exc:
        raise LedgerMisconfigured(f"NAGARA_LEDGER_KEY is not a usable key: {exc}") from None
    if signer.name != origin:
        raise LedgerMisconfigured(f"the ledger key is named {signer.name!r}, not the log's origin {origin!r}")
    return signer


def cosigner_key_string(name: str, private_key: Ed25519PrivateKey) -> str:
    """``PRIVATE+KEY+<name>+<key id>+base64(0x04 || seed)`` for a tlog-cosignature Ed25519 key."""
    signer = CosignatureSigner(name, private_key)
    material = note.b64encode(bytes([note.SIG_TYPE_COSIGNATURE_V1]) + private_key.private_bytes_raw())
    return f"PRIVATE+KEY+{name}+{signer.key_id:08x}+{material}"


def generate_cosigner_key(name: str) -> tuple[str, str]:
    """New witness key pair as ``(private key string, vkey string)``."""
    key = Ed25519PrivateKey.generate()
    return cosigner_key_string(name, key), CosignatureSigner(name, key).vkey


def load_cosigner(skey: str) -> CosignatureSigner:
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise LedgerMisconfigured("a witness key must have the form PRIVATE+KEY+name+keyid+key")
    _, _, name, key_id_hex, material_b64 = parts
    try:
        material = note.b64decode(material_b64)
    except ValueError:
        raise LedgerMisconfigured("the witness key material is not valid base64") from None
    if len(material) != 33 or material[0] != note.SIG_TYPE_COSIGNATURE_V1:
        raise LedgerMisconfigured("a witness key must be base64(0x04 || 32-byte Ed25519 seed)")
    try:
        signer = CosignatureSigner(name, Ed25519PrivateKey.from_private_bytes(material[1:]))
    except note.NoteError as exc:
        raise LedgerMisconfigured(f"invalid witness key: {exc}") from None
    if f"{signer.key_id:08x}" != key_id_hex:
        raise LedgerMisconfigured("the witness key's ID does not match its name and key")
    return signer


def witness_signer(settings: Settings, origin: str | None) -> CosignatureSigner:
    """This node's cosigning key; in development named ``<origin host>/witness``."""
    raw = settings.ledger_witness_key.get_secret_value()
    if not raw:
        name = (origin.split("/", 1)[0] if origin else "nagara.localhost") + "/witness"
        raw = _dev_key(settings, "witness.key", lambda: generate_cosigner_key(name)[0])
    return load_cosigner(raw)


def witnessed_verifiers(settings: Settings) -> dict[str, list[note.Verifier]]:
    """The logs this node witnesses: origin -> the log's Ed25519 verifiers."""
    out: dict[str, list[note.Verifier]] = {}
    for vkey in settings.ledger_witnessed_logs:
        try:
            verifier = note.Ed25519Verifier.from_vkey(vkey)
        except note.NoteError as exc:
            raise LedgerMisconfigured(f"NAGARA_LEDGER_WITNESSED_LOGS has an unusable log key {vkey!r}: {exc}") from None
        out.setdefault(verifier.name, []).append(verifier)
    return out


@dataclass(frozen=True)
class WitnessTarget:
    """A witness this node submits its checkpoints to."""

    url: str  # the submission prefix; add-checkpoint is posted to <url>/add-checkpoint
    verifier: CosignatureVerifier

    @property
    def label(self) -> str:
        return key_label(self.verifier.name, self.verifier.key_id)


def witness_targets(settings: Settings) -> list[WitnessTarget]:
    out: list[WitnessTarget] = []
    for url, vkey in sorted(settings.ledger_witnesses.items()):
        try:
            verifier = CosignatureVerifier.from_vkey(vkey)
        except note.NoteError as exc:
            raise LedgerMisconfigured(f"NAGARA_LEDGER_WITNESSES has an unusable witness key {vkey!r}: {exc}") from None
        out.append(WitnessTarget(url.rstrip("/"), verifier))
    return out
