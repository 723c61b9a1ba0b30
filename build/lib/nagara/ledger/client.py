"""Checking a ledger from outside, with nothing but HTTP and the log's key.

``verify_log`` is what ``nagara ledger verify`` does: fetch the checkpoint, check
the log's signature (and a quorum of witness cosignatures when asked), check
consistency with the checkpoint seen last time (a proof computed from the served
tiles), rebuild the tree from the entry bundles, compare the root and the served
hash tiles, and remember the new checkpoint and the tree's right edge, so the
next run reads only the new entries. ``check_proof`` verifies a tlog-proof offline.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from nagara.ledger import entry as entries
from nagara.ledger import note, proof, tiles
from nagara.ledger.checkpoint import Checkpoint, CheckpointError, load_verifier, open_checkpoint
from nagara.ledger.merkle import (
    MerkleProofError,
    NodeIndex,
    StoredHash,
    hashes_to_store,
    leaf_hash,
    stored_consistency_proof,
    stored_root,
    verify_consistency,
)

__all__ = [
    "CheckedProof",
    "CompactRange",
    "HttpHashReader",
    "LogClient",
    "VerificationError",
    "VerifyReport",
    "check_proof",
    "log_prefix",
    "verify_log",
]


class VerificationError(Exception):
    """The log, checkpoint or proof failed a check; the message says which."""


def log_prefix(url: str) -> str:
    """The tlog-tiles prefix: a bare node address gets ``/ledger`` appended."""
    url = url.rstrip("/")
    if urlsplit(url).path in ("", "/"):
        url += "/ledger"
    return url


class LogClient:
    def __init__(self, http: httpx.Client, prefix: str) -> None:
        self.http = http
        self.prefix = log_prefix(prefix)

    def get(self, path: str) -> bytes:
        url = f"{self.prefix}/{path}"
        try:
            response = self.http.get(url)
        except httpx.HTTPError as exc:
            raise VerificationError(f"cannot fetch {url}: {exc}") from None
        if response.status_code != 200:
            raise VerificationError(f"{url} answered HTTP {response.status_code}")
        return response.content

    def checkpoint(self) -> str:
        return self.get("checkpoint").decode("utf-8", errors="replace")

    def vkey(self) -> str:
        return self.get("vkey").decode("utf-8", errors="replace").strip()

    def tile(self, tile: tiles.Tile) -> bytes:
        return self.get(tile.path)


class HttpHashReader:
    """A ``merkle.HashReader`` over served hash tiles, for a tree of ``size`` leaves."""

    def __init__(self, client: LogClient, size: int) -> None:
        self.client = client
        self.size = size
        self._tiles: dict[tiles.Tile, bytes] = {}

    def read_hashes(self, indexes: Sequence[NodeIndex]) -> list[bytes]:
        out = []
        for level, index in indexes:
            tile, start, end = tiles.tile_for_hash(level, index, self.size)
            if tile not in self._tiles:
                self._tiles[tile] = self.client.tile(tile)
            try:
                out.append(tiles.hash_from_tile(self._tiles[tile], start, end))
            except tiles.TileError as exc:
                raise VerificationError(f"served tile {tile.path} is malformed: {exc}") from None
        return out


class CompactRange:
    """The right edge of a tree (at most one hash per level): enough to extend it and compute its root."""

    def __init__(self, size: int = 0, edge: dict[NodeIndex, bytes] | None = None) -> None:
        self.size = size
        self.edge = dict(edge or {})

    def read_hashes(self, indexes: Sequence[NodeIndex]) -> list[bytes]:
        try:
            return [self.edge[i] for i in indexes]
        except KeyError as exc:
            raise LookupError(f"{exc.args[0]} is not on the right edge") from None

    def append(self, leaves: Sequence[bytes]) -> list[StoredHash]:
        new = hashes_to_store(self.size, leaves, self)
        self.size += len(leaves)
        keep = {(lv, (self.size >> lv) - 1) for lv in range(self.size.bit_length()) if self.size >> lv & 1}
        merged = {**self.edge, **dict(new)}
        self.edge = {k: v for k, v in merged.items() if k in keep}
        return new

    def root(self) -> bytes:
        return stored_root(self.size, self)


@dataclass
class VerifyReport:
    prefix: str
    origin: str
    size: int
    root_hash: bytes
    witnesses: list[str]
    previous_size: int | None
    entries_checked: int
    trusted_on_first_use: bool
    notes: list[str] = field(default_factory=list)


def _load_state(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise VerificationError(f"cannot read the state file {path}: {exc}") from None
    return state if isinstance(state, dict) else {}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    tmp.replace(path)


def _open(text: str, log_key: note.Ed25519Verifier, witness_keys: Sequence[note.Verifier]) -> tuple[Checkpoint, list[str]]:
    try:
        checkpoint, opened = open_checkpoint(text, [log_key, *witness_keys], origin=log_key.name)
    except (note.NoteError, CheckpointError) as exc:
        raise VerificationError(f"checkpoint rejected: {exc}") from None
    if not any((s.name, s.key_id) == (log_key.name, log_key.key_id) for s in opened.verified):
        raise VerificationError("the checkpoint carries no valid signature by the log's key")
    witnesses = [f"{s.name}+{s.key_id:08x}" for s in opened.verified if (s.name, s.key_id) != (log_key.name, log_key.key_id)]
    return checkpoint, witnesses


def verify_log(
    http: httpx.Client,
    url: str,
    *,
    vkey: str | None = None,
    witness_vkeys: Sequence[str] = (),
    quorum: int | None = None,
    state_path: Path | None = None,
    full: bool = False,
    check_tiles: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Verify a tlog-tiles log; raise VerificationError on the first failed check."""
    client = LogClient(http, url)
    state = _load_state(state_path)
    known: dict[str, Any] | None = state.get(client.prefix)
    tofu = False
    if vkey is None:
        if known is not None:
            vkey = str(known["vkey"])
        else:
            vkey, tofu = client.vkey(), True
    try:
        log_key = note.Ed25519Verifier.from_vkey(vkey)
        witness_keys = [load_verifier(v) for v in witness_vkeys]
    except note.NoteError as exc:
        raise VerificationError(f"unusable key: {exc}") from None
    if known is not None and known.get("vkey") != vkey:
        known = None  # a different log key: start over rather than trust an edge computed for another log
    needed = len(witness_keys) if quorum is None else quorum
    checkpoint, witnesses = _open(client.checkpoint(), log_key, witness_keys)
    if len(witnesses) < needed:
        raise VerificationError(f"the checkpoint has {len(witnesses)} valid witness cosignature(s); {needed} required")
    report = VerifyReport(client.prefix, checkpoint.origin, checkpoint.size, checkpoint.root_hash, witnesses, None, 0, tofu)

    compact = CompactRange()
    if known is not None:
        old_size, old_root = int(known["size"]), note.b64decode(known["root_hash"])
        report.previous_size = old_size
        if checkpoint.size < old_size:
            raise VerificationError(f"the log shrank: size {checkpoint.size} after {old_size} seen before")
        if old_size:
            path = stored_consistency_proof(old_size, checkpoint.size, HttpHashReader(client, checkpoint.size))
            try:
                verify_consistency(old_size, checkpoint.size, path, old_root, checkpoint.root_hash)
            except MerkleProofError as exc:
                raise VerificationError(f"not consistent with the checkpoint of size {old_size} seen before: {exc}") from None
        if not full and known.get("edge") is not None:
            compact = CompactRange(old_size, {(int(lv), int(i)): note.b64decode(h) for lv, i, h in known["edge"]})
            if compact.root() != old_root:
                raise VerificationError("the remembered tree edge does not give the remembered root; run with --full")

    report.entries_checked = _rebuild(client, compact, checkpoint.size, check_tiles, progress)
    if compact.root() != checkpoint.root_hash:
        raise VerificationError("the tree rebuilt from the entry bundles does not have the checkpoint's root hash")
    if state_path is not None:
        state[client.prefix] = {
            "vkey": vkey,
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root_hash": note.b64encode(checkpoint.root_hash),
            "checkpoint": checkpoint.format(),
            "edge": [[lv, i, note.b64encode(h)] for (lv, i), h in sorted(compact.edge.items())],
        }
        _save_state(state_path, state)
    return report


