"""The public ledger over HTTP, outside /api/v1: C2SP tlog-tiles, tlog-witness, and JSON helpers.

Everything here is public (the log is for anyone to check) and read-only except
the witness's add-checkpoint, which tlog-witness authenticates by the
checkpoint's signature alone.
"""

from __future__ import annotations

import gzip
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse

from nagara.identity.deps import DbSession, get_runtime
from nagara.kit.api import MAX_TREE_SIZE
from nagara.kit.errors import NotFound, Problem
from nagara.ledger import keys, note, service, tiles, witness
from nagara.ledger.merkle import leaf_hash
from nagara.ledger.schemas import ConsistencyProofOut, EntryOut, InclusionProofOut, SubjectEntriesOut
from nagara.runtime import Runtime

router = APIRouter(prefix="/ledger", tags=["ledger"])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
TEXT = "text/plain; charset=utf-8"
OCTETS = "application/octet-stream"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=1"


def _b64(hashes: list[bytes]) -> list[str]:
    return [note.b64encode(h) for h in hashes]


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={200: {"content": {TEXT: {}}, "description": "The published checkpoint (C2SP tlog-checkpoint), cosigned"}},
)
def get_checkpoint(session: DbSession, runtime: RuntimeDep) -> PlainTextResponse:
    """The newest published checkpoint with its witnesses' cosignatures."""
    published = service.require_published(session, runtime.settings)
    return PlainTextResponse(published.note, media_type=TEXT, headers={"Cache-Control": SHORT})


@router.get("/vkey", response_class=PlainTextResponse, responses={200: {"content": {TEXT: {}}}})
def get_vkey(session: DbSession, runtime: RuntimeDep) -> PlainTextResponse:
    """The log's verifier key (C2SP signed-note vkey); its name is the log's origin."""
    vkey = service.log_vkey(session, runtime.settings)
    return PlainTextResponse(vkey + "\n", media_type=TEXT, headers={"Cache-Control": "public, max-age=300"})


