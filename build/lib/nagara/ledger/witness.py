"""C2SP tlog-witness, both ways.

As a witness: ``add_checkpoint`` checks a log's checkpoint against the latest one
this node cosigned for that origin (locking that row, so the check and the
update are atomic) and returns a tlog-cosignature Ed25519 cosignature.

As a log: ``submit_all`` sends this node's newest checkpoint, with a consistency
proof from what each witness last cosigned, to every witness in
``NAGARA_LEDGER_WITNESSES``, and stores the cosignatures that verify. It runs
outside any transaction (after the ``ledger.witness`` job commits), so no
database lock is held while waiting on a witness; running it twice at once is
harmless (the witness answers the second with 409 and we learn its size).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nagara.kit.db import insert_ignoring_conflict, utcnow
from nagara.kit.errors import Forbidden, NotFound, Problem
from nagara.kit.settings import Settings
from nagara.ledger import note
from nagara.ledger.checkpoint import CheckpointError, cosignature_timestamp, open_checkpoint
from nagara.ledger.keys import WitnessTarget, resolve_origin, witness_signer, witness_targets, witnessed_verifiers
from nagara.ledger.merkle import EMPTY_ROOT, HASH_SIZE, MerkleProofError, stored_consistency_proof, verify_consistency
from nagara.ledger.models import Cosignature, SignedCheckpoint, WitnessedLog, WitnessStatus
from nagara.ledger.store import DatabaseTileStore, TileHashReader
from nagara.runtime import Runtime

__all__ = ["SIZE_CONTENT_TYPE", "SizeConflict", "Unprocessable", "add_checkpoint", "parse_request", "submit_all"]

log = logging.getLogger("nagara.ledger")

SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
_OLD = re.compile(r"old (0|[1-9][0-9]*)")


class Unprocessable(Problem):
    status = 422
    type_slug = "unprocessable-checkpoint"
    title = "Checkpoint not consistent"


class SizeConflict(Problem):
    """409: the old size is not what this witness last cosigned; the body must be that size."""

    status = 409
    type_slug = "witness-size-conflict"
    title = "Old size does not match"

    def __init__(self, size: int) -> None:
        super().__init__(f"the latest cosigned checkpoint has size {size}")
        self.size = size


@dataclass(frozen=True)
class AddRequest:
    old_size: int
    proof: list[bytes]
    checkpoint: str


def parse_request(body: bytes) -> AddRequest:
    """Parse an add-checkpoint body: ``old N``, proof lines, an empty line, the checkpoint (400 if malformed)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem("the request body is not UTF-8") from None
    head, sep, signed = text.partition("\n\n")
    if not sep:
        raise Problem("the request body has no empty line before the checkpoint")
    lines = head.split("\n")
    match = _OLD.fullmatch(lines[0])
    if match is None:
        raise Problem("the first line must be 'old <size>' with a canonical decimal size")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise Problem(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof: list[bytes] = []
    for line in lines[1:]:
        try:
            digest = note.b64decode(line)
        except ValueError:
            raise Problem(f"consistency proof line is not base64: {line!r}") from None
        if len(digest) != HASH_SIZE:
            raise Problem("each consistency proof line must be one SHA-256 hash")
        proof.append(digest)
    return AddRequest(int(match.group(1)), proof, signed)


def add_checkpoint(session: Session, settings: Settings, body: bytes) -> str:
    """Cosign a checkpoint of a log this node witnesses; returns the cosignature line(s)."""
    request = parse_request(body)
    try:
        origin = note.parse_note(request.checkpoint).text.split("\n", 1)[0]
    except note.NoteError as exc:
        raise Problem(f"malformed checkpoint note: {exc}") from None
    verifiers = witnessed_verifiers(settings).get(origin)
    if not verifiers:
        raise NotFound(f"this witness does not witness the log {origin!r}")
    try:
        checkpoint, opened = open_checkpoint(request.checkpoint, verifiers, origin=origin)
    except (note.InvalidSignatureError, note.UnverifiedNoteError) as exc:
        raise Forbidden(f"checkpoint signature: {exc}") from None
    except (note.NoteError, CheckpointError) as exc:
        raise Problem(f"malformed checkpoint: {exc}") from None
    if request.old_size > checkpoint.size:
        raise Problem(f"old size {request.old_size} is larger than the checkpoint size {checkpoint.size}")

    # Check and update under the row's lock (PostgreSQL: FOR UPDATE; SQLite: the write lock of BEGIN IMMEDIATE).
    insert_ignoring_conflict(
        session, WitnessedLog.__table__, {"origin": origin, "size": 0, "root_hash": EMPTY_ROOT, "updated_at": utcnow()}
    )
    state = session.execute(
        select(WitnessedLog.size, WitnessedLog.root_hash).where(WitnessedLog.origin == origin).with_for_update()
    ).one()
    if request.old_size != state.size:
        raise SizeConflict(state.size)
    if checkpoint.size == 0 and checkpoint.root_hash != EMPTY_ROOT:
        raise Unprocessable("a checkpoint of size 0 must carry the empty tree's root hash")
    if request.old_size == 0:
        if request.proof:
            raise Unprocessable("the consistency proof from size 0 must be empty")
    else:
        try:
            verify_consistency(request.old_size, checkpoint.size, request.proof, state.root_hash, checkpoint.root_hash)
        except MerkleProofError as exc:
            raise Unprocessable(f"not consistent with the checkpoint of size {state.size} cosigned before: {exc}") from None

    cosigner = witness_signer(settings, resolve_origin(session, settings))
    cosignature = cosigner.cosign(opened.text)
    stored = note.Note(opened.text, (*opened.verified, cosignature)).format()
    session.execute(
        update(WitnessedLog)
        .where(WitnessedLog.origin == origin)
        .values(size=checkpoint.size, root_hash=checkpoint.root_hash, note=stored, updated_at=utcnow())
    )
    return cosignature.line() + "\n"


def witnessed_checkpoint(session: Session, origin_hash: str) -> str | None:
    """The latest checkpoint cosigned for the log whose origin has this SHA-256 (tlog-witness monitoring)."""
    for origin, text in session.execute(select(WitnessedLog.origin, WitnessedLog.note).where(WitnessedLog.note.is_not(None))):
        if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
            return text
    return None


# --- submitting our checkpoints ------------------------------------------------


def _record(runtime: Runtime, target: WitnessTarget, *, size: int | None = None, error: str | None = None) -> None:
    with runtime.db.unit_of_work() as session:
        insert_ignoring_conflict(session, WitnessStatus.__table__, {"witness": target.label, "size": 0, "updated_at": utcnow()})
        values: dict[str, object] = {"last_error": error, "updated_at": utcnow()}
        if size is not None:
            values["size"] = size
        session.execute(update(WitnessStatus).where(WitnessStatus.witness == target.label).values(**values))


def _request_body(runtime: Runtime, old: int, latest_size: int, signed: str) -> str:
    proof: list[bytes] = []
    if 0 < old < latest_size:
        with runtime.db.unit_of_work(readonly=True) as session:
            reader = TileHashReader(DatabaseTileStore(session), latest_size)
            proof = stored_consistency_proof(old, latest_size, reader)
    return f"old {old}\n" + "".join(note.b64encode(h) + "\n" for h in proof) + "\n" + signed


def submit(runtime: Runtime, target: WitnessTarget, http: httpx.Client) -> str:
    """Submit our newest checkpoint to one witness; returns what happened."""
    with runtime.db.unit_of_work(readonly=True) as session:
        latest = session.execute(
            select(SignedCheckpoint.size, SignedCheckpoint.note).order_by(SignedCheckpoint.size.desc()).limit(1)
        ).first()
        if latest is None:
            return "no checkpoint yet"
        if session.get(Cosignature, (latest.size, target.label)) is not None:
            return "up to date"
        status = session.get(WitnessStatus, target.label)
        old = status.size if status else 0
    response: httpx.Response | None = None
    for _ in range(2):
        if old > latest.size:
            message = f"the witness has cosigned size {old}, beyond this log's {latest.size}: the log went back"
            log.error("ledger: witness %s: %s", target.label, message)
            _record(runtime, target, error=message)
            return message
        body = _request_body(runtime, old, latest.size, latest.note)
        try:
            response = http.post(target.url + "/add-checkpoint", content=body.encode(), headers={"Content-Type": "text/plain"})
        except httpx.HTTPError as exc:
            _record(runtime, target, error=f"unreachable: {exc!r}"[:500])
            return "unreachable"
        if response.status_code == 409 and response.headers.get("content-type", "").startswith(SIZE_CONTENT_TYPE):
            try:
                old = int(response.text.strip())
            except ValueError:
                break
            _record(runtime, target, size=old)
            continue
        break
    if response is None or response.status_code != 200:
        detail = "no response" if response is None else f"HTTP {response.status_code}: {response.text[:300]}"
        log.warning("ledger: witness %s refused checkpoint %d: %s", target.label, latest.size, detail)
        _record(runtime, target, error=detail)
        return detail
    try:
        opened = note.open_note(latest.note + response.text, [target.verifier])
    except note.NoteError as exc:
        _record(runtime, target, error=f"bad cosignature: {exc}")
        return f"bad cosignature: {exc}"
    with runtime.db.unit_of_work() as session:
        for sig in opened.verified:
            insert_ignoring_conflict(
                session,
                Cosignature.__table__,
                {
                    "size": latest.size,
                    "witness": target.label,
                    "line": sig.line(),
                    "timestamp": cosignature_timestamp(sig),
                    "created_at": utcnow(),
                },
            )
    _record(runtime, target, size=latest.size)
    return "cosigned"


def submit_all(runtime: Runtime, http: httpx.Client | None = None) -> dict[str, str]:
    """Submit the newest checkpoint to every configured witness; never raises (failures are recorded)."""
    try:
        targets = witness_targets(runtime.settings)
    except Exception:
        log.exception("ledger: witness settings are unusable")
        return {}
    if not targets:
        return {}
    client = http or httpx.Client(timeout=10.0)
    outcomes: dict[str, str] = {}
    try:
        for target in targets:
            try:
                outcomes[target.label] = submit(runtime, target, client)
            except Exception as exc:
                log.exception("ledger: submitting to witness %s failed", target.label)
                outcomes[target.label] = f"failed: {exc!r}"
    finally:
        if http is None:
            client.close()
    return outcomes
