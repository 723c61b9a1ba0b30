"""C2SP tlog-tiles: tile coordinates and paths, tile contents, entry bundles.

A hash tile at tile level ``L`` holds the Merkle hashes at merkle level
``8 * L``; entry bundles use tile level ``ENTRIES_LEVEL`` (-1) and mirror the
level-0 tiles.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from nagara.ledger.merkle import HASH_SIZE, HashReader, NodeIndex, root_hash

__all__ = [
    "ENTRIES_LEVEL",
    "MAX_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Tile",
    "TileError",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "format_index",
    "hash_from_tile",
    "new_tiles",
    "parse_tile_path",
    "read_tile",
    "split_tile_hashes",
    "tile_for_entry",
    "tile_for_hash",
    "tile_width",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_LEVEL = 63
ENTRIES_LEVEL = -1
MAX_ENTRY_SIZE = 0xFFFF

_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_INNER = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")


class TileError(ValueError):
    """Invalid tile coordinates, path, contents or entry bundle."""


@dataclass(frozen=True)
class Tile:
    """A tile (or, at level -1, an entry bundle): level, index and width (256 if full)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not ENTRIES_LEVEL <= self.level <= MAX_LEVEL:
            raise TileError(f"tile level out of range: {self.level}")
        if self.index < 0:
            raise TileError(f"tile index must be non-negative: {self.index}")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileError(f"tile width out of range: {self.width}")

    @property
    def is_entries(self) -> bool:
        return self.level == ENTRIES_LEVEL

    @property
    def is_partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``."""
        level = "entries" if self.is_entries else str(self.level)
        suffix = f".p/{self.width}" if self.is_partial else ""
        return f"tile/{level}/{format_index(self.index)}{suffix}"

    def hash_indexes(self) -> list[NodeIndex]:
        """Stored ``(level, index)`` hashes that make up this hash tile, in order."""
        if self.is_entries:
            raise TileError("an entry bundle is not made of stored hashes")
        level = self.level * TILE_HEIGHT
        first = self.index * TILE_WIDTH
        return [(level, first + i) for i in range(self.width)]


def format_index(n: int) -> str:
    """Encode a tile index as zero-padded 3-digit elements, all but the last ``x``-prefixed."""
    if n < 0:
        raise TileError(f"tile index must be non-negative: {n}")
    elements = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        elements.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(elements))


def parse_tile_path(path: str) -> Tile:
    """Parse a canonical ``tile/...`` path (no leading slash); raise TileError otherwise."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TileError(f"not a tile path: {path!r}")
    if parts[1] == "entries":
        level = ENTRIES_LEVEL
    elif _LEVEL.fullmatch(parts[1]) and int(parts[1]) <= MAX_LEVEL:
        level = int(parts[1])
    else:
        raise TileError(f"invalid tile level in {path!r}")
    elements = parts[2:]
    width = TILE_WIDTH
    if len(elements) >= 2 and elements[-2].endswith(".p"):
        if not _WIDTH.fullmatch(elements[-1]) or int(elements[-1]) >= TILE_WIDTH:
            raise TileError(f"invalid partial tile width in {path!r}")
        width = int(elements[-1])
        elements = [*elements[:-2], elements[-2][:-2]]
    *inner, last = elements
    if not _LAST.fullmatch(last) or not all(_INNER.fullmatch(e) for e in inner):
        raise TileError(f"invalid tile index in {path!r}")
    if inner and inner[0] == "x000":
        raise TileError(f"tile index has a leading zero element in {path!r}")
    index = 0
    for e in inner:
        index = index * 1000 + int(e[1:])
    index = index * 1000 + int(last)
    return Tile(level, index, width)


def tile_width(level: int, index: int, tree_size: int) -> int:
    """Width of tile ``(level, index)`` in a tree of ``tree_size`` leaves; 0 if it has no hashes yet."""
    level = max(level, 0)
    available = (tree_size >> (TILE_HEIGHT * level)) - index * TILE_WIDTH
    return max(0, min(TILE_WIDTH, available))