@router.get("/tile/{level}/{rest:path}", responses={200: {"content": {OCTETS: {}}}})
def get_tile(level: str, rest: str, request: Request, session: DbSession, runtime: RuntimeDep) -> Response:
    """A hash tile ``tile/<L>/<N>[.p/<W>]`` or an entry bundle ``tile/entries/<N>[.p/<W>]`` (C2SP tlog-tiles)."""
    path = f"tile/{level}/{rest}"
    try:
        tile = tiles.parse_tile_path(path)
    except tiles.TileError:
        raise NotFound(f"{path} is not a tlog-tiles path") from None
    data = service.read_tile(session, runtime.settings, tile)
    if data is None:
        raise NotFound(f"{path} is not in the published tree")
    headers = {"Cache-Control": IMMUTABLE}
    if tile.is_entries:
        headers["Vary"] = "Accept-Encoding"
        if "gzip" in request.headers.get("accept-encoding", ""):
            data = gzip.compress(data, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
    return Response(data, media_type=OCTETS, headers=headers)


@router.get("/proof/inclusion", response_model=InclusionProofOut)
def get_inclusion_proof(
    session: DbSession,
    runtime: RuntimeDep,
    index: Annotated[int, Query(ge=0, le=MAX_TREE_SIZE)],
    size: Annotated[int, Query(ge=1, le=MAX_TREE_SIZE)],
) -> InclusionProofOut:
    """Inclusion proof of entry ``index`` in the tree of ``size`` entries."""
    hashes = service.inclusion_proof(session, runtime.settings, index, size)
    return InclusionProofOut(index=index, size=size, hashes=_b64(hashes))


@router.get("/proof/consistency", response_model=ConsistencyProofOut)
def get_consistency_proof(
    session: DbSession,
    runtime: RuntimeDep,
    from_size: Annotated[int, Query(alias="from", ge=0, le=MAX_TREE_SIZE)],
    to_size: Annotated[int, Query(alias="to", ge=0, le=MAX_TREE_SIZE)],
) -> ConsistencyProofOut:
    """Consistency proof from the tree of ``from`` entries to the tree of ``to`` entries."""
    hashes = service.consistency_proof(session, runtime.settings, from_size, to_size)
    return ConsistencyProofOut(from_size=from_size, to_size=to_size, hashes=_b64(hashes))


@router.get("/entries/{subject:path}", response_model=SubjectEntriesOut)
def get_subject_entries(
    subject: str,
    session: DbSession,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> SubjectEntriesOut:
    """The entries for an application number, certificate id or payment reference, each with an offline proof."""
    found = service.subject_entries(session, runtime.settings, subject, limit=limit)
    entries = [
        EntryOut(
            index=e.index,
            entry=service.entry_dict(e.body),
            leaf_hash=note.b64encode(leaf_hash(e.body)),
            proof=e.proof,
        )
        for e in found.entries
    ]
    return SubjectEntriesOut(
        subject=subject,
        tree_size=found.checkpoint.size if found.checkpoint else 0,
        checkpoint=found.checkpoint.note if found.checkpoint else None,
        entries=entries,
        pending=found.pending,
    )


MAX_WITNESS_REQUEST = 64 * 1024  # a checkpoint with 100 signatures and 63 proof lines is well under this


class RequestTooLarge(Problem):
    status = 413
    type_slug = "request-too-large"
    title = "Request too large"


async def _raw_body(request: Request) -> bytes:
    """The request body, refusing more than MAX_WITNESS_REQUEST bytes without reading them all."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WITNESS_REQUEST:
            raise RequestTooLarge(f"an add-checkpoint request is at most {MAX_WITNESS_REQUEST} bytes")
    return bytes(body)


@router.post(
    "/witness/add-checkpoint",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {TEXT: {}}, "description": "The witness's cosignature line(s)"},
        409: {"content": {witness.SIZE_CONTENT_TYPE: {}}, "description": "The size of the latest cosigned checkpoint"},
    },
)
def post_add_checkpoint(body: Annotated[bytes, Depends(_raw_body)], session: DbSession, runtime: RuntimeDep) -> Response:
    """C2SP tlog-witness add-checkpoint: cosign a witnessed log's checkpoint if it is consistent."""
    try:
        lines = witness.add_checkpoint(session, runtime.settings, body)
    except witness.SizeConflict as conflict:
        # Exactly text/x.tlog.size (no charset parameter), as tlog-witness requires.
        headers = {"Content-Type": witness.SIZE_CONTENT_TYPE, "Cache-Control": "no-store"}
        return Response(f"{conflict.size}\n".encode(), status_code=409, headers=headers)
    except keys.LedgerMisconfigured as exc:
        raise service.LedgerUnavailable(str(exc)) from None
    return PlainTextResponse(lines, media_type=TEXT, headers={"Cache-Control": "no-store"})


@router.get("/witness/vkey", response_class=PlainTextResponse, responses={200: {"content": {TEXT: {}}}})
def get_witness_vkey(session: DbSession, runtime: RuntimeDep) -> PlainTextResponse:
    """This node's witness verifier key (tlog-cosignature Ed25519, type 0x04)."""
    try:
        cosigner = keys.witness_signer(runtime.settings, keys.resolve_origin(session, runtime.settings))
    except keys.LedgerMisconfigured as exc:
        raise service.LedgerUnavailable(str(exc)) from None
    return PlainTextResponse(cosigner.vkey + "\n", media_type=TEXT, headers={"Cache-Control": "public, max-age=300"})


@router.get("/witness/{origin_hash}/checkpoint", response_class=PlainTextResponse, responses={200: {"content": {TEXT: {}}}})
def get_witnessed_checkpoint(origin_hash: str, session: DbSession) -> PlainTextResponse:
    """tlog-witness monitoring: the latest checkpoint this witness cosigned for the log with that origin hash."""
    text = witness.witnessed_checkpoint(session, origin_hash)
    if text is None:
        raise NotFound("this witness has not cosigned a checkpoint of that log")
    return PlainTextResponse(text, media_type=TEXT, headers={"Cache-Control": SHORT})
