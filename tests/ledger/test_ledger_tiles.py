"""tlog-tiles paths, tile contents from stored hashes, entry bundles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nagara.ledger import merkle, tiles
from nagara.ledger.tiles import Tile, TileError

SETTINGS = settings(database=None, deadline=None, max_examples=200)


@pytest.mark.parametrize(
    ("tile", "path"),
    [
        (Tile(0, 0), "tile/0/000"),
        (Tile(0, 1234067), "tile/0/x001/x234/067"),
        (Tile(2, 1000, 1), "tile/2/x001/000.p/1"),
        (Tile(63, 999, 255), "tile/63/999.p/255"),
        (Tile(tiles.ENTRIES_LEVEL, 5, 112), "tile/entries/005.p/112"),
        (Tile(tiles.ENTRIES_LEVEL, 1000000), "tile/entries/x001/x000/000"),
    ],
)
def test_paths(tile: Tile, path: str) -> None:
    assert tile.path == path
    assert tiles.parse_tile_path(path) == tile


@pytest.mark.parametrize(
    "path",
    [
        "",
        "tile",
        "tile/0",
        "/tile/0/000",
        "tiles/0/000",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/entry/000",
        "tile/0/0",
        "tile/0/0000",
        "tile/0/x000/001",
        "tile/0/001/002",
        "tile/0/x01/002",
        "tile/0/x001/x02",
        "tile/0/000/",
        "tile/0//000",
        "tile/0/000.p",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/010",
        "tile/0/000.p/+5",
        "tile/0/000.p/5/6",
        "tile/0/000.q/5",
        "tile/0/x001.p/5",
        "tile/0/abc",
        "tile/0/\u0661\u0662\u0663",
    ],
)
def test_non_canonical_paths_rejected(path: str) -> None:
    with pytest.raises(TileError):
        tiles.parse_tile_path(path)


@SETTINGS
@given(
    st.integers(tiles.ENTRIES_LEVEL, tiles.MAX_LEVEL),
    st.integers(0, 10**15),
    st.integers(1, tiles.TILE_WIDTH),
)
def test_path_round_trip(level: int, index: int, width: int) -> None:
    tile = Tile(level, index, width)
    assert tiles.parse_tile_path(tile.path) == tile


@SETTINGS
@given(st.integers(0, 10**30))
def test_index_encoding(n: int) -> None:
    encoded = tiles.format_index(n)
    parts = encoded.split("/")
    assert len(parts[-1]) == 3
    assert all(len(p) == 4 for p in parts[:-1])
    assert int("".join(p.lstrip("x") for p in parts)) == n
    assert tiles.parse_tile_path(f"tile/0/{encoded}").index == n


def test_tile_validation() -> None:
    for bad in ((-2, 0, 1), (64, 0, 1), (0, -1, 1), (0, 0, 0), (0, 0, 257)):
        with pytest.raises(TileError):
            Tile(*bad)


def test_spec_example_sizes() -> None:
    # tlog-tiles: a tree of size 70,000.
    got = tiles.new_tiles(0, 70000)
    level0 = [t for t in got if t.level == 0]
    assert len([t for t in level0 if not t.is_partial]) == 273
    assert [t for t in level0 if t.is_partial] == [Tile(0, 273, 112)]
    assert [t for t in got if t.level == 1] == [Tile(1, 0), Tile(1, 1, 17)]
    assert [t for t in got if t.level == 2] == [Tile(2, 0, 1)]
    # A tree of size 256: a full level 0 tile and a partial level 1 tile.
    assert tiles.new_tiles(0, 256) == [Tile(0, 0), Tile(1, 0, 1)]
    assert tiles.new_tiles(0, 0) == []


def test_new_tiles_growth() -> None:
    assert tiles.new_tiles(10, 10) == []
    assert tiles.new_tiles(10, 20) == [Tile(0, 0, 20)]
    assert tiles.new_tiles(250, 600) == [Tile(0, 0), Tile(0, 1), Tile(0, 2, 88), Tile(1, 0, 2)]
    assert tiles.new_tiles(256, 300) == [Tile(0, 1, 44)]
    with pytest.raises(TileError):
        tiles.new_tiles(5, 4)


@settings(database=None, deadline=None, max_examples=100)
@given(st.integers(0, 1 << 40), st.integers(0, 1 << 17))
def test_new_tiles_matches_widths(old: int, delta: int) -> None:
    new = old + delta
    got = tiles.new_tiles(old, new)
    assert len(set(got)) == len(got)
    for t in got:
        assert t.width == tiles.tile_width(t.level, t.index, new)
        assert t.width > tiles.tile_width(t.level, t.index, old)
    # Every tile whose width changed is listed.
    for level in range(tiles.MAX_LEVEL + 1):
        count = new >> (8 * level)
        if not count:
            break
        for n in range((old >> (8 * level)) // 256, (count - 1) // 256 + 1):
            if tiles.tile_width(level, n, new) > tiles.tile_width(level, n, old):
                assert Tile(level, n, tiles.tile_width(level, n, new)) in got


def _store(n: int) -> tuple[list[bytes], merkle.MemoryHashStore]:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    store = merkle.MemoryHashStore()
    store.append(leaves)
    return leaves, store


def test_tile_contents_match_spec_definition() -> None:
    size = 256 * 256 + 300
    leaves, store = _store(size)
    for tile in tiles.new_tiles(0, size):
        data = tiles.read_tile(tile, store)
        assert len(data) == 32 * tile.width
        span = 256**tile.level
        for i in (0, tile.width - 1):
            start = (tile.index * 256 + i) * span
            want = merkle.root_hash(leaves[start : start + span])
            assert data[32 * i : 32 * i + 32] == want


@settings(database=None, max_examples=150, deadline=None)
@given(st.integers(1, 5000), st.data())
def test_tile_for_hash(size: int, data: st.DataObject) -> None:
    leaves, store = _cached_store()
    level = data.draw(st.integers(0, (size).bit_length() - 1), label="level")
    count = size >> level
    index = data.draw(st.integers(0, count - 1), label="index")
    tile, start, end = tiles.tile_for_hash(level, index, size)
    assert tile.width == tiles.tile_width(tile.level, tile.index, size)
    contents = tiles.read_tile(tile, store)
    want = merkle.root_hash(leaves[index << level : (index + 1) << level])
    assert tiles.hash_from_tile(contents, start, end) == want


_CACHE: dict[int, tuple[list[bytes], merkle.MemoryHashStore]] = {}


def _cached_store() -> tuple[list[bytes], merkle.MemoryHashStore]:
    if not _CACHE:
        _CACHE[0] = _store(5000)
    return _CACHE[0]


def test_tile_for_hash_errors() -> None:
    with pytest.raises(TileError, match="not complete"):
        tiles.tile_for_hash(1, 2, 5)
    with pytest.raises(TileError):
        tiles.tile_for_hash(-1, 0, 5)
    tile, start, end = tiles.tile_for_hash(8, 0, 256)
    assert (tile, start, end) == (Tile(1, 0, 1), 0, 1)
    assert tiles.tile_for_hash(3, 33, 300) == (Tile(0, 1, 44), 8, 16)


def test_hash_from_tile_errors() -> None:
    data = b"\x00" * 32 * 4
    for start, end in ((0, 3), (1, 3), (2, 6), (1, 1)):
        with pytest.raises(TileError):
            tiles.hash_from_tile(data, start, end)
    for bad in (b"", b"\x00" * 33, b"\x00" * 32 * 257):
        with pytest.raises(TileError):
            tiles.split_tile_hashes(bad)


def test_read_tile_rejects_entries_and_bad_readers() -> None:
    _, store = _store(10)
    with pytest.raises(TileError):
        tiles.read_tile(Tile(tiles.ENTRIES_LEVEL, 0, 10), store)
    with pytest.raises(LookupError):
        tiles.read_tile(Tile(0, 0, 11), store)


def test_tile_for_entry() -> None:
    assert tiles.tile_for_entry(0, 1) == (Tile(tiles.ENTRIES_LEVEL, 0, 1), 0)
    assert tiles.tile_for_entry(300, 70000) == (Tile(tiles.ENTRIES_LEVEL, 1), 44)
    assert tiles.tile_for_entry(69999, 70000) == (Tile(tiles.ENTRIES_LEVEL, 273, 112), 111)
    with pytest.raises(TileError):
        tiles.tile_for_entry(5, 5)


@settings(database=None, deadline=None, max_examples=100)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=256))
def test_entry_bundle_round_trip(entries: list[bytes]) -> None:
    data = tiles.encode_entry_bundle(entries)
    assert tiles.decode_entry_bundle(data) == entries
    assert tiles.decode_entry_bundle(data, width=len(entries)) == entries


def test_entry_bundle_format_and_errors() -> None:
    assert tiles.encode_entry_bundle([b"ab", b""]) == b"\x00\x02ab\x00\x00"
    assert tiles.decode_entry_bundle(b"\x00\x00") == [b""]
    big = b"x" * 0xFFFF
    assert tiles.decode_entry_bundle(tiles.encode_entry_bundle([big])) == [big]
    with pytest.raises(TileError):
        tiles.encode_entry_bundle([b"x" * 0x10000])
    with pytest.raises(TileError):
        tiles.encode_entry_bundle([])
    with pytest.raises(TileError):
        tiles.encode_entry_bundle([b""] * 257)
    for bad in (b"", b"\x00", b"\x00\x02a", b"\x00\x01a\x00", b"\x00\x00" * 257):
        with pytest.raises(TileError):
            tiles.decode_entry_bundle(bad)
    with pytest.raises(TileError, match="expected 3"):
        tiles.decode_entry_bundle(b"\x00\x00\x00\x00", width=3)