def tile_for_hash(level: int, index: int, tree_size: int) -> tuple[Tile, int, int]:
    """The tile from which stored hash ``(level, index)`` can be read at ``tree_size``.

    Returns ``(tile, start, end)``: the hash is the Merkle tree hash of the
    tile's hashes ``[start, end)`` (a single hash when ``level`` is a multiple
    of 8).
    """
    if level < 0 or index < 0:
        raise TileError("hash level and index must be non-negative")
    tile_level, sub = divmod(level, TILE_HEIGHT)
    first = index << sub
    tile_index, start = divmod(first, TILE_WIDTH)
    end = start + (1 << sub)
    width = tile_width(tile_level, tile_index, tree_size)
    if end > width:
        raise TileError(f"hash ({level}, {index}) is not complete in a tree of size {tree_size}")
    return Tile(tile_level, tile_index, width), start, end


def tile_for_entry(entry_index: int, tree_size: int) -> tuple[Tile, int]:
    """The entry bundle holding entry ``entry_index`` at ``tree_size``, and its offset."""
    if not 0 <= entry_index < tree_size:
        raise TileError(f"entry {entry_index} is not in a tree of size {tree_size}")
    n, offset = divmod(entry_index, TILE_WIDTH)
    return Tile(ENTRIES_LEVEL, n, tile_width(0, n, tree_size)), offset


def split_tile_hashes(data: bytes) -> list[bytes]:
    """Split hash tile contents into 32-byte hashes."""
    if not data or len(data) % HASH_SIZE or len(data) > TILE_WIDTH * HASH_SIZE:
        raise TileError(f"hash tile contents have an invalid length: {len(data)}")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def hash_from_tile(data: bytes, start: int, end: int) -> bytes:
    """Merkle hash of the complete subtree over tile hashes ``[start, end)``."""
    hashes = split_tile_hashes(data)
    size = end - start
    if size <= 0 or size & (size - 1) or start % size or end > len(hashes):
        raise TileError(f"[{start}, {end}) is not a complete subtree of a {len(hashes)}-hash tile")
    return root_hash(hashes[start:end])


def read_tile(tile: Tile, reader: HashReader) -> bytes:
    """Tile contents (concatenated hashes) built from stored hashes."""
    hashes = reader.read_hashes(tile.hash_indexes())
    if len(hashes) != tile.width or any(len(h) != HASH_SIZE for h in hashes):
        raise TileError(f"hash reader returned bad hashes for {tile.path}")
    return b"".join(hashes)


def new_tiles(old_size: int, new_size: int) -> list[Tile]:
    """Hash tiles that appear or grow when the tree grows from ``old_size`` to ``new_size``.

    Entry bundles match the level-0 tiles (same index and width).
    """
    if not 0 <= old_size <= new_size:
        raise TileError(f"invalid tree growth from {old_size} to {new_size}")
    out: list[Tile] = []
    level = 0
    while level <= MAX_LEVEL and new_size >> (TILE_HEIGHT * level):
        old_count = old_size >> (TILE_HEIGHT * level)
        new_count = new_size >> (TILE_HEIGHT * level)
        for n in range(old_count // TILE_WIDTH, -(-new_count // TILE_WIDTH)):
            width = tile_width(level, n, new_size)
            if width > tile_width(level, n, old_size):
                out.append(Tile(level, n, width))
        level += 1
    return out


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Concatenate entries, each prefixed with its big-endian uint16 length."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise TileError(f"an entry bundle holds 1 to {TILE_WIDTH} entries, not {len(entries)}")
    out = bytearray()
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise TileError(f"entry {i} is {len(entry)} bytes, over the {MAX_ENTRY_SIZE} limit")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def decode_entry_bundle(data: bytes, width: int | None = None) -> list[bytes]:
    """Split an entry bundle; if ``width`` is given the bundle must hold exactly that many."""
    entries: list[bytes] = []
    pos = 0
    while pos < len(data):
        if len(entries) == TILE_WIDTH:
            raise TileError(f"entry bundle holds more than {TILE_WIDTH} entries")
        if pos + 2 > len(data):
            raise TileError("entry bundle ends inside a length prefix")
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + length > len(data):
            raise TileError("entry bundle ends inside an entry")
        entries.append(data[pos : pos + length])
        pos += length
    if not entries:
        raise TileError("entry bundle is empty")
    if width is not None and len(entries) != width:
        raise TileError(f"entry bundle holds {len(entries)} entries, expected {width}")
    return entries
