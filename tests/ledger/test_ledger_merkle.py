"""Merkle tree: from-scratch vs incremental store, proof generation and verification."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nagara.ledger import merkle
from nagara.ledger.merkle import MemoryHashStore, MerkleProofError, NodeIndex

SETTINGS = settings(database=None, deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
BIG = 2100


def _leaf(i: int) -> bytes:
    return merkle.leaf_hash(f"entry {i}".encode())


@cache
def _leaves() -> tuple[bytes, ...]:
    return tuple(_leaf(i) for i in range(BIG))


@cache
def _store() -> MemoryHashStore:
    store = MemoryHashStore()
    store.append(_leaves())
    return store


@cache
def _root(size: int) -> bytes:
    return merkle.root_hash(_leaves()[:size])


def _recursive_mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.1 MTH, literally."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle.node_hash(_recursive_mth(leaves[:k]), _recursive_mth(leaves[k:]))


def _flip(b: bytes, bit: int = 0) -> bytes:
    return bytes([b[0] ^ (1 << bit)]) + b[1:]


def test_hash_primitives() -> None:
    assert merkle.EMPTY_ROOT.hex() == ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


@SETTINGS
@given(st.integers(0, 300))
def test_root_hash_matches_rfc_recursion(n: int) -> None:
    leaves = _leaves()[:n]
    assert merkle.root_hash(leaves) == _recursive_mth(leaves)


@SETTINGS
@given(st.integers(0, 3000), st.lists(st.integers(1, 700), max_size=12), st.data())
def test_incremental_store_matches_mth(n: int, batches: list[int], data: st.DataObject) -> None:
    leaves = [_leaf(i) for i in range(n)]
    store = MemoryHashStore()
    pos = 0
    for b in [*batches, n]:
        batch = leaves[pos : min(n, pos + b)]
        stored = store.append(batch)
        pos += len(batch)
        assert [idx for idx, _ in stored if idx[0] == 0] == [(0, i) for i in range(pos - len(batch), pos)]
        assert store.root() == merkle.root_hash(leaves[:pos])
        if pos == n:
            break
    assert store.size == n
    # Every complete subtree is stored exactly once: 2n - popcount(n) hashes.
    assert len(store.hashes) == 2 * n - n.bit_count()
    for size in data.draw(st.lists(st.integers(0, n), max_size=5)):
        assert store.root(size) == merkle.root_hash(leaves[:size])


def test_append_reads_only_the_right_edge() -> None:
    store = MemoryHashStore()
    store.append(list(_leaves()[:1000]))
    requested: list[list[NodeIndex]] = []
    original = store.read_hashes

    def spy(indexes: Sequence[NodeIndex]) -> list[bytes]:
        requested.append(list(indexes))
        return original(indexes)

    store.read_hashes = spy  # type: ignore[method-assign]
    store.append(list(_leaves()[1000:1100]))
    # One batched read of the subtrees for 1000 = 512 + 256 + 128 + 64 + 32 + 8.
    assert requested == [[(9, 0), (8, 2), (7, 6), (6, 14), (5, 30), (3, 124)]]
    assert store.root() == _root(1100)


def test_hashes_to_store_validates_input() -> None:
    store = MemoryHashStore()
    with pytest.raises(ValueError, match="is 5 bytes, not 32"):
        store.append([b"short"])
    assert store.size == 0
    with pytest.raises(ValueError):
        merkle.hashes_to_store(-1, [_leaf(0)], store)
    assert merkle.hashes_to_store(0, [], store) == []


def test_missing_and_bad_stored_hashes() -> None:
    store = MemoryHashStore()
    store.append(list(_leaves()[:5]))
    with pytest.raises(ValueError, match="exceeds"):
        store.root(6)
    with pytest.raises(LookupError):
        merkle.stored_root(6, store)

    class Short:
        def read_hashes(self, indexes: Sequence[NodeIndex]) -> list[bytes]:
            return [b"\x00" * 32] * (len(indexes) - 1)

    class Bad:
        def read_hashes(self, indexes: Sequence[NodeIndex]) -> list[bytes]:
            return [b"x"] * len(indexes)

    with pytest.raises(ValueError, match="returned 1 hashes"):
        merkle.stored_root(3, Short())
    with pytest.raises(ValueError, match="1-byte"):
        merkle.stored_root(3, Bad())


def test_proof_reads_are_batched() -> None:
    store = _store()
    before = store.reads
    store.inclusion_proof(1234, 2047)
    store.consistency_proof(1000, 2047)
    store.root(1999)
    assert store.reads - before == 3


@SETTINGS
@given(st.data())
def test_inclusion_proofs_verify(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, BIG), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    leaves, store, root = _leaves(), _store(), _root(size)
    proof = store.inclusion_proof(index, size)
    assert proof == merkle.inclusion_proof(leaves[:size], index)
    merkle.verify_inclusion(leaves[index], index, size, proof, root)
    assert merkle.root_from_inclusion_proof(leaves[index], index, size, proof) == root

    with pytest.raises(MerkleProofError):
        merkle.verify_inclusion(_flip(leaves[index]), index, size, proof, root)
    with pytest.raises(MerkleProofError):
        merkle.verify_inclusion(leaves[index], index, size, proof, _flip(root))
    with pytest.raises(MerkleProofError):
        merkle.verify_inclusion(leaves[index], index, size, [*proof, proof[0] if proof else root], root)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="tampered node")
        bit = data.draw(st.integers(0, 7), label="bit")
        bad = [*proof]
        bad[i] = _flip(bad[i], bit)
        with pytest.raises(MerkleProofError):
            merkle.verify_inclusion(leaves[index], index, size, bad, root)
        with pytest.raises(MerkleProofError):
            merkle.verify_inclusion(leaves[index], index, size, proof[:-1], root)
        with pytest.raises(MerkleProofError):
            merkle.verify_inclusion(leaves[index], index ^ 1, size, proof, root)


@SETTINGS
@given(st.data())
def test_consistency_proofs_verify(data: st.DataObject) -> None:
    new = data.draw(st.integers(1, BIG), label="new")
    old = data.draw(st.integers(1, new), label="old")
    leaves, store = _leaves(), _store()
    old_root, new_root = _root(old), _root(new)
    proof = store.consistency_proof(old, new)
    assert proof == merkle.consistency_proof(leaves[:new], old)
    merkle.verify_consistency(old, new, proof, old_root, new_root)

    with pytest.raises(MerkleProofError):
        merkle.verify_consistency(old, new, proof, _flip(old_root), new_root)
    with pytest.raises(MerkleProofError):
        merkle.verify_consistency(old, new, proof, old_root, _flip(new_root))
    with pytest.raises(MerkleProofError):
        merkle.verify_consistency(old, new, [*proof, new_root], old_root, new_root)
    # Size mutations are left to the fixed vectors: a proof alone does not
    # always pin the size (the (1, 3) proof also verifies as (1, 4) for the
    # same roots); checkpoints sign size and root together.
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="tampered node")
        bad = [*proof]
        bad[i] = _flip(bad[i], data.draw(st.integers(0, 7), label="bit"))
        with pytest.raises(MerkleProofError):
            merkle.verify_consistency(old, new, bad, old_root, new_root)
        with pytest.raises(MerkleProofError):
            merkle.verify_consistency(old, new, proof[:-1], old_root, new_root)
    else:
        assert old == new


def test_proof_generation_edges() -> None:
    leaves = list(_leaves()[:10])
    assert merkle.consistency_proof(leaves, 0) == []
    assert merkle.consistency_proof(leaves, 10) == []
    assert merkle.inclusion_proof(leaves[:1], 0) == []
    for bad_index in (-1, 10):
        with pytest.raises(ValueError):
            merkle.inclusion_proof(leaves, bad_index)
    with pytest.raises(ValueError):
        merkle.consistency_proof(leaves, 11)
    with pytest.raises(ValueError):
        merkle.inclusion_proof([], 0)


def test_verification_policies() -> None:
    leaves = list(_leaves()[:4])
    root = merkle.root_hash(leaves)
    proof = merkle.inclusion_proof(leaves, 2)
    with pytest.raises(MerkleProofError, match="non-negative"):
        merkle.verify_inclusion(leaves[2], -1, 4, proof, root)
    with pytest.raises(MerkleProofError, match="proof node"):
        merkle.verify_inclusion(leaves[2], 2, 4, [proof[0][:31], proof[1]], root)
    with pytest.raises(MerkleProofError, match="leaf hash"):
        merkle.verify_inclusion(leaves[2][:31], 2, 4, proof, root)
    # Size 0 is rejected even though the empty tree is consistent with anything.
    with pytest.raises(MerkleProofError, match="empty tree"):
        merkle.verify_consistency(0, 4, [], merkle.EMPTY_ROOT, root)
    merkle.verify_consistency(4, 4, [], root, root)
