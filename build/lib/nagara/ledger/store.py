"""Tile storage and the Merkle hash reader built on it.

The tree is stored as C2SP tlog-tiles: hash tiles hold the Merkle hashes at
levels 0, 8, 16...; every other complete subtree hash is the Merkle hash of a
run of hashes inside one tile, recomputed on reading (at most 255 SHA-256
calls per tile). So the database holds about 32 bytes per entry for the tree,
an integration batch writes a few dozen tile rows rather than two rows per
entry, and tiles are served as stored.

``TileStore`` is the storage interface; ``DatabaseTileStore`` (the
``ledger_tiles`` table) is the only backend so far.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Protocol, cast

from sqlalchemy import Table, bindparam, insert, select, tuple_, update
from sqlalchemy.orm import Session

from nagara.ledger import tiles
from nagara.ledger.merkle import HASH_SIZE, NodeIndex, node_hash, root_hash
from nagara.ledger.models import LogTile

__all__ = ["DatabaseTileStore", "FullTileCache", "StoredTile", "TileHashReader", "TileStore", "bundle_prefix", "tile_tree"]

TileKey = tuple[int, int]
StoredTile = tuple[int, bytes]
"""``(width, data)`` of the newest version of a tile position."""


class TileStore(Protocol):
    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, StoredTile]:
        """The stored ``(width, data)`` of each ``(level, index)`` that exists."""
        ...

    def write_tiles(self, created: Sequence[tuple[int, int, int, bytes]], grown: Sequence[tuple[int, int, int, bytes]]) -> None:
        """Store new tile positions and grow existing ones: ``(level, index, width, data)``."""
        ...


_TILES = cast("Table", LogTile.__table__)
_GROW = (
    update(_TILES)
    .where(_TILES.c.level == bindparam("b_level"), _TILES.c.idx == bindparam("b_idx"))
    .values(width=bindparam("b_width"), data=bindparam("b_data"))
)


class DatabaseTileStore:
    """Tiles in ``ledger_tiles``, read in one query per call and remembered for the session's use."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._known: dict[TileKey, StoredTile] = {}

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, StoredTile]:
        wanted = set(keys)
        missing = sorted(wanted - self._known.keys())
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            rows = self.session.execute(
                select(_TILES.c.level, _TILES.c.idx, _TILES.c.width, _TILES.c.data).where(
                    tuple_(_TILES.c.level, _TILES.c.idx).in_(chunk)
                )
            )
            for level, idx, width, data in rows:
                self._known[(level, idx)] = (width, bytes(data))
        return {k: self._known[k] for k in wanted if k in self._known}

    def write_tiles(self, created: Sequence[tuple[int, int, int, bytes]], grown: Sequence[tuple[int, int, int, bytes]]) -> None:
        if created:
            self.session.execute(insert(_TILES), [{"level": lv, "idx": n, "width": w, "data": d} for lv, n, w, d in created])
        if grown:
            self.session.execute(_GROW, [{"b_level": lv, "b_idx": n, "b_width": w, "b_data": d} for lv, n, w, d in grown])
        for lv, n, w, d in (*created, *grown):
            self._known[(lv, n)] = (w, d)


def bundle_prefix(data: bytes, width: int) -> bytes:
    """The first ``width`` entries of an entry bundle (a narrower, earlier version of it)."""
    pos = 0
    for _ in range(width):
        if pos + 2 > len(data):
            raise tiles.TileError("entry bundle is shorter than its width")
        pos += 2 + int.from_bytes(data[pos : pos + 2], "big")
    if pos > len(data):
        raise tiles.TileError("entry bundle ends inside an entry")
    return data[:pos]


TileTree = list[list[bytes]]
"""Every subtree hash inside one full tile: ``tree[k][i]`` is the hash over tile hashes ``[i * 2**k, (i + 1) * 2**k)``."""


def tile_tree(data: bytes) -> TileTree:
    tree = [[data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]]
    while len(tree[-1]) > 1:
        below = tree[-1]
        tree.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return tree


class FullTileCache:
    """Full hash tiles never change once committed: keep the subtree hashes of the recently used ones.

    Only readers of committed data (read-only units of work) may fill it.
    """

    def __init__(self, max_tiles: int = 1024) -> None:
        self.max_tiles = max_tiles
        self._tiles: OrderedDict[TileKey, TileTree] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: TileKey) -> TileTree | None:
        with self._lock:
            tree = self._tiles.get(key)
            if tree is not None:
                self._tiles.move_to_end(key)
            return tree

    def put(self, key: TileKey, tree: TileTree) -> None:
        with self._lock:
            self._tiles[key] = tree
            while len(self._tiles) > self.max_tiles:
                self._tiles.popitem(last=False)


class TileHashReader:
    """A ``merkle.HashReader`` over stored tiles, for a tree of ``size`` leaves."""

    def __init__(self, store: TileStore, size: int, cache: FullTileCache | None = None) -> None:
        self.store = store
        self.size = size
        self.cache = cache
        self._memo: dict[NodeIndex, bytes] = {}

    def _from_cache(self, tile: tiles.Tile, start: int, end: int) -> bytes | None:
        if self.cache is None or tile.width != tiles.TILE_WIDTH:
            return None
        tree = self.cache.get((tile.level, tile.index))
        if tree is None:
            return None
        k = (end - start).bit_length() - 1
        return tree[k][start >> k]

    def read_hashes(self, indexes: Sequence[NodeIndex]) -> list[bytes]:
        plan: list[tuple[NodeIndex, tiles.Tile, int, int]] = []
        for level, index in indexes:
            if (level, index) in self._memo:
                continue
            try:
                tile, start, end = tiles.tile_for_hash(level, index, self.size)
            except tiles.TileError as exc:
                raise LookupError(str(exc)) from None
            cached = self._from_cache(tile, start, end)
            if cached is not None:
                self._memo[(level, index)] = cached
            else:
                plan.append(((level, index), tile, start, end))
        stored = self.store.read_tiles({(t.level, t.index) for _, t, _, _ in plan})
        for node, tile, start, end in plan:
            width, data = stored.get((tile.level, tile.index), (0, b""))
            if width < tile.width:
                raise LookupError(f"tile {tile.path} is not stored (stored width {width})")
            cached = self._from_cache(tile, start, end)
            if cached is None and self.cache is not None and tile.width == tiles.TILE_WIDTH:
                self.cache.put((tile.level, tile.index), tile_tree(data))  # once per tile, then every node from it
                cached = self._from_cache(tile, start, end)
            if cached is not None:
                self._memo[node] = cached
            elif end - start == 1:
                self._memo[node] = data[start * HASH_SIZE : end * HASH_SIZE]
            else:
                self._memo[node] = root_hash([data[i * HASH_SIZE : (i + 1) * HASH_SIZE] for i in range(start, end)])
        return [self._memo[node] for node in indexes]
