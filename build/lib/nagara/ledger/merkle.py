"""RFC 9162 (RFC 6962) Merkle tree hashing, proofs, and an append-only hash store.

Stored hashes are addressed as ``(level, index)``: the hash at level ``L``, index
``N`` is the Merkle Tree Hash of the complete subtree over leaves
``[N * 2**L, (N + 1) * 2**L)``.  Level 0 holds the leaf hashes.  Every complete
subtree hash is stored (about two hashes per leaf), so C2SP tlog-tiles tiles are
plain reads of level ``8 * L`` and any proof needs only O(log n) stored hashes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Protocol

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "HashReader",
    "MemoryHashStore",
    "MerkleProofError",
    "NodeIndex",
    "StoredHash",
    "consistency_proof",
    "hashes_to_store",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "read_subtree_hashes",
    "root_from_inclusion_proof",
    "root_hash",
    "stored_consistency_proof",
    "stored_inclusion_proof",
    "stored_root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH of the empty tree: SHA-256 of the empty string."""

NodeIndex = tuple[int, int]
"""``(level, index)`` of a complete subtree hash."""

StoredHash = tuple[NodeIndex, bytes]


class MerkleProofError(ValueError):
    """A Merkle inclusion or consistency proof failed to verify."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (computed from scratch)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    # Pairing neighbours and promoting an unpaired last node unchanged yields
    # exactly the RFC tree, whose left subtree is always the largest power of 2.
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _split(size: int) -> int:
    """Largest power of two strictly smaller than ``size`` (``size >= 2``)."""
    return 1 << ((size - 1).bit_length() - 1)


def _check_size(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PATH(index, D[0:size]), leaf side first."""
    _check_size("index", index)
    if index >= size:
        raise ValueError(f"leaf index {index} is not below tree size {size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PROOF(old_size, D[0:new_size]) (RFC 9162 2.1.4.1)."""
    _check_size("old size", old_size)
    if old_size > new_size:
        raise ValueError(f"old size {old_size} exceeds new size {new_size}")
    if old_size in {0, new_size}:
        return []
    ranges: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, new_size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Inclusion proof for ``index`` in the tree over all of ``leaf_hashes``."""
    ranges = _inclusion_ranges(index, len(leaf_hashes))
    return [root_hash(leaf_hashes[lo:hi]) for lo, hi in ranges]


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Consistency proof from ``old_size`` to the tree over all of ``leaf_hashes``.

    Empty when ``old_size`` is 0 or equals the tree size (nothing to prove).
    """
    ranges = _consistency_ranges(old_size, len(leaf_hashes))
    return [root_hash(leaf_hashes[lo:hi]) for lo, hi in ranges]


def _check_hashes(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        if len(h) != HASH_SIZE:
            raise MerkleProofError(f"proof node {i} is {len(h)} bytes, not {HASH_SIZE}")


def root_from_inclusion_proof(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Root implied by an inclusion proof (RFC 9162 2.1.3.2 steps 1-5, minus the root check)."""
    if index < 0 or size < 0:
        raise MerkleProofError("leaf index and tree size must be non-negative")
    if index >= size:
        raise MerkleProofError(f"leaf index {index} is not below tree size {size}")
    # Policy from the transparency-dev vectors: a leaf hash is a SHA-256 digest.
    if len(leaf_hash) != HASH_SIZE:
        raise MerkleProofError(f"leaf hash is {len(leaf_hash)} bytes, not {HASH_SIZE}")
    _check_hashes(proof)
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise MerkleProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleProofError("inclusion proof is too short")
    return r


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Verify an inclusion proof; raise MerkleProofError unless it proves ``leaf_hash`` in ``root``."""
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if not hmac.compare_digest(computed, root):
        raise MerkleProofError("inclusion proof does not lead to the expected root hash")


def verify_consistency(
    old_size: int,
    new_size: int,
    proof: Sequence[bytes],
    old_root: bytes,
    new_root: bytes,
) -> None:
    """Verify a consistency proof per RFC 9162 2.1.4.2; raise MerkleProofError on failure.

    Policy from the transparency-dev vectors: a proof from size 0 is rejected
    (the empty tree is consistent with everything, so callers such as a witness
    must handle old size 0 themselves), and equal sizes need an empty proof and
    identical roots.
    """
    if old_size < 0 or new_size < 0:
        raise MerkleProofError("tree sizes must be non-negative")
    if new_size < old_size:
        raise MerkleProofError(f"new size {new_size} is smaller than old size {old_size}")
    if old_size == 0:
        raise MerkleProofError("a consistency proof from the empty tree is meaningless")
    if old_size == new_size:
        if proof:
            raise MerkleProofError("tree sizes are equal but the proof is not empty")
        if not hmac.compare_digest(old_root, new_root):
            raise MerkleProofError("tree sizes are equal but the root hashes differ")
        return
    if not proof:
        raise MerkleProofError("consistency proof is empty")
    _check_hashes(proof)
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a complete subtree, so its root is the path's start.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise MerkleProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleProofError("consistency proof is too short")
    if not hmac.compare_digest(fr, old_root):
        raise MerkleProofError("consistency proof does not lead to the old root hash")
    if not hmac.compare_digest(sr, new_root):
        raise MerkleProofError("consistency proof does not lead to the new root hash")


# --- append-only hash store -------------------------------------------------


class HashReader(Protocol):
    """Source of stored hashes; the database-backed store implements this."""

    def read_hashes(self, indexes: Sequence[NodeIndex]) -> list[bytes]:
        """Return the stored hash for each ``(level, index)``, in order.

        Raise LookupError if any of them is not stored.
        """
        ...


def _read(reader: HashReader, indexes: Iterable[NodeIndex]) -> dict[NodeIndex, bytes]:
    wanted = list(dict.fromkeys(indexes))
    if not wanted:
        return {}
    got = reader.read_hashes(wanted)
    if len(got) != len(wanted):
        raise ValueError(f"hash reader returned {len(got)} hashes for {len(wanted)} indexes")
    for idx, h in zip(wanted, got, strict=True):
        if len(h) != HASH_SIZE:
            raise ValueError(f"hash reader returned a {len(h)}-byte hash for {idx}")
    return dict(zip(wanted, got, strict=True))


def _edge_nodes(size: int) -> list[NodeIndex]:
    """Complete subtrees that make up a tree of ``size`` leaves, largest first."""
    return [(level, (size >> level) - 1) for level in reversed(range(size.bit_length())) if size >> level & 1]


def hashes_to_store(old_size: int, leaf_hashes: Sequence[bytes], reader: HashReader) -> list[StoredHash]:
    """Hashes to store when appending ``leaf_hashes`` to a tree of ``old_size`` leaves.

    Reads the old tree's right-edge subtree hashes (at most log2(old_size)
    of them, in one call) and returns every new complete subtree hash, in the
    order they are completed.
    """
    _check_size("old size", old_size)
    for i, h in enumerate(leaf_hashes):
        if len(h) != HASH_SIZE:
            raise ValueError(f"leaf hash {i} is {len(h)} bytes, not {HASH_SIZE}")
    if not leaf_hashes:
        return []
    edge = _edge_nodes(old_size)
    known = _read(reader, edge)
    # Left siblings still waiting for their right sibling, by level.
    waiting = {level: known[(level, index)] for level, index in edge}
    out: list[StoredHash] = []
    for offset, leaf in enumerate(leaf_hashes):
        pos = old_size + offset
        out.append(((0, pos), leaf))
        h, level = leaf, 0
        while pos >> level & 1:
            h = node_hash(waiting.pop(level), h)
            level += 1
            out.append(((level, pos >> level), h))
        waiting[level] = h
    return out


def _plan(lo: int, hi: int, need: list[NodeIndex]) -> None:
    size = hi - lo
    if size == 0:
        return
    if size & (size - 1) == 0 and lo % size == 0:
        level = size.bit_length() - 1
        need.append((level, lo >> level))
        return
    k = _split(size)
    _plan(lo, lo + k, need)
    _plan(lo + k, hi, need)


def _mth(lo: int, hi: int, known: dict[NodeIndex, bytes]) -> bytes:
    size = hi - lo
    if size == 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0 and lo % size == 0:
        level = size.bit_length() - 1
        return known[(level, lo >> level)]
    k = _split(size)
    return node_hash(_mth(lo, lo + k, known), _mth(lo + k, hi, known))


def read_subtree_hashes(ranges: Sequence[tuple[int, int]], reader: HashReader) -> list[bytes]:
    """MTH of each leaf range ``[lo, hi)``, with one batched read of stored hashes."""
    need: list[NodeIndex] = []
    for lo, hi in ranges:
        if not 0 <= lo <= hi:
            raise ValueError(f"invalid leaf range [{lo}, {hi})")
        _plan(lo, hi, need)
    known = _read(reader, need)
    return [_mth(lo, hi, known) for lo, hi in ranges]


def stored_root(size: int, reader: HashReader) -> bytes:
    """Root hash of the tree's first ``size`` leaves."""
    _check_size("tree size", size)
    return read_subtree_hashes([(0, size)], reader)[0]


def stored_inclusion_proof(index: int, size: int, reader: HashReader) -> list[bytes]:
    """Inclusion proof for leaf ``index`` in the tree of ``size`` leaves."""
    return read_subtree_hashes(_inclusion_ranges(index, size), reader)


def stored_consistency_proof(old_size: int, new_size: int, reader: HashReader) -> list[bytes]:
    """Consistency proof from ``old_size`` to ``new_size`` (empty if old size is 0 or equal)."""
    return read_subtree_hashes(_consistency_ranges(old_size, new_size), reader)


class MemoryHashStore:
    """In-memory HashReader that also tracks the tree size; for tests and tools."""

    def __init__(self) -> None:
        self.hashes: dict[NodeIndex, bytes] = {}
        self.size = 0
        self.reads = 0

    def read_hashes(self, indexes: Sequence[NodeIndex]) -> list[bytes]:
        self.reads += 1
        try:
            return [self.hashes[idx] for idx in indexes]
        except KeyError as exc:
            raise LookupError(f"no stored hash at (level, index) {exc.args[0]}") from None

    def append(self, leaf_hashes: Sequence[bytes]) -> list[StoredHash]:
        """Append leaves; return the hashes that were stored."""
        new = hashes_to_store(self.size, leaf_hashes, self)
        self.hashes.update(new)
        self.size += len(leaf_hashes)
        return new

    def root(self, size: int | None = None) -> bytes:
        return stored_root(self.size if size is None else self._bounded(size), self)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return stored_inclusion_proof(index, self.size if size is None else self._bounded(size), self)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return stored_consistency_proof(old_size, self.size if new_size is None else self._bounded(new_size), self)

    def _bounded(self, size: int) -> int:
        if size > self.size:
            raise ValueError(f"tree size {size} exceeds the stored size {self.size}")
        return size
