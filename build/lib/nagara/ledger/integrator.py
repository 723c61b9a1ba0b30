"""The integrator: pending entries -> consecutive indexes, tiles and a signed checkpoint.

One run is one transaction (the job's unit of work, under the single-runner
lock): it takes pending entries in batches of ``batch_size`` until none are left
or ``max_seconds`` have passed, and signs one checkpoint for the new size. The
checkpoint, the tiles and the index rows commit together, so the newest
checkpoint's size is always the size of the stored tree, and a run killed at
any moment leaves the log as it was before the run.

The hot path issues a fixed number of statements per batch: on PostgreSQL one
statement takes the batch and writes its index rows, then one insert and one
update of tiles; no ORM objects are built.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, delete, insert, select, text
from sqlalchemy.orm import Session

from nagara.kit.db import utcnow
from nagara.kit.settings import Settings
from nagara.ledger import tiles
from nagara.ledger.checkpoint import Checkpoint, sign_checkpoint
from nagara.ledger.keys import log_signer, resolve_origin
from nagara.ledger.merkle import hashes_to_store, leaf_hash, stored_root
from nagara.ledger.models import LogEntry, PendingEntry, SignedCheckpoint
from nagara.ledger.store import DatabaseTileStore, TileHashReader, bundle_prefix

__all__ = ["Integration", "LedgerCorrupt", "integrate"]

log = logging.getLogger("nagara.ledger")

_PENDING = cast("Table", PendingEntry.__table__)
_ENTRIES = cast("Table", LogEntry.__table__)
_CHECKPOINTS = cast("Table", SignedCheckpoint.__table__)
TILE = tiles.TILE_WIDTH


class LedgerCorrupt(RuntimeError):
    """Stored tiles disagree with the newest checkpoint; integration stops rather than build on them."""


@dataclass(frozen=True)
class Integration:
    origin: str | None
    old_size: int
    size: int
    batches: int
    checkpoint: str | None  # the signed note, when this run signed one
    more: bool = False  # stopped at the time budget with entries still pending


# PostgreSQL: take the batch, number it and write its index rows in one statement (one round
# trip, no per-row statements). Data-modifying CTEs are PostgreSQL-only; SQLite takes the
# portable path below, where executemany is a loop in C anyway.
_TAKE_PG = text(
    """
