"""JSON shapes of the ledger's helper endpoints (the tlog-tiles resources are bytes and text)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class InclusionProofOut(BaseModel):
    index: int
    size: int
    hashes: list[str] = Field(description="RFC 9162 inclusion proof, base64, from the leaf's sibling up")


class ConsistencyProofOut(BaseModel):
    from_size: int = Field(serialization_alias="from")
    to_size: int = Field(serialization_alias="to")
    hashes: list[str] = Field(description="RFC 9162 consistency proof, base64")


class EntryOut(BaseModel):
    index: int
    entry: dict[str, Any] = Field(description="The entry (its canonical JSON bytes are the log leaf)")
    leaf_hash: str = Field(description="RFC 9162 leaf hash of the entry, base64")
    proof: str = Field(description="C2SP tlog-proof against the published checkpoint; the entry is its extra data")


class SubjectEntriesOut(BaseModel):
    subject: str
    tree_size: int = Field(description="Size of the published checkpoint the proofs are against")
    checkpoint: str | None = Field(description="The published checkpoint, with witness cosignatures")
    entries: list[EntryOut]
    pending: int = Field(description="Entries for this subject not yet in the published tree")
