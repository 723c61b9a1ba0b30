"""The ledger's operations: append an entry (in the caller's transaction) and read the log.

Everything read is bounded by the *published* checkpoint: the newest one with at
least ``NAGARA_LEDGER_WITNESS_QUORUM`` cosignatures from the configured
witnesses (the newest one of all when the quorum is 0). Tiles, proofs and
entries beyond it are not served until it is published.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from nagara.kit.db import Database, utcnow
from nagara.kit.errors import NotFound, Problem
from nagara.kit.settings import Settings
from nagara.ledger import entry as entries
from nagara.ledger import proof, tiles
from nagara.ledger.keys import LedgerMisconfigured, log_signer, resolve_origin, witness_targets
from nagara.ledger.merkle import leaf_hash, stored_consistency_proof, stored_inclusion_proof
from nagara.ledger.models import Cosignature, LogEntry, PendingEntry, SignedCheckpoint
from nagara.ledger.store import DatabaseTileStore, FullTileCache, TileHashReader, bundle_prefix
from nagara.runtime import runtime_of

__all__ = [
    "Published",
    "SubjectEntries",
    "append",
    "consistency_proof",
    "entry_dict",
    "entry_salt_for",
    "inclusion_proof",
    "log_vkey",
    "published_checkpoint",
    "read_tile",
    "subject_entries",
]

_PENDING = cast("Table", PendingEntry.__table__)
_APPEND = insert(_PENDING).returning(_PENDING.c.id)  # built once: appending is on every write's path


def append(
    session: Session,
    *,
    type: str,  # noqa: A002 - the entry field is called type
    tenant_code: str,
    subject: str,
    content: dict[str, Any],
    actor_role: str | None,
) -> int:
    """Add a pending entry in the caller's transaction; it is integrated after commit. Returns its pending id.

    ``content`` is the record's content as JSON (it is hashed with a salt, never
    logged); ``actor_role`` is the acting role's code, never the person.
    """
    secret = runtime_of(session).secret
    salt_id = entries.new_salt_id()
    now = utcnow()
    formatted = entries.format_entry(
        type=type,
        tenant=tenant_code,
        subject=subject,
        content_hash=entries.content_hash(entries.entry_salt(secret, salt_id), content),
        salt_id=salt_id,
        actor_role=actor_role,
        time=now,
    )
    values = {"type": type, "tenant_code": tenant_code, "subject": subject, "body": formatted.to_bytes(), "created_at": now}
    return int(session.execute(_APPEND, values).scalar_one())


def entry_dict(body: bytes) -> dict[str, Any]:
    """An entry's JSON, as stored (entries are canonical JSON objects)."""
    value = json.loads(body)
    if not isinstance(value, dict):
        raise TypeError("a ledger entry is a JSON object")
    return value


def entry_salt_for(session: Session, salt_id: str) -> bytes:
    """The salt of one entry, to reveal with the record's content when proving what the entry commits to."""
    return entries.entry_salt(runtime_of(session).secret, salt_id)


@dataclass(frozen=True)
class Published:
    size: int
    root_hash: bytes
    origin: str
    note: str
    """The signed checkpoint with every stored cosignature."""


class LedgerUnavailable(Problem):
    status = 503
    type_slug = "ledger-unavailable"
    title = "Ledger unavailable"


