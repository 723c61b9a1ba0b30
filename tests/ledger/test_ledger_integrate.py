"""The integrator: consecutive indexes, tiles equal to an in-memory tree, signed and consistent checkpoints."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select, update
from tlog_scales import signing as ts_signing
from tlog_scales import tlog as ts_tlog

from nagara.ledger import checkpoint, integrator, merkle, service, tiles
from nagara.ledger.keys import LedgerMisconfigured
from nagara.ledger.models import LogEntry, LogTile, PendingEntry, SignedCheckpoint
from nagara.runtime import Runtime
from nagara.worker.runner import Worker
from tests.ledger.helpers import ORIGIN, append_entries, bulk_pending, checkpoints, integrate_all, integrate_once, log_vkey


def _index_of(rt: Runtime) -> dict[str, int]:
    with rt.db.unit_of_work(readonly=True) as s:
        return {subject: idx for idx, subject in s.execute(select(LogEntry.idx, LogEntry.subject))}


def test_the_first_run_signs_the_empty_tree(ledger: Runtime) -> None:
    result = integrate_once(ledger)
    assert (result.origin, result.size) == (ORIGIN, 0)
    assert result.checkpoint is not None
    cp, _ = checkpoint.open_checkpoint(result.checkpoint, [checkpoint.load_verifier(log_vkey(ledger))], origin=ORIGIN)
    assert (cp.size, cp.root_hash) == (0, merkle.EMPTY_ROOT)
    assert integrate_once(ledger).checkpoint is None  # nothing new: no new checkpoint


def test_consecutive_indexes_in_commit_order_and_idempotent_reruns(ledger: Runtime) -> None:
    subjects = append_entries(ledger, 350, "A", per_transaction=50)
    first = integrate_once(ledger, batch_size=100, max_seconds=60)
    assert (first.old_size, first.size, first.batches) == (0, 350, 4)
    more = append_entries(ledger, 30, "B")
    assert integrate_all(ledger, batch_size=100) == 380
    index = _index_of(ledger)
    assert sorted(index.values()) == list(range(380))  # consecutive, no gap, no repeat
    assert [index[s] for s in subjects + more] == list(range(380))  # in the order the entries were written
    with ledger.db.unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(PendingEntry)) == 0
    again = integrate_once(ledger, batch_size=100)
    assert (again.old_size, again.size, again.checkpoint) == (380, 380, None)
    assert [c.size for c in checkpoints(ledger)] == [350, 380]


def test_a_run_stops_at_its_time_budget_and_the_next_run_continues(ledger: Runtime) -> None:
    append_entries(ledger, 300, "T")
    ticks = iter(range(100))
    result = integrate_once(ledger, batch_size=100, max_seconds=1, clock=lambda: float(next(ticks)))
    assert (result.size, result.batches) == (100, 1)
    assert integrate_all(ledger, batch_size=100) == 300


def test_stored_tiles_and_bundles_equal_an_in_memory_tree(ledger: Runtime) -> None:
    # Growth steps cross level-0 and level-1 tile boundaries, leaving partial tiles at each step.
    memory = merkle.MemoryHashStore()
    bodies: list[bytes] = []
    for step in (1, 255, 300, 65000, 4444):
        bulk_pending(ledger, step, f"G{step}")
        integrate_all(ledger, batch_size=7000)
        with ledger.db.unit_of_work(readonly=True) as s:
            size = service.require_published(s, ledger.settings).size
            n = len(bodies)
            for t in range(n // 256, -(-size // 256)):
                width = tiles.tile_width(0, t, size)
                bundle = service.read_tile(s, ledger.settings, tiles.Tile(-1, t, width))
                assert bundle is not None
                got = tiles.decode_entry_bundle(bundle, width)
                bodies.extend(got[len(bodies) - t * 256 :])
            memory.append([merkle.leaf_hash(b) for b in bodies[n:]])
            assert memory.size == size
            published = service.require_published(s, ledger.settings)
            assert published.root_hash == memory.root()
            for tile in tiles.new_tiles(0, size):
                assert service.read_tile(s, ledger.settings, tile) == tiles.read_tile(tile, memory), tile.path
    assert memory.size == 70000
    # One row per tile position, holding its widest version.
    with ledger.db.unit_of_work(readonly=True) as s:
        rows = s.scalar(select(func.count()).select_from(LogTile))
    assert rows == len(list(tiles.new_tiles(0, 70000))) + 274


def test_checkpoints_verify_and_each_is_consistent_with_the_one_before(ledger: Runtime) -> None:
    for step in (3, 1, 300, 17):
        append_entries(ledger, step, f"C{step}")
        integrate_once(ledger)
    vkey = log_vkey(ledger)
    theirs = ts_signing.Vkey.from_string(vkey)
    signed = checkpoints(ledger)
    assert [c.size for c in signed] == [3, 4, 304, 321]
    with ledger.db.unit_of_work(readonly=True) as s:
        for older, newer in itertools.pairwise(signed):
            ours, _ = checkpoint.open_checkpoint(newer.note, [checkpoint.load_verifier(vkey)], origin=ORIGIN)
            assert (ours.size, ours.root_hash) == (newer.size, newer.root_hash)
            ts_tlog.Checkpoint.from_text(newer.note).verify(theirs)
            proof = service.consistency_proof(s, ledger.settings, older.size, newer.size)
            merkle.verify_consistency(older.size, newer.size, proof, older.root_hash, newer.root_hash)
            ts_tlog.ConsistencyProof(older.size, newer.size, proof).check(older.root_hash, newer.root_hash)


def test_the_job_runs_in_the_worker_every_second(ledger: Runtime) -> None:
    append_entries(ledger, 5, "W")
    Worker(ledger.db).run_once()
    assert [c.size for c in checkpoints(ledger)] == [5]


def test_a_log_never_changes_origin(ledger: Runtime) -> None:
    integrate_once(ledger)
    ledger.settings.ledger_origin = "ledger.other.example/v1"
    with pytest.raises(LedgerMisconfigured, match="never changes origin"):
        integrate_once(ledger)


def test_the_integrator_refuses_to_build_on_tampered_tiles(ledger: Runtime) -> None:
    append_entries(ledger, 10, "X")
    integrate_once(ledger)
    append_entries(ledger, 1, "Y")
    with ledger.db.unit_of_work() as s:
        data = s.scalar(select(LogTile.data).where(LogTile.level == 0, LogTile.idx == 0))
        assert data is not None
        s.execute(update(LogTile).where(LogTile.level == 0, LogTile.idx == 0).values(data=bytes(32) + data[32:]))
    with pytest.raises(integrator.LedgerCorrupt):
        integrate_once(ledger)
    with ledger.db.unit_of_work(readonly=True) as s:  # the failed run changed nothing
        assert s.scalar(select(func.max(SignedCheckpoint.size))) == 10
        assert s.scalar(select(func.count()).select_from(PendingEntry)) == 1


def test_a_run_that_hits_its_budget_queues_the_next_one_at_once(ledger: Runtime) -> None:
    ledger.settings.ledger_batch_size = 10
    ledger.settings.ledger_run_seconds = 1e-9  # every run stops after its first batch
    append_entries(ledger, 25, "F")
    worker = Worker(ledger.db)
    worker.run_once()
    assert [c.size for c in checkpoints(ledger)] == [10]
    worker.run_until_idle()  # the follow-up runs, without waiting for the next second's schedule
    assert [c.size for c in checkpoints(ledger)] == [10, 20, 25]
