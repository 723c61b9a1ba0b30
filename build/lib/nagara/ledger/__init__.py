"""Database-free core of the public transparency log (Merkle tree, notes, checkpoints, tiles, proofs)."""