def published_checkpoint(session: Session, settings: Settings) -> Published | None:
    quorum = settings.ledger_witness_quorum
    query = select(SignedCheckpoint).order_by(SignedCheckpoint.size.desc()).limit(1)
    if quorum:
        try:
            labels = [t.label for t in witness_targets(settings)]
        except LedgerMisconfigured as exc:
            raise LedgerUnavailable(str(exc)) from None
        cosigned = (
            select(Cosignature.size)
            .where(Cosignature.witness.in_(labels))
            .group_by(Cosignature.size)
            .having(func.count() >= quorum)
            .order_by(Cosignature.size.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = select(SignedCheckpoint).where(SignedCheckpoint.size == cosigned)
    row = session.scalar(query)
    if row is None:
        return None
    lines = session.scalars(select(Cosignature.line).where(Cosignature.size == row.size).order_by(Cosignature.witness))
    text = row.note + "".join(line + "\n" for line in lines)
    return Published(row.size, row.root_hash, row.origin, text)


def require_published(session: Session, settings: Settings) -> Published:
    published = published_checkpoint(session, settings)
    if published is None:
        raise NotFound("the ledger has no published checkpoint yet")
    return published


def log_vkey(session: Session, settings: Settings) -> str:
    try:
        origin = resolve_origin(session, settings)
        if origin is None:
            raise LedgerUnavailable("this node has no ledger origin yet: load a state pack or set NAGARA_LEDGER_ORIGIN")
        return log_signer(settings, origin).vkey
    except LedgerMisconfigured as exc:
        raise LedgerUnavailable(str(exc)) from None


_PUBLISHED_FLOOR: WeakKeyDictionary[Database, int] = WeakKeyDictionary()
_TILE_CACHES: WeakKeyDictionary[Database, FullTileCache] = WeakKeyDictionary()


def published_size(session: Session, settings: Settings, at_least: int | None = None) -> int | None:
    """Size of the published checkpoint, or None: one small query, none if a size >= ``at_least`` was seen published."""
    db = runtime_of(session).db
    floor = _PUBLISHED_FLOOR.get(db, -1)
    if at_least is not None and 0 <= at_least <= floor:
        return floor  # published sizes only grow: a size seen published stays servable
    if settings.ledger_witness_quorum:
        published = published_checkpoint(session, settings)
        size = published.size if published else None
    else:
        size = session.scalar(select(func.max(SignedCheckpoint.size)))
    if size is not None and size > floor:
        _PUBLISHED_FLOOR[db] = size
    return size


def _reader(session: Session, size: int) -> TileHashReader:
    """A hash reader for committed data (read-only units of work), sharing the database's full-tile cache."""
    db = runtime_of(session).db
    cache = _TILE_CACHES.get(db)
    if cache is None:
        cache = _TILE_CACHES.setdefault(db, FullTileCache())
    return TileHashReader(DatabaseTileStore(session), size, cache)


def read_tile(session: Session, settings: Settings, tile: tiles.Tile) -> bytes | None:
    """A hash tile or entry bundle as tlog-tiles serves it; None unless the published tree has it."""
    needed = (tile.index * tiles.TILE_WIDTH + tile.width) << (tiles.TILE_HEIGHT * max(tile.level, 0))
    size = published_size(session, settings, at_least=needed)
    if size is None or tile.width > tiles.tile_width(tile.level, tile.index, size):
        return None
    stored = DatabaseTileStore(session).read_tiles([(tile.level, tile.index)]).get((tile.level, tile.index))
    if stored is None or stored[0] < tile.width:
        return None
    width, data = stored
    if tile.is_entries:
        return data if width == tile.width else bundle_prefix(data, tile.width)
    return data[: tile.width * 32]


def _servable(session: Session, settings: Settings, size: int) -> int:
    published = published_size(session, settings, at_least=size)
    if published is None:
        raise NotFound("the ledger has no published checkpoint yet")
    if size > published:
        raise NotFound(f"the published tree has {published} entries, fewer than {size}")
    return published


def inclusion_proof(session: Session, settings: Settings, index: int, size: int) -> list[bytes]:
    published = _servable(session, settings, size)
    if not 0 <= index < size:
        raise Problem(f"index {index} is not in a tree of size {size}")
    return stored_inclusion_proof(index, size, _reader(session, published))


def consistency_proof(session: Session, settings: Settings, old_size: int, new_size: int) -> list[bytes]:
    published = _servable(session, settings, new_size)
    if not 0 <= old_size <= new_size:
        raise Problem(f"a consistency proof needs 0 <= from <= to, not from={old_size}, to={new_size}")
    return stored_consistency_proof(old_size, new_size, _reader(session, published))


@dataclass(frozen=True)
class SubjectEntry:
    index: int
    body: bytes
    proof: str  # C2SP tlog-proof, with the entry as its extra data


@dataclass(frozen=True)
class SubjectEntries:
    subject: str
    checkpoint: Published | None
    entries: Sequence[SubjectEntry]
    pending: int  # entries for the subject not yet in the published tree


def subject_entries(session: Session, settings: Settings, subject: str, *, limit: int = 100) -> SubjectEntries:
    """The newest ``limit`` published entries for a subject, each with an offline tlog-proof."""
    published = published_checkpoint(session, settings)
    size = published.size if published else 0
    rows = list(
        session.scalars(
            select(LogEntry.idx)
            .where(LogEntry.subject == subject, LogEntry.idx < size)
            .order_by(LogEntry.idx.desc())
            .limit(limit)
        )
    )
    rows.reverse()
    pending = (session.scalar(select(func.count()).where(LogEntry.subject == subject, LogEntry.idx >= size)) or 0) + (
        session.scalar(select(func.count()).select_from(PendingEntry).where(PendingEntry.subject == subject)) or 0
    )
    if published is None or not rows:
        return SubjectEntries(subject, published, [], pending)
    store = DatabaseTileStore(session)
    bundles = store.read_tiles({(tiles.ENTRIES_LEVEL, i // tiles.TILE_WIDTH) for i in rows})
    reader = TileHashReader(store, size)
    found: list[SubjectEntry] = []
    for index in rows:
        _width, data = bundles[(tiles.ENTRIES_LEVEL, index // tiles.TILE_WIDTH)]
        body = tiles.decode_entry_bundle(data)[index % tiles.TILE_WIDTH]
        path = stored_inclusion_proof(index, size, reader)
        found.append(SubjectEntry(index, body, proof.build_proof(index, leaf_hash(body), path, published.note, extra=body)))
    return SubjectEntries(subject, published, found, pending)