def _rebuild(
    client: LogClient, compact: CompactRange, size: int, check_tiles: bool, progress: Callable[[int, int], None] | None
) -> int:
    """Extend ``compact`` with the entries after its size up to ``size``, checking tiles on the way."""
    start = compact.size
    high: dict[tuple[int, int], bytes] = {}  # hashes at levels 8, 16, ... to compare with the served tiles
    for n in range(start // tiles.TILE_WIDTH, -(-size // tiles.TILE_WIDTH)):
        width = tiles.tile_width(0, n, size)
        bundle = tiles.Tile(tiles.ENTRIES_LEVEL, n, width)
        try:
            bodies = tiles.decode_entry_bundle(client.tile(bundle), width)
        except tiles.TileError as exc:
            raise VerificationError(f"entry bundle {bundle.path}: {exc}") from None
        skip = max(0, compact.size - n * tiles.TILE_WIDTH)
        for offset, body in enumerate(bodies[skip:], start=n * tiles.TILE_WIDTH + skip):
            try:
                entries.parse_entry(body)
            except entries.EntryError as exc:
                raise VerificationError(f"entry {offset} is malformed: {exc}") from None
        leaves = [leaf_hash(b) for b in bodies[skip:]]
        new = compact.append(leaves)
        if check_tiles:
            served = client.tile(tiles.Tile(0, n, width))
            if served[skip * 32 :] != b"".join(leaves):
                raise VerificationError(f"hash tile {tiles.Tile(0, n, width).path} does not match the entry bundle")
            high.update(((lv // 8, i), h) for (lv, i), h in new if lv and lv % 8 == 0)
        if progress is not None:
            progress(compact.size - start, size - start)
    if check_tiles:
        for tile in {tiles.Tile(lv, i // tiles.TILE_WIDTH, tiles.tile_width(lv, i // tiles.TILE_WIDTH, size)) for lv, i in high}:
            served = client.tile(tile)
            for i in range(tile.width):
                mine = high.get((tile.level, tile.index * tiles.TILE_WIDTH + i))
                if mine is not None and served[i * 32 : (i + 1) * 32] != mine:
                    raise VerificationError(f"hash tile {tile.path} does not match the tree rebuilt from the entries")
    return size - start


@dataclass(frozen=True)
class CheckedProof:
    index: int
    entry: entries.Entry
    checkpoint: Checkpoint
    witnesses: list[str]


def check_proof(
    text: str | bytes,
    *,
    vkey: str,
    witness_vkeys: Sequence[str] = (),
    quorum: int | None = None,
    entry_bytes: bytes | None = None,
    subject: str | None = None,
    content: dict[str, Any] | None = None,
    salt: bytes | None = None,
) -> CheckedProof:
    """Verify a tlog-proof offline: the log's signature, witnesses, inclusion, and optionally the entry's content."""
    try:
        parsed = proof.parse_proof(text)
    except proof.TlogProofError as exc:
        raise VerificationError(f"malformed proof: {exc}") from None
    body = entry_bytes if entry_bytes is not None else parsed.extra
    if not body:
        raise VerificationError("the proof carries no entry in its extra line; give the entry separately")
    needed = len(witness_vkeys) if quorum is None else quorum
    try:
        log_key = note.Ed25519Verifier.from_vkey(vkey)
        verified = proof.verify_proof(
            parsed, leaf_hash(body), [log_key], origin=log_key.name, witness_keys=list(witness_vkeys), min_witnesses=needed
        )
    except (proof.TlogProofError, note.NoteError) as exc:
        raise VerificationError(str(exc)) from None
    try:
        entry = entries.parse_entry(body)
    except entries.EntryError as exc:
        raise VerificationError(f"the logged entry is malformed: {exc}") from None
    if subject is not None and entry.subject != subject:
        raise VerificationError(f"the proof is for subject {entry.subject!r}, not {subject!r}")
    if content is not None:
        if salt is None:
            raise VerificationError("checking the content needs the entry's salt")
        if not entries.verify_content(entry, content, salt):
            raise VerificationError("the content and salt do not give the entry's content hash")
    witnesses = [f"{s.name}+{s.key_id:08x}" for s in verified.witness_signatures]
    return CheckedProof(verified.index, entry, verified.checkpoint, witnesses)