WITH batch AS (
    SELECT id, CAST(:base AS bigint) + row_number() OVER (ORDER BY id) - 1 AS idx
    FROM (SELECT id FROM ledger_pending ORDER BY id LIMIT :n) AS oldest
), taken AS (
    DELETE FROM ledger_pending WHERE id = ANY(ARRAY(SELECT id FROM batch))
    RETURNING id, type, tenant_code, subject, body
), numbered AS (
    SELECT batch.idx, taken.type, taken.tenant_code, taken.subject, taken.body FROM taken JOIN batch USING (id)
), indexed AS (
    INSERT INTO ledger_entries (idx, type, tenant_code, subject) SELECT idx, type, tenant_code, subject FROM numbered
)
SELECT idx, body FROM numbered
"""
)


def _take_batch(session: Session, size: int, limit: int) -> list[bytes]:
    """Move the oldest ``limit`` committed pending entries to indexes ``size``, ``size + 1``...; return their bodies."""
    if session.get_bind().dialect.name == "postgresql":
        # "= ANY(ARRAY(...))" keeps the delete on the primary key however long the queue; bodies are sorted here
        # rather than by PostgreSQL, whose sort of ~3 MB would spill to disk at the default work_mem.
        rows = sorted(session.execute(_TAKE_PG, {"n": limit, "base": size}).all(), key=lambda r: int(r[0]))
        return [bytes(r[1]) for r in rows]
    oldest = select(_PENDING.c.id).order_by(_PENDING.c.id).limit(limit)
    result = session.execute(
        delete(_PENDING)
        .where(_PENDING.c.id.in_(oldest.scalar_subquery()))
        .returning(_PENDING.c.id, _PENDING.c.type, _PENDING.c.tenant_code, _PENDING.c.subject, _PENDING.c.body)
    )
    taken = sorted((int(r[0]), str(r[1]), str(r[2]), str(r[3]), bytes(r[4])) for r in result)
    if taken:
        session.execute(
            insert(_ENTRIES),
            [{"idx": size + i, "type": r[1], "tenant_code": r[2], "subject": r[3]} for i, r in enumerate(taken)],
        )
    return [r[4] for r in taken]


def _append(store: DatabaseTileStore, size: int, bodies: Sequence[bytes]) -> int:
    """Store the tiles and entry bundles for ``bodies`` appended to a tree of ``size``; return the new size."""
    leaves = [leaf_hash(b) for b in bodies]
    new_size = size + len(leaves)
    tile_hashes: dict[tuple[int, int], bytes] = {}
    for (level, index), digest in hashes_to_store(size, leaves, TileHashReader(store, size)):
        if level % tiles.TILE_HEIGHT == 0:
            tile_hashes[(level // tiles.TILE_HEIGHT, index)] = digest
    changed = tiles.new_tiles(size, new_size)
    grown_keys = [(t.level, t.index) for t in changed if tiles.tile_width(t.level, t.index, size)]
    grown_keys += [(tiles.ENTRIES_LEVEL, n) for lv, n in grown_keys if lv == 0]
    stored = store.read_tiles(grown_keys)
    created: list[tuple[int, int, int, bytes]] = []
    grown: list[tuple[int, int, int, bytes]] = []
    for tile in changed:
        old_width = tiles.tile_width(tile.level, tile.index, size)
        first = tile.index * TILE
        fresh = b"".join(tile_hashes[(tile.level, first + i)] for i in range(old_width, tile.width))
        bundle = b""
        if tile.level == 0:
            bundle = tiles.encode_entry_bundle(bodies[first + old_width - size : first + tile.width - size])
        if not old_width:
            created.append((tile.level, tile.index, tile.width, fresh))
            if tile.level == 0:
                created.append((tiles.ENTRIES_LEVEL, tile.index, tile.width, bundle))
            continue
        width, data = stored.get((tile.level, tile.index), (0, b""))
        if width != old_width:
            raise LedgerCorrupt(f"tile {tile.path} is stored with width {width}, expected {old_width} at size {size}")
        grown.append((tile.level, tile.index, tile.width, data + fresh))
        if tile.level == 0:
            width, data = stored.get((tiles.ENTRIES_LEVEL, tile.index), (0, b""))
            if width != old_width:
                raise LedgerCorrupt(f"entry bundle {tile.index} is stored with width {width}, expected {old_width}")
            grown.append((tiles.ENTRIES_LEVEL, tile.index, tile.width, bundle_prefix(data, width) + bundle))
    store.write_tiles(created, grown)
    return new_size


def integrate(
    session: Session,
    settings: Settings,
    *,
    batch_size: int | None = None,
    max_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Integration:
    """Integrate pending entries and sign a checkpoint; the caller holds the single-runner lock and commits."""
    origin = resolve_origin(session, settings)
    if origin is None:
        log.debug("ledger: no origin yet (no NAGARA_LEDGER_ORIGIN and no state pack loaded); nothing integrated")
        return Integration(None, 0, 0, 0, None)
    signer = log_signer(settings, origin)
    batch_size = batch_size or settings.ledger_batch_size
    budget = settings.ledger_run_seconds if max_seconds is None else max_seconds
    head = session.execute(
        select(SignedCheckpoint.size, SignedCheckpoint.root_hash).order_by(SignedCheckpoint.size.desc()).limit(1)
    ).first()
    old_size = size = head.size if head else 0
    store = DatabaseTileStore(session)
    started = clock()
    batches = 0
    more = False
    while True:
        # Build only on a tree whose stored tiles still give the signed root.
        if head is not None and not batches and stored_root(size, TileHashReader(store, size)) != head.root_hash:
            raise LedgerCorrupt(f"the stored tiles do not give the root of the checkpoint of size {size}")
        bodies = _take_batch(session, size, batch_size)
        if not bodies:
            break
        batches += 1
        size = _append(store, size, bodies)
        if len(bodies) < batch_size:
            break
        if clock() - started >= budget:
            more = True
            break
    if head is not None and size == old_size:
        return Integration(origin, old_size, size, 0, None)
    root = stored_root(size, TileHashReader(store, size))
    signed = sign_checkpoint(Checkpoint(origin, size, root), [signer])
    session.execute(insert(_CHECKPOINTS).values(size=size, origin=origin, root_hash=root, note=signed, created_at=utcnow()))
    log.info("ledger: integrated %d entries in %d batch(es); tree size %d", size - old_size, batches, size)
    return Integration(origin, old_size, size, batches, signed, more)
